"""``embed-file``, ``extract-file`` and ``capacity``: any file in an image's colours (Steg-cINN)."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from invsteg.cli._app import (
    EMBED_MAX_PIXELS,
    DeviceOption,
    ForceOption,
    JsonOption,
    MaxPixelsOption,
    WeightsOption,
    app,
    check_file_model,
    check_stdio,
    check_terminal_output,
    default_output,
    emit_json,
    get_passphrase,
    inputs,
    notes,
    say,
)
from invsteg.cli.batch import RunOutputs, is_folder, output_folder, run_batch
from invsteg.cli.progress import long_work
from invsteg.errors import UsageError
from invsteg.io.passphrase import PASSPHRASE_ENV

if TYPE_CHECKING:
    import numpy as np

# Far above any image's capacity (tens of MB at most): reject a runaway stdin or /dev/zero early.
PAYLOAD_BYTE_LIMIT = 256 << 20

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
RobustOption = Annotated[
    bool,
    typer.Option(
        "--robust",
        help="Robust mode: the file survives JPEG recompression, resizing and noise (a chat app, "
        "a social network), in far fewer bytes than the default mode.",
    ),
]
CostOption = Annotated[
    str | None,
    typer.Option(
        "--cost",
        help="How the default method (payload format 3) picks the samples it changes: hill, "
        "hill-colour or hill-cmd (changes agree with their pixel's other channels and their "
        "neighbours). [default: hill-cmd]",
    ),
]
KdfLevelOption = Annotated[
    int | None,
    typer.Option(
        "--kdf-level",
        min=0,
        max=3,
        help="The passphrase's Argon2id cost, stored in the stego: 0 (64 MiB), 1 (128 MiB), "
        "2 (256 MiB), 3 (512 MiB); higher slows every guess, yours too. [default: 0]",
    ),
]
NameOption = Annotated[
    str | None, typer.Option("--name", help="File name to store (default: FILE's base name; none for stdin).")
]


@app.command("embed-file")
def embed_file(
    cover: Annotated[str, typer.Argument(help="Cover image (PNG, JPEG, ...), or - for stdin.")],
    file: Annotated[str, typer.Argument(help="The file to hide: any bytes, may be empty; - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Stego image, lossless (PNG, BMP, TIFF), or JPEG with --robust; - for stdout. "
            "Default: COVER.stego.png",
        ),
    ] = None,
    name: NameOption = None,
    passphrase_file: PassphraseFileOption = None,
    no_passphrase: NoPassphraseOption = False,
    model: EmbedModelOption = None,
    weights: WeightsOption = None,
    cost: CostOption = None,
    kdf_level: KdfLevelOption = None,
    max_rounds: Annotated[
        int, typer.Option(min=1, help="With --model: verify-after-embed passes at most.")
    ] = 8,
    robust: RobustOption = False,
    device: DeviceOption = "auto",
    jpeg: Annotated[
        int | None,
        typer.Option(
            "--jpeg",
            min=1,
            max=100,
            help="With --robust: the JPEG quality the stego must survive; the verify loop "
            "recompresses its own stego at it before writing. [default: 75]",
        ),
    ] = None,
    resize: Annotated[
        float | None,
        typer.Option(
            "--resize",
            min=0.1,
            max=1.0,
            help="With --robust: the smallest resize the stego must survive (0.5: half the width); "
            "the verify loop resizes its own stego so, alone and before the JPEG. Smaller costs "
            "more change. [default: 0.75]",
        ),
    ] = None,
    max_pixels: MaxPixelsOption = EMBED_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hide FILE in the colours of COVER; `extract-file` recovers it bit-exact.

    By default (payload format 3) some colour samples change by one level, where the
    photo's texture hides a change best (a syndrome-trellis code under HILL costs); no model
    runs. With --model a Steg-cINN model writes format 2 into its latents instead.
    `invsteg capacity COVER` tells how many bytes fit.

    With --robust the file goes into the lightness of cells across the image instead, and
    survives JPEG (at --jpeg and above), resizing (to --resize and larger) and noise;
    `capacity --robust` tells how many bytes fit, and -o may be a JPEG.
    """
    from invsteg import api
    from invsteg.io import files, outputs
    from invsteg.pipelines.adaptive import AdaptiveReport

    if is_folder(cover):
        raise UsageError(f"{cover} is a folder: embed-file hides one file in one cover; give a cover image")
    if not robust and (jpeg is not None or resize is not None):
        raise UsageError("--jpeg and --resize set what a robust stego survives; add --robust")
    check_file_model(robust=robust, model=model, weights=weights)
    if (cost is not None or kdf_level is not None) and (robust or model is not None or weights is not None):
        raise UsageError(
            "--cost and --kdf-level set the default method; leave out --model, --weights, --robust"
        )
    if cost is not None:
        _check_cost(cost)
    output = output if output is not None else default_output(cover, "stego")
    check_stdio([cover, file], output, as_json)
    kind = outputs.ROBUST_FILE_STEGO if robust else outputs.FILE_STEGO
    image_format = outputs.output_format(output, kind).name
    files.check_output(output, force=force, inputs=inputs(cover, file, weights, passphrase_file))
    with_model = model is not None or weights is not None
    spec = api.embedding_spec(model) if with_model else None
    cover_image = api.read_image(cover, "cover", max_pixels=max_pixels)
    data = files.read_bytes(file, "payload", allow_empty=True, limit=PAYLOAD_BYTE_LIMIT)
    stored_name = name if name is not None else ("" if file == "-" else Path(file).name)
    passphrase = get_passphrase(passphrase_file, no_passphrase, embedding=True).value
    notes(cover_image)
    if robust:
        quality = jpeg if jpeg is not None else api.ROBUST_JPEG_QUALITY
        scale = resize if resize is not None else api.ROBUST_RESIZE
        _embed_robust(
            cover_image.pixels,
            data,
            stored_name,
            passphrase,
            (quality, scale),
            image_format,
            output,
            force,
            as_json,
        )
        return
    with long_work("embedding") as bar:
        rounds = itertools.count(1)
        stego, report = api.embed_file(
            cover_image.pixels,
            data,
            file_name=stored_name,
            passphrase=passphrase,
            model=spec.name if spec is not None else None,
            weights=weights,
            cost=cost,
            kdf_level=kdf_level,
            max_rounds=max_rounds,
            image_format=image_format,
            device=device,
            progress=None
            if bar is None
            else lambda _, wrong: bar(next(rounds), None, f"{wrong} carriers still to settle"),
        )
    files.write_output(stego, output, force=force)
    used = None if spec is None else (str(weights) if weights else spec.name)
    if as_json:
        emit_json(
            {
                "stego": output,
                "method": api.ADAPTIVE if used is None else api.STEG_CINN,
                "model": used,
                "size": [report.width, report.height],
                "file_name": stored_name,
                "bytes": len(data),
                "encrypted": passphrase is not None,
            }
            | report.summary()
        )
    elif output != "-":
        changed = report.changed_samples / (3 * report.width * report.height)
        if isinstance(report, AdaptiveReport):
            how = f"{report.cost} costs, every bit reads back"
        else:
            exact = (
                "every bit reads back"
                if report.exact
                else f"error correction repairs the rest ({min(report.correction_used):.0%} of it used)"
            )
            how = f"{report.rounds} verify pass(es), {exact}"
        say(
            f"wrote {output}: {len(data):,} of {report.capacity_bytes:,} bytes, "
            f"{'encrypted' if passphrase is not None else 'not encrypted'}; "
            f"{changed:.2%} of colour samples changed by one level ({used or api.ADAPTIVE}), {how}; "
            f"stego PSNR {report.psnr_db or math.inf:.2f} dB"
        )
    if len(data) > report.safe_bytes:
        say(
            f"note: {len(data):,} bytes is more than this cover's safe size ({report.safe_bytes:,}); "
            "steganalysis tells such stegos from clean photos more often (README, How hidden is it?)"
        )


def _check_cost(cost: str) -> None:
    from invsteg.pipelines.adaptive import COSTS

    if cost not in COSTS:
        raise UsageError(f"--cost {cost!r}: choose one of {', '.join(COSTS)}")


def _embed_robust(
    cover: np.ndarray,
    data: bytes,
    stored_name: str,
    passphrase: str | None,
    survive: tuple[int, float],
    image_format: str,
    output: str,
    force: bool,
    as_json: bool,
) -> None:
    from invsteg import api
    from invsteg.io import files

    quality, scale = survive
    stego, report = api.embed_file_robust(
        cover,
        data,
        file_name=stored_name,
        passphrase=passphrase,
        jpeg_quality=quality,
        resize=scale,
        image_format=image_format,
    )
    files.write_output(stego, output, force=force)
    if as_json:
        emit_json(
            {
                "stego": output,
                "method": api.ROBUST_FILE,
                "model": None,
                "size": [report.width, report.height],
                "file_name": stored_name,
                "bytes": len(data),
                "encrypted": passphrase is not None,
                "jpeg_quality": quality,
                "resize": scale,
            }
            | asdict(report)
        )
    elif output != "-":
        worst = max(report.correction_used.values())
        say(
            f"wrote {output}: {len(data):,} of {report.capacity_bytes:,} bytes, robust, "
            f"{'encrypted' if passphrase is not None else 'not encrypted'}; verified after JPEG "
            f"quality {quality}, a {scale:g}x resize and both ({worst:.0%} of the error correction "
            f"used at worst); stego PSNR {report.psnr_db:.2f} dB"
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
    robust: Annotated[
        bool, typer.Option("--robust", help="Only look for a file hidden with embed-file --robust.")
    ] = False,
    device: DeviceOption = "auto",
    max_pixels: MaxPixelsOption = EMBED_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Recover the file hidden in STEGO by `embed-file`, bit-exact, or fail with one clear error.

    Without --model/--weights every shipped embedding model is tried, the default first,
    then the robust mode; with them, only that model. A damaged stego never yields a wrong
    file. A robust stego may have been recompressed or resized on the way.
    """
    from invsteg import api
    from invsteg.errors import PayloadError
    from invsteg.io import files, images
    from invsteg.payload import PassphraseNotExpectedError, safe_file_name

    read_from = inputs(stego, weights, passphrase_file)
    extract = partial(api.extract_file, weights=weights, robust=robust, device=device)
    check_file_model(robust=robust, model=model, weights=weights)
    if is_folder(stego):
        out = output_folder(output, "extract-file")
        spec = api.embedding_spec(model)
        passphrase = get_passphrase(passphrase_file, no_passphrase, embedding=False)
        chosen = spec.name if model is not None or weights is not None else None
        paths = files.image_files(stego, "stego folder")
        written = RunOutputs([*read_from, *map(str, paths)])

        def extract_one(path: Path) -> dict:
            stego_image = api.read_image(str(path), "stego", max_pixels=max_pixels)
            extracted = extract(stego_image.pixels, passphrase=passphrase.value, model=chosen)
            unpacked = extracted.unpacked
            destination = str(out / extracted_name(safe_file_name(unpacked.file_name), out))
            written.write(unpacked.data, destination, str(path), force=force, mode=0o600)
            return {"output": destination, "file_name": unpacked.file_name, "bytes": len(unpacked.data)}

        run_batch("extract-file", [(str(p), partial(extract_one, p)) for p in paths], as_json=as_json)
        return
    if output is not None:
        check_stdio([stego], output, as_json)
        check_terminal_output(output, force=force)
        files.check_output(output, force=force, inputs=read_from)
    spec = api.embedding_spec(model)
    stego_image = api.read_image(stego, "stego", max_pixels=max_pixels)
    passphrase = get_passphrase(passphrase_file, no_passphrase, embedding=False)
    try:
        chosen = spec.name if model is not None or weights is not None else None
        extracted = extract(stego_image.pixels, passphrase=passphrase.value, model=chosen)
    except PassphraseNotExpectedError:
        unset = f"unset {PASSPHRASE_ENV} or " if passphrase.from_environment else ""
        raise PassphraseNotExpectedError(
            f"the payload is not encrypted, but a passphrase was given ({passphrase.source}); "
            f"to extract it, {unset}pass --no-passphrase"
        ) from None
    except PayloadError as exc:
        if stego_image.format not in images.LOSSY_INPUT_FORMATS or robust:
            raise
        raise type(exc)(
            f"{exc} (the stego is {stego_image.format}: lossy compression destroys a file hidden "
            "without --robust; extract from the PNG that embed-file wrote)"
        ) from None
    unpacked = extracted.unpacked
    destination = output if output is not None else extracted_name(safe_file_name(unpacked.file_name))
    if output is None:
        files.check_output(destination, force=force, inputs=read_from)
    # Private like any decrypted file: readable by its owner only, whatever the umask.
    files.write_output(unpacked.data, destination, force=force, mode=0o600)
    if as_json:
        emit_json(
            {
                "output": destination,
                "method": extracted.method,
                "model": extracted.model,
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
        say(f"wrote {destination}{renamed}: {len(unpacked.data):,} bytes")


def extracted_name(safe_name: str, folder: Path = Path(".")) -> str:
    """The stored name, shortened (extension kept) where ``folder``'s file system allows less."""
    from invsteg.io import files

    limit = files.name_max(folder)
    fitted = files.fit_name(safe_name, limit)
    if fitted != safe_name:
        size = len(safe_name.encode("utf-8"))
        say(f"note: the stored name is {size} bytes, this file system allows {limit}: writing {fitted}")
    return fitted
