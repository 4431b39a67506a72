"""The ``invsteg`` command line: thin commands over :mod:`invsteg.api`.

This is the one place where errors become exit codes: 0 ok, 1 payload problem,
2 usage or bad input (out of memory too), 70 internal error (a bug: ``--debug`` or
``INVSTEG_DEBUG=1`` shows its traceback), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Every error is one ``error:`` line and every Python warning one ``note:`` line on stderr;
``--json`` data goes to stdout. torch is imported inside commands only, so ``invsteg --help``
is instant.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from invsteg import __version__
from invsteg.errors import InvstegError, UsageError
from invsteg.zoo._registry import DEFAULT_MODEL

if TYPE_CHECKING:
    from invsteg.io.images import LoadedImage

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it; SIGTERM gives 128 + 15
EXIT_SOFTWARE = 70  # sysexits.h EX_SOFTWARE: an internal error, i.e. a bug
EXIT_OUT_OF_MEMORY = 2  # the input is too large for this machine: bad input, not a bug
DEBUG_ENV = "INVSTEG_DEBUG"
# Same value as images.DEFAULT_MAX_PIXELS, written out so the CLI's import stays light.
DEFAULT_MAX_PIXELS = 100_000_000
MAX_SIDE = 65535  # PNG and most decoders cap a side here; --size beyond it cannot be written
MiB = 1 << 20
# Far above any image's capacity (tens of MB at most): reject a runaway stdin or /dev/zero early.
PAYLOAD_BYTE_LIMIT = 256 * MiB
PASSPHRASE_FILE_LIMIT = 1 * MiB

app = typer.Typer(
    name="invsteg",
    help="Hide images and files in images with invertible neural networks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _say(message: str) -> None:
    _stderr().print(_printable(message), markup=False)


def _printable(text: str) -> str:
    """Control characters and undecodable bytes of file names shown escaped: a name with a
    newline must not forge a second message line, and surrogates cannot be printed at all."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode() for c in text
    )


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Registered model name (see `invsteg models`).")
]
WeightsOption = Annotated[
    Path | None,
    typer.Option(
        "--weights", help="A weights file (converted or self-trained); its architecture is read from it."
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]
TileOption = Annotated[int, typer.Option("--tile", min=64, help="Tile size in pixels; bounds memory.")]
# embed-file keeps about 41 bytes per pixel (latents, bit bookkeeping, the interleaver's
# order) beside the model: 50 MP stays under 3 GB; --max-pixels raises it knowingly.
EMBED_MAX_PIXELS = 50_000_000
MaxPixelsOption = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Refuse input images with more pixels than this (decompression bombs, memory).",
    ),
]


def _version_callback(value: bool) -> None:
    if value:
        print(f"invsteg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help=f"Show the traceback of an internal error (or set {DEBUG_ENV}=1)."),
    ] = False,
) -> None:
    """Hide images and files in images with invertible neural networks."""
    # --debug is read by main() from the command line itself: it acts outside this call.


def _debug_requested(args: list[str]) -> bool:
    """``--debug`` among the root options (before the command name), or ``$INVSTEG_DEBUG=1``."""
    if os.environ.get(DEBUG_ENV) == "1":
        return True
    root_options = []
    for arg in args:
        if not arg.startswith("-"):
            break
        root_options.append(arg)
    return "--debug" in root_options


def _default_output(source: str, suffix: str) -> str:
    stem = "image" if source == "-" else Path(source).stem
    return f"{stem}.{suffix}.png"


def _check_stdio(inputs: list[str], output: str, as_json: bool) -> None:
    # Path("") is ".", the current directory: say what is wrong instead of "is a directory".
    if "" in inputs:
        raise UsageError("an input is an empty file name (''); give a path, or - for stdin")
    if not output:
        raise UsageError("the output is an empty file name (''); give a path, or - for stdout")
    if inputs.count("-") > 1:
        raise UsageError("only one input can come from stdin ('-')")
    if output == "-" and as_json:
        raise UsageError("--json prints to stdout, so the image cannot go there too; give -o a file")


RobustOption = Annotated[
    bool,
    typer.Option(
        "--robust", help="Robust mode: 2 secrets per cover, revealed after JPEG, noise, resizing, blur."
    ),
]
MaybeModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help=f"Registered model (default: {DEFAULT_MODEL}, or robust with --robust)."
    ),
]


def _model_name(model: str | None, robust: bool) -> str:
    _check_model(model)
    return model or ("robust" if robust else DEFAULT_MODEL)


def _check_model(model: str | None) -> None:
    """``--model ''`` (an unset shell variable, say) must not silently mean the default."""
    if model is not None and not model.strip():
        raise UsageError("--model is empty; give a model name (see `invsteg models`) or leave it out")


def _inputs(*paths: str | Path | None) -> tuple[str, ...]:
    """Every file a command reads, for check_output: --force must never overwrite one."""
    return tuple(str(p) for p in paths if p is not None)


def _read_image(source: str, role: str, max_pixels: int) -> LoadedImage:
    """``images.read_image`` with the file's bytes capped too (see ``files.image_byte_limit``):
    the pixel limit is read from the header, and ``/dev/zero`` has none."""
    from invsteg.io import files, images

    limit = files.image_byte_limit(max_pixels)
    data = files.read_bytes(source, role, limit=limit, hint="raise --max-pixels if it is a real image")
    return images.decode_image(data, source, role, max_pixels=max_pixels)


@app.command()
def hide(
    cover: Annotated[str, typer.Argument(help="Cover image (PNG, JPEG, ...), or - for stdin.")],
    secrets: Annotated[
        list[str],
        typer.Argument(
            help="Secret image(s), one may be - for stdin; --robust takes 2. Any size: see below."
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Stego image (PNG); - for stdout. Default: COVER.stego.png"),
    ] = None,
    robust: RobustOption = False,
    model: MaybeModelOption = None,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Allow a JPEG/WebP stego (the secret will not survive).")
    ] = False,
    quality: Annotated[
        int, typer.Option("--quality", min=1, max=100, help="JPEG/WebP quality of a lossy stego (--robust).")
    ] = 90,
    tile: TileOption = 512,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hide SECRETS inside COVER; the stego looks like COVER.

    A secret of another size is scaled, keeping its aspect ratio, into the largest box
    that fits the cover, centred on black; `reveal --size WxH` gives that size back.
    With --robust, the stego may be saved as JPEG (`-o stego.jpg --quality 90`) and
    the secrets still come back.
    """
    from invsteg import api
    from invsteg.io import files, images

    model = _model_name(model, robust)
    output = output if output is not None else _default_output(cover, "stego")
    _check_stdio([cover, *secrets], output, as_json)
    if len(secrets) > 1 and not robust:
        raise UsageError(f"{len(secrets)} secrets given: only --robust hides several")
    image_format = images.output_format(output, allow_lossy=allow_lossy or robust)
    files.check_output(output, force=force, inputs=_inputs(cover, *secrets, weights))
    if image_format not in ("PNG", "BMP", "TIFF") and not robust:
        _say(f"warning: {image_format} is lossy; the secret will not survive in {output}")
    cover_image = _read_image(cover, "cover", max_pixels)
    secret_images = [_read_image(s, f"secret {i + 1}", max_pixels) for i, s in enumerate(secrets)]
    for notice in cover_image.notices + [n for s in secret_images for n in s.notices]:
        _say(f"note: {notice}")
    net = api.load_hiding_model(model, weights, robust=robust)
    if len(secrets) != (wanted := api.secrets_per_cover(net)):
        raise UsageError(f"this model hides {wanted} secret image(s) per cover; {len(secrets)} given")
    result = api.hide(cover_image.pixels, *(s.pixels for s in secret_images), net=net, tile=tile)
    data = images.encode_image(result.stego, image_format, quality)
    files.write_output(data, output, force=force)
    from invsteg.eval.metrics import psnr_np  # imports torch: only after the inputs were checked

    width, height = result.secret_size
    # A lossy stego is measured as written, not as computed.
    written = (
        result.stego
        if image_format in ("PNG", "BMP", "TIFF")
        else images.decode_image(data, output, "stego", max_pixels=None).pixels  # our own output
    )
    stego_psnr = psnr_np(written, cover_image.pixels)
    if result.fitted:
        _say(
            f"secret {width}x{height} fitted into {cover_image.size[0]}x{cover_image.size[1]}; "
            f"`invsteg reveal --size {width}x{height}` restores its size"
        )
    if as_json:
        _emit_json(
            {
                "stego": output,
                "model": str(weights) if weights else model,
                "size": list(cover_image.size),
                "secrets": len(secrets),
                "secret_size": [width, height],
                "secret_fitted": result.fitted,
                "stego_psnr_db": stego_psnr if math.isfinite(stego_psnr) else None,  # inf is not JSON
            }
        )
    elif output != "-":
        _say(f"wrote {output} (stego PSNR {stego_psnr:.2f} dB vs cover)")


def _parse_size(size: str | None, max_pixels: int) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 640x480, got {size!r}") from None
    if width < 1 or height < 1:
        raise UsageError(f"--size must be positive, got {size!r}")
    # The secret is resized to this before it is written: a typo must not allocate terabytes.
    if width > MAX_SIDE or height > MAX_SIDE:
        raise UsageError(f"--size {size}: each side must be at most {MAX_SIDE} pixels")
    if width * height > max_pixels:
        raise UsageError(
            f"--size {size} is {width * height:,} pixels, more than --max-pixels {max_pixels:,}; "
            "raise --max-pixels if it is right"
        )
    return width, height


def _secret_outputs(output: str | None, stego: str, count: int) -> list[str]:
    """One output per secret: ``{i}`` in OUTPUT is replaced by 1..count."""
    if output is None:
        stem = "image" if stego == "-" else Path(stego).stem
        return (
            [f"{stem}.secret.png"] if count == 1 else [f"{stem}.secret_{i}.png" for i in range(1, count + 1)]
        )
    if count == 1:
        return [output.replace("{i}", "1")]
    if "{i}" not in output:
        raise UsageError(f"this stego holds {count} secrets: put {{i}} in -o, e.g. -o 'secret_{{i}}.png'")
    return [output.replace("{i}", str(i)) for i in range(1, count + 1)]


@app.command()
def reveal(
    stego: Annotated[str, typer.Argument(help="Stego image (PNG), or - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Revealed secret (PNG); - for stdout; with several secrets a pattern with {i}. "
            "Default: STEGO.secret.png (STEGO.secret_{i}.png)",
        ),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option("--size", help="The secret's original WxH, printed by `hide` when it was fitted."),
    ] = None,
    robust: RobustOption = False,
    model: MaybeModelOption = None,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Read a JPEG/WebP stego anyway (expect a damaged secret).")
    ] = False,
    tile: TileOption = 512,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reveal the secret image(s) hidden in STEGO (use the same --model/--weights/--robust as `hide`)."""
    from invsteg import api
    from invsteg.io import files, images

    model = _model_name(model, robust)
    secret_size = _parse_size(size, max_pixels)
    net = None
    if robust:  # the number of outputs depends on the model
        net = api.load_hiding_model(model, weights, robust=True)
    outputs = _secret_outputs(output, stego, api.secrets_per_cover(net) if net else 1)
    for path in outputs:
        _check_stdio([stego], path, as_json)
        files.check_output(path, force=force, inputs=_inputs(stego, weights))
    if outputs.count("-") > 1:
        raise UsageError("several secrets cannot all go to stdout")
    formats = [images.output_format(path, allow_lossy=True) for path in outputs]
    stego_image = _read_image(stego, "stego", max_pixels)
    if stego_image.format in images.LOSSY_INPUT_FORMATS and not (allow_lossy or robust):
        raise UsageError(
            f"stego {stego} is {stego_image.format}: lossy compression destroyed the hidden image; "
            "reveal from the PNG that `hide` wrote (or pass --allow-lossy to try anyway)"
        )
    for notice in stego_image.notices:
        _say(f"note: {notice}")
    net = net or api.load_hiding_model(model, weights)
    revealed = api.reveal_all(stego_image.pixels, net=net, secret_size=secret_size, tile=tile)
    for pixels, path, image_format in zip(revealed, outputs, formats, strict=True):
        files.write_output(images.encode_image(pixels, image_format), path, force=force)
    if as_json:
        _emit_json(
            {
                "secrets": outputs,
                "secret": outputs[0],
                "size": [revealed[0].shape[1], revealed[0].shape[0]],
            }
        )
    elif "-" not in outputs:
        _say(f"wrote {', '.join(outputs)}")


@app.command()
def models(as_json: JsonOption = False) -> None:
    """List the registered models, their size and measured quality."""
    from invsteg.zoo._pretrained import random_model
    from invsteg.zoo._registry import list_models

    rows = []
    for spec in list_models():
        parameters = sum(p.numel() for p in random_model(spec).parameters())
        rows.append(
            {
                "name": spec.name,
                "task": spec.task,
                "parameters": parameters,
                "weights": spec.weights or "none shipped",
                "quality": spec.quality,
                "description": spec.description,
                "default": spec.name == DEFAULT_MODEL,
            }
        )
    if as_json:
        _emit_json({"models": rows})
        return
    from rich.table import Table

    table = Table("name", "task", "parameters", "weights", "quality", "description")
    for row in rows:
        name = row["name"] + (" (default)" if row["default"] else "")
        table.add_row(
            name, row["task"], f"{row['parameters']:,}", row["weights"], row["quality"], row["description"]
        )
    Console().print(table)


# -- embed-file, extract-file, capacity: any file in an image's colours (Steg-cINN) -------------

PASSPHRASE_ENV = "INVSTEG_PASSPHRASE"

EmbedModelOption = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Registered embedding model (default: the registry's; see `invsteg models`)."
    ),
]
PassphraseFileOption = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help=f"Read the passphrase from the first line of this file. Otherwise ${PASSPHRASE_ENV}, "
        "otherwise a hidden prompt on a terminal.",
    ),
]
NoPassphraseOption = Annotated[
    bool, typer.Option("--no-passphrase", help="No passphrase: no encryption, the payload is only whitened.")
]
NameOption = Annotated[
    str | None, typer.Option("--name", help="File name to store (default: FILE's base name; none for stdin).")
]


def _passphrase(passphrase_file: Path | None, no_passphrase: bool, *, embedding: bool) -> str | None:
    """The passphrase from ``--passphrase-file``, ``$INVSTEG_PASSPHRASE`` or a hidden prompt."""
    return _passphrase_and_source(passphrase_file, no_passphrase, embedding=embedding)[0]


def _passphrase_and_source(
    passphrase_file: Path | None, no_passphrase: bool, *, embedding: bool
) -> tuple[str | None, str]:
    """The passphrase (see :func:`_passphrase`) and where it came from, for error messages
    (never the passphrase itself).

    An empty answer at the prompt is refused: no encryption takes ``--no-passphrase`` (a typo
    must not silently skip it). Without a terminal and without a passphrase, embedding needs
    an explicit ``--no-passphrase``; extraction just tries without one.
    """
    if no_passphrase:
        if passphrase_file is not None:
            raise UsageError("--no-passphrase and --passphrase-file contradict each other; give one")
        return None, ""
    if passphrase_file is not None:
        return _passphrase_from_file(passphrase_file), f"--passphrase-file {passphrase_file}"
    if passphrase := os.environ.get(PASSPHRASE_ENV):
        return _utf8_passphrase(passphrase, f"${PASSPHRASE_ENV}"), f"${PASSPHRASE_ENV}"
    if sys.stdin.isatty():
        return _prompt_passphrase(embedding=embedding), "the prompt"
    if embedding:
        raise UsageError(
            f"no passphrase given: use --passphrase-file or ${PASSPHRASE_ENV}, "
            "or --no-passphrase to embed without encryption"
        )
    return None, ""


def _passphrase_from_file(path: Path) -> str:
    from invsteg.io import files

    # "./-": a file named "-", as before; stdin may be an image or the payload.
    source = f"./{path}" if str(path) == files.STDIO else str(path)
    data = files.read_bytes(source, "passphrase", allow_empty=True, limit=PASSPHRASE_FILE_LIMIT)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:  # the codec's message would quote bytes of the passphrase
        raise UsageError(f"passphrase file {path} is not UTF-8 text; save it as UTF-8") from None
    if not lines or not lines[0]:
        raise UsageError(f"passphrase file {path} is empty (the passphrase is its first line)")
    return lines[0]


def _utf8_passphrase(passphrase: str, where: str) -> str:
    """Refuse a passphrase that is not UTF-8 text (undecodable bytes arrive as surrogates).

    The payload layer derives its key from the NFC/UTF-8 passphrase, so such bytes have no
    key; guessing an encoding would make the same bytes open nothing elsewhere.
    """
    try:
        passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"the passphrase in {where} is not valid UTF-8; use UTF-8 text (or --passphrase-file)"
        ) from None
    return passphrase


def _prompt_passphrase(*, embedding: bool) -> str:
    without = "embed without encryption" if embedding else "extract a file embedded without one"
    try:
        answer = typer.prompt(
            "Passphrase",
            default="",  # so that an empty answer reaches the check below instead of re-asking
            show_default=False,
            hide_input=True,
            confirmation_prompt=embedding,
            err=True,
        )
    except typer.Abort:  # end of input (Ctrl-D); Ctrl-C raises Interrupted instead
        raise UsageError(
            f"no passphrase entered (end of input); to {without}, pass --no-passphrase"
        ) from None
    if not answer:
        raise UsageError(f"empty passphrase; to {without}, pass --no-passphrase")
    return _utf8_passphrase(answer, "the prompt")


def _embedding_spec(model: str | None) -> Any:
    from invsteg.errors import ModelError
    from invsteg.pipelines.embedding import default_embed_model
    from invsteg.zoo._registry import get_spec

    _check_model(model)
    spec = get_spec(model or default_embed_model())
    if spec.task != "embed":
        raise ModelError(f"model {spec.name!r} does not embed files; see `invsteg models` (task embed)")
    return spec


@app.command("embed-file")
def embed_file(
    cover: Annotated[str, typer.Argument(help="Cover image (PNG, JPEG, ...), or - for stdin.")],
    file: Annotated[str, typer.Argument(help="The file to hide: any bytes, may be empty; - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Stego image, lossless (PNG, BMP, TIFF); - for stdout. Default: COVER.stego.png",
        ),
    ] = None,
    name: NameOption = None,
    passphrase_file: PassphraseFileOption = None,
    no_passphrase: NoPassphraseOption = False,
    model: EmbedModelOption = None,
    weights: WeightsOption = None,
    max_rounds: Annotated[int, typer.Option(min=1, help="Verify-after-embed passes at most.")] = 8,
    max_pixels: MaxPixelsOption = EMBED_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hide FILE in the colours of COVER; `extract-file` recovers it bit-exact.

    The stego keeps the cover's lightness and, with the default model, its colour in 2x2
    blocks; the colour detail carries the file, error-corrected.
    `invsteg capacity COVER` tells how many bytes fit.
    """
    from invsteg.io import files, images
    from invsteg.pipelines import embedding

    output = output if output is not None else _default_output(cover, "stego")
    _check_stdio([cover, file], output, as_json)
    suffix = Path(output).suffix.lower()
    if output != "-" and suffix in images.LOSSY_FORMATS:
        raise UsageError(
            f"{output}: {images.LOSSY_FORMATS[suffix]} is lossy and would destroy the hidden file; write PNG"
        )
    image_format = images.output_format(output, allow_lossy=False)
    files.check_output(output, force=force, inputs=_inputs(cover, file, weights, passphrase_file))
    spec = _embedding_spec(model)
    cover_image = _read_image(cover, "cover", max_pixels)
    data = files.read_bytes(file, "file", allow_empty=True, limit=PAYLOAD_BYTE_LIMIT)
    stored_name = name if name is not None else ("" if file == "-" else Path(file).name)
    passphrase = _passphrase(passphrase_file, no_passphrase, embedding=True)
    for notice in cover_image.notices:
        _say(f"note: {notice}")
    net = embedding.load_embedding_model(spec.name, weights)
    stego, report = embedding.embed_file(
        cover_image.pixels,
        data,
        file_name=stored_name,
        passphrase=passphrase,
        model=net,
        wire_id=spec.wire_id,
        max_rounds=max_rounds,
    )
    files.write_output(images.encode_image(stego, image_format), output, force=force)
    if as_json:
        _emit_json(
            {
                "stego": output,
                "model": str(weights) if weights else spec.name,
                "size": [report["width"], report["height"]],
                "file_name": stored_name,
                "bytes": len(data),
                "encrypted": passphrase is not None,
            }
            | {key: report[key] for key in embedding.REPORT_KEYS}
        )
    elif output != "-":
        worst = f"{report['worst_codeword']} of {report['correctable']} correctable bytes"
        exact = (
            "every bit reads back"
            if report["exact"]
            else f"error correction repairs the rest (worst codeword: {worst})"
        )
        _say(
            f"wrote {output}: {len(data):,} of {report['capacity_bytes']:,} bytes, "
            f"{'encrypted' if passphrase is not None else 'not encrypted'}; "
            f"{report['rounds']} verify round(s), {exact}; stego PSNR {report['psnr_db'] or math.inf:.2f} dB"
        )


@app.command("extract-file")
def extract_file(
    stego: Annotated[str, typer.Argument(help="Stego image written by embed-file, or - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the file; - for stdout. Default: its stored name (made safe) "
            "in the current directory.",
        ),
    ] = None,
    passphrase_file: PassphraseFileOption = None,
    no_passphrase: NoPassphraseOption = False,
    model: EmbedModelOption = None,
    weights: WeightsOption = None,
    max_pixels: MaxPixelsOption = EMBED_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Recover the file hidden in STEGO by `embed-file`, bit-exact, or fail with one clear error.

    Without --model/--weights every shipped embedding model is tried, the default first;
    with them, only that one. A damaged stego never yields a wrong file.
    """
    from invsteg.errors import PayloadError
    from invsteg.io import files, images
    from invsteg.payload import PassphraseNotExpectedError, safe_file_name
    from invsteg.pipelines import embedding

    inputs = _inputs(stego, weights, passphrase_file)
    if output is not None:
        _check_stdio([stego], output, as_json)
        _check_terminal(output, force=force)
        files.check_output(output, force=force, inputs=inputs)
    spec = _embedding_spec(model)
    stego_image = _read_image(stego, "stego", max_pixels)
    passphrase, source = _passphrase_and_source(passphrase_file, no_passphrase, embedding=False)
    try:
        used = str(weights) if weights else spec.name
        if model is None and weights is None:
            unpacked, used = embedding.extract_file_any_model(stego_image.pixels, passphrase=passphrase)
        else:
            net = embedding.load_embedding_model(spec.name, weights)
            unpacked = embedding.extract_file(stego_image.pixels, passphrase=passphrase, model=net)
    except PassphraseNotExpectedError:
        unset = f"unset {PASSPHRASE_ENV} or " if source == f"${PASSPHRASE_ENV}" else ""
        raise PassphraseNotExpectedError(
            f"the payload is not encrypted, but a passphrase was given ({source}); "
            f"to extract it, {unset}pass --no-passphrase"
        ) from None
    except PayloadError as exc:
        if stego_image.format not in images.LOSSY_INPUT_FORMATS:
            raise
        raise type(exc)(
            f"{exc} (the stego is {stego_image.format}: lossy compression destroys the hidden "
            "file; extract from the PNG that embed-file wrote)"
        ) from None
    destination = output if output is not None else _extracted_name(safe_file_name(unpacked.file_name))
    if output is None:
        files.check_output(destination, force=force, inputs=inputs)
    # Private like any decrypted file: readable by its owner only, whatever the umask.
    files.write_output(unpacked.data, destination, force=force, mode=0o600)
    if as_json:
        _emit_json(
            {
                "output": destination,
                "model": used,
                "file_name": unpacked.file_name,
                "bytes": len(unpacked.data),
                "encrypted": unpacked.encrypted,
                "compressed": unpacked.compressed,
            }
        )
    elif destination != "-":
        renamed = (
            f" (stored as {unpacked.file_name!r})" if unpacked.file_name not in ("", destination) else ""
        )
        _say(f"wrote {destination}{renamed}: {len(unpacked.data):,} bytes")


def _check_terminal(output: str, *, force: bool) -> None:
    """Raw file bytes on a terminal garble it (and may hold escape sequences): ask for intent."""
    if output == "-" and sys.stdout.isatty() and not force:
        raise UsageError(
            "stdout is a terminal: redirect it (> FILE), give -o FILE, or pass --force to print the file"
        )


def _extracted_name(safe_name: str) -> str:
    """The stored name, shortened (extension kept) where this file system allows less."""
    from invsteg.io import files

    limit = files.name_max(Path("."))
    fitted = files.fit_name(safe_name, limit)
    if fitted != safe_name:
        size = len(safe_name.encode("utf-8"))
        _say(f"note: the stored name is {size} bytes, this file system allows {limit}: writing {fitted}")
    return fitted


@app.command()
def capacity(
    cover: Annotated[str, typer.Argument(help="Cover image, or - for stdin.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="One embedding model (default: every registered one).")
    ] = None,
    weights: WeightsOption = None,
    name: Annotated[
        str, typer.Option("--name", help="The file name that will be stored (it costs its UTF-8 length).")
    ] = "",
    no_passphrase: Annotated[
        bool, typer.Option("--no-passphrase", help="Capacity without encryption (44 bytes more).")
    ] = False,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    as_json: JsonOption = False,
) -> None:
    """How many bytes of any file COVER holds, net of header, encryption and error correction."""
    from invsteg.pipelines import embedding
    from invsteg.zoo._pretrained import random_model
    from invsteg.zoo._registry import list_models

    _check_model(model)
    cover_image = _read_image(cover, "cover", max_pixels)
    default = embedding.default_embed_model()
    # the default first: it is what embed-file uses without --model
    everything = sorted(list_models("embed"), key=lambda spec: spec.name != default)
    specs = [_embedding_spec(model)] if model or weights else everything
    rows = []
    for spec in specs:
        # Capacity depends on the architecture only, so no weights are needed (or loaded)
        # unless --weights names a model of its own.
        net = embedding.load_embedding_model(spec.name, weights) if weights else random_model(spec)
        info = embedding.capacity(cover_image.pixels, model=net, file_name=name, encrypted=not no_passphrase)
        rows.append({"model": str(weights) if weights else spec.name} | info)
    if as_json:
        _emit_json({"cover": cover, "size": list(cover_image.size), "models": rows})
        return
    for row in rows:
        kind = "encrypted" if row["encrypted"] else "not encrypted"
        label = f"{row['model']} (default)" if row["model"] == default else row["model"]
        _say(
            f"{label}: {row['net_bytes']:,} bytes ({row['bpp']:.3f} bits per pixel), {kind}, "
            f"after header and error correction, with a stored name of {row['file_name_bytes']} bytes"
        )


def _image_files(source: Path) -> list[Path]:
    from invsteg.train.data import image_paths

    if source.is_dir():
        try:
            return image_paths(source)
        except FileNotFoundError:
            raise UsageError(f"no images in {source}") from None
    if not source.exists():
        raise UsageError(f"not found: {source}")
    return [source]


@app.command("eval")
def evaluate(
    covers: Annotated[Path, typer.Argument(help="A cover image or a folder of them.")],
    secrets: Annotated[
        Path | None, typer.Argument(help="Secret image(s); default: cover i hides cover i+1.")
    ] = None,
    view: Annotated[str, typer.Option(help="center256, whole512 or full (see DESIGN.md).")] = "center256",
    model: ModelOption = DEFAULT_MODEL,
    weights: WeightsOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N covers.")] = None,
    figure: Annotated[Path | None, typer.Option(help="Write a comparison strip of the worst pair.")] = None,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Measure stego and revealed-secret quality after saving the stego as 8-bit PNG
    (and as JPEG Q95, and with noise sigma 1/255): PSNR RGB and Y, SSIM, worst image."""
    import numpy as np
    from PIL import Image

    from invsteg import api
    from invsteg.eval.quality import evaluate_pair, summarize
    from invsteg.eval.quality import figure as draw_figure
    from invsteg.eval.views import VIEWS, apply_view
    from invsteg.io import files, images

    _check_model(model)
    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    cover_files = _image_files(covers)[:limit]
    secret_files = _image_files(secrets) if secrets else cover_files[1:] + cover_files[:1]
    if figure is not None:
        files.check_output(str(figure), force=force, inputs=_inputs(*cover_files, *secret_files, weights))
    net = api.load_hiding_model(model, weights)
    results = []
    for index, cover_file in enumerate(cover_files):
        secret_file = secret_files[index % len(secret_files)]
        pair = [
            _read_image(str(f), role, max_pixels).pixels
            for f, role in ((cover_file, "cover"), (secret_file, "secret"))
        ]
        cover, secret = (np.asarray(apply_view(Image.fromarray(p), view)) for p in pair)
        results.append(evaluate_pair(cover_file.name, cover, secret, net))
        if not as_json:
            r = results[-1]
            _say(
                f"{cover_file.name}: stego {r.stego['psnr']:.2f} dB, secret {r.secret['png']['psnr']:.2f} dB"
            )
    summary = summarize(results) | {"view": view, "model": str(weights) if weights else model}
    if figure is not None:
        worst = min(results, key=lambda r: r.secret["png"]["psnr"])
        files.write_output(
            images.encode_image(np.asarray(draw_figure(worst)), "PNG"), str(figure), force=force
        )
    if as_json:
        summary["per_image"] = [{"name": r.name, "stego": r.stego, "secret": r.secret} for r in results]
        _emit_json(summary)
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(
        "",
        "PSNR dB",
        "Y-PSNR dB",
        "SSIM",
        "worst PSNR dB (image)",
        title=f"{summary['images']} images, view {summary['view']}, model {summary['model']}",
    )
    for key, label in [("stego", "stego vs cover")] + [
        (f"secret_{c}", f"secret, stego {text}") for c, text in CHANNEL_LABELS.items()
    ]:
        if key in summary:
            m, w = summary[key], summary[f"{key}_worst"]
            table.add_row(
                label,
                f"{m['psnr']:.2f}",
                f"{m['psnr_y']:.2f}",
                f"{m['ssim']:.4f}",
                f"{w['psnr']:.2f} ({w['name']})",
            )
    Console().print(table)


CHANNEL_LABELS = {"png": "saved as PNG", "jpeg95": "saved as JPEG Q95", "noise1": "+ noise sigma 1/255"}


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Folder of training images.")] = Path("../data/train"),
    val: Annotated[Path, typer.Option(help="Folder of validation images.")] = Path("../data/val"),
    out: Annotated[
        Path, typer.Option(help="Run folder: checkpoint, log.csv. An existing run resumes.")
    ] = Path("runs/hinet-small"),
    model: Annotated[
        str | None, typer.Option(help=f"Registered model (default: the config's, else {DEFAULT_MODEL}).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="JSON file of TrainConfig fields.")] = None,
    steps: Annotated[int | None, typer.Option(help="Total steps (overrides the config).")] = None,
    minutes: Annotated[
        float | None, typer.Option(help="Stop after this long; the lr schedule is fitted to it.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the best EMA weights here (sha256 recorded beside it).")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    init: Annotated[
        Path | None, typer.Option(help="Start a new run from these weights (e.g. the shipped ones).")
    ] = None,
) -> None:
    """Train a registered model (resuming OUT if it holds a checkpoint)."""
    import torch

    from invsteg.train import TrainConfig, Trainer

    _check_model(model)
    if threads:
        torch.set_num_threads(threads)
    fields = _train_config(config)
    fields |= {"train_dir": str(data), "val_dir": str(val), "out_dir": str(out)}
    fields["model"] = model or fields.get("model", DEFAULT_MODEL)
    if steps is not None:
        fields["steps"] = steps
    if init is not None:
        fields["init_weights"] = str(init)
    trainer = Trainer(TrainConfig.from_dict(fields))
    if trainer.step:  # a resumed run keeps its stored config; only --steps may extend it
        _say(f"resuming {out} at step {trainer.step}")
        if steps is not None:
            trainer.config.steps = steps
    max_seconds = None if minutes is None else 60 * minutes
    trainer.fit(export_to=export, progress=sys.stderr.isatty(), max_seconds=max_seconds)
    _say(f"done: step {trainer.step}; log in {out / 'log.csv'}")


def _train_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from invsteg.io import files

    text = files.read_bytes(str(path), "training config", limit=1 << 20)
    try:
        fields = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"training config {path} is not JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise UsageError(f"training config {path} must be a JSON object of TrainConfig fields")
    from invsteg.train import TrainConfig

    if unknown := sorted(set(fields) - set(TrainConfig.__dataclass_fields__)):
        raise UsageError(f"training config {path} has unknown fields {unknown}")
    return fields


@app.command("convert-weights")
def convert_weights(
    checkpoint: Annotated[Path, typer.Argument(help="Official HiNet checkpoint (.pt/.pth).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .safetensors file.")],
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Convert an official HiNet checkpoint into an invsteg weights file (use with --weights)."""
    from invsteg.io import files
    from invsteg.zoo.convert import convert_official_hinet

    files.check_output(str(output), force=force, inputs=(str(checkpoint),))
    summary = convert_official_hinet(checkpoint, output)
    if as_json:
        _emit_json(summary | {"output": str(output)})
    else:
        _say(f"wrote {output}: {summary}")


class Interrupted(InvstegError):
    """Ctrl-C or SIGTERM. Raised from the signal handler (not KeyboardInterrupt) so click
    does not turn it into "Aborted!" and exit 1; exits 128 + the signal, as a shell reports."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__("interrupted" if signum == signal.SIGINT else "terminated")
        self.exit_code = 128 + signum


@app.command()
def attack(
    image: Annotated[str, typer.Argument(help="Image to attack (PNG, JPEG, ...), or - for stdin.")],
    output: Annotated[
        str, typer.Option("--output", "-o", help="Attacked image: PNG, or .jpg with --jpeg; - for stdout.")
    ],
    jpeg: Annotated[int | None, typer.Option(help="JPEG quality 1..100 (applied last).")] = None,
    noise: Annotated[float | None, typer.Option(help="Gaussian noise sigma, 0..255 scale.")] = None,
    resize: Annotated[float | None, typer.Option(help="Scale in (0, 1]: bicubic down, then back up.")] = None,
    blur: Annotated[float | None, typer.Option(help="Gaussian blur sigma in pixels.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the noise.")] = 0,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Damage IMAGE as a channel would (resize, blur, noise, JPEG, in that order), to test
    whether a hidden secret survives. A .jpg output with --jpeg is that JPEG file itself."""
    from invsteg.io import files, images
    from invsteg.ops import attacks

    if jpeg is None and noise is None and resize is None and blur is None:
        raise UsageError("name at least one attack: --jpeg, --noise, --resize or --blur")
    attacks.check_attacks(jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)
    _check_stdio([image], output, as_json)
    image_format = images.output_format(output, allow_lossy=True)
    if image_format == "WEBP" or (image_format == "JPEG" and jpeg is None):
        raise UsageError(
            f"{output}: {image_format} would add a compression nobody asked for; "
            "write PNG, or give --jpeg Q to write that JPEG"
        )
    files.check_output(output, force=force, inputs=(image,))
    source = _read_image(image, "input", max_pixels)
    for notice in source.notices:
        _say(f"note: {notice}")
    result = attacks.attack_image(source.pixels, jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)
    data = result.jpeg_bytes if image_format == "JPEG" else images.encode_image(result.pixels, image_format)
    files.write_output(data, output, force=force)
    from invsteg.eval.metrics import psnr_np

    value = psnr_np(result.pixels, source.pixels)
    if as_json:
        settings = {"jpeg": jpeg, "noise": noise, "resize": resize, "blur": blur, "seed": seed}
        _emit_json(
            {"output": output, "attacks": settings, "psnr_db": value if math.isfinite(value) else None}
        )
    else:
        where = "" if output == "-" else f"; wrote {output}"
        _say(f"{', '.join(result.applied)}: PSNR {value:.2f} dB vs input{where}")


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _note_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    """A Python warning as one ``note:`` line, without the file and source line it came from."""
    _say(f"note: {_one_line(str(message))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every error to its exit code and one stderr line.

    Typer/click report usage errors themselves (exit 2); outputs are written atomically,
    so an error, Ctrl-C or SIGTERM at any point leaves no partial file.
    """
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    warnings.showwarning = _note_warning  # main exits afterwards: nothing to restore
    try:
        # standalone_mode=False: click's usage errors come here, to be one line like ours.
        sys.exit(app(args=args, prog_name="invsteg", standalone_mode=False) or 0)
    except InvstegError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Abort:
        _say("error: aborted")
        sys.exit(EXIT_INTERRUPTED)
    except typer.exceptions.TyperException as exc:  # click's usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `invsteg`: its help, as usual
            _stderr().print(exc.format_message(), markup=False)
        else:
            _say(f"error: {_one_line(exc.format_message())} (see invsteg {_command(args)}--help)")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # not raised on purpose: out of memory, or a bug
        if _debug_requested(args):
            traceback.print_exc()
        elif _out_of_memory(exc):
            _say(
                "error: out of memory: the input is too large for this machine; try a smaller image or --tile"
            )
        else:
            detail = f"{type(exc).__name__}: {_one_line(str(exc))[:500]}"
            _say(f"error: internal error: {detail} (run with --debug for the traceback)")
        sys.exit(EXIT_OUT_OF_MEMORY if _out_of_memory(exc) else EXIT_SOFTWARE)


def _command(args: list[str]) -> str:
    command = next((a for a in args if not a.startswith("-")), None)
    return f"{command} " if command in {c.name for c in typer.main.get_command(app).commands.values()} else ""


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocator failing (a RuntimeError, CUDA's included)."""
    text = str(exc)
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)
    )
