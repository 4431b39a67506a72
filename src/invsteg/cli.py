"""The ``invsteg`` command line: thin commands over :mod:`invsteg.api`.

This is the one place where errors become exit codes: 0 ok, 1 payload problem,
2 usage or bad input, 130 interrupted. Messages go to stderr; ``--json`` data to stdout.
torch is imported inside commands only, so ``invsteg --help`` is instant.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from invsteg import __version__
from invsteg.errors import InvstegError, UsageError
from invsteg.registry import DEFAULT_MODEL

EXIT_INTERRUPTED = 130

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
    _stderr().print(message, markup=False)


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


def _version_callback(value: bool) -> None:
    if value:
        print(f"invsteg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Hide images and files in images with invertible neural networks."""


def _default_output(source: str, suffix: str) -> str:
    stem = "image" if source == "-" else Path(source).stem
    return f"{stem}.{suffix}.png"


def _check_stdio(inputs: list[str], output: str, as_json: bool) -> None:
    if inputs.count("-") > 1:
        raise UsageError("only one input can come from stdin ('-')")
    if output == "-" and as_json:
        raise UsageError("--json prints to stdout, so the image cannot go there too; give -o a file")


@app.command()
def hide(
    cover: Annotated[str, typer.Argument(help="Cover image (PNG, JPEG, ...), or - for stdin.")],
    secret: Annotated[str, typer.Argument(help="Secret image, or - for stdin. Any size: see below.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Stego image (PNG); - for stdout. Default: COVER.stego.png"),
    ] = None,
    model: ModelOption = DEFAULT_MODEL,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Allow a JPEG/WebP stego (the secret will not survive).")
    ] = False,
    tile: TileOption = 512,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hide SECRET inside COVER; the stego looks like COVER.

    A secret of another size is scaled, keeping its aspect ratio, into the largest box
    that fits the cover, centred on black; `reveal --size WxH` gives that size back.
    """
    from invsteg import api, fileio, imageio

    output = output or _default_output(cover, "stego")
    _check_stdio([cover, secret], output, as_json)
    image_format = imageio.output_format(output, allow_lossy=allow_lossy)
    fileio.check_output(output, force=force, inputs=(cover, secret))
    if image_format not in ("PNG", "BMP", "TIFF"):
        _say(f"warning: {image_format} is lossy; the secret will not survive in {output}")
    cover_image = imageio.read_image(cover, "cover")
    secret_image = imageio.read_image(secret, "secret")
    for notice in cover_image.notices + secret_image.notices:
        _say(f"note: {notice}")
    net = api.load_hiding_model(model, weights)
    result = api.hide(cover_image.pixels, secret_image.pixels, net=net, tile=tile)
    fileio.write_output(imageio.encode_image(result.stego, image_format), output, force=force)
    from invsteg.eval.metrics import psnr_np  # imports torch: only after the inputs were checked

    width, height = result.secret_size
    stego_psnr = psnr_np(result.stego, cover_image.pixels)
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
                "secret_size": [width, height],
                "secret_fitted": result.fitted,
                "stego_psnr_db": stego_psnr if math.isfinite(stego_psnr) else None,  # inf is not JSON
            }
        )
    elif output != "-":
        _say(f"wrote {output} (stego PSNR {stego_psnr:.2f} dB vs cover)")


def _parse_size(size: str | None) -> tuple[int, int] | None:
    if size is None:
        return None
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 640x480, got {size!r}") from None
    if width < 1 or height < 1:
        raise UsageError(f"--size must be positive, got {size!r}")
    return width, height


@app.command()
def reveal(
    stego: Annotated[str, typer.Argument(help="Stego image (PNG), or - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Revealed secret (PNG); - for stdout. Default: STEGO.secret.png"),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option("--size", help="The secret's original WxH, printed by `hide` when it was fitted."),
    ] = None,
    model: ModelOption = DEFAULT_MODEL,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Read a JPEG/WebP stego anyway (expect a damaged secret).")
    ] = False,
    tile: TileOption = 512,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reveal the secret image hidden in STEGO (use the same --model/--weights as `hide`)."""
    from invsteg import api, fileio, imageio

    output = output or _default_output(stego, "secret")
    _check_stdio([stego], output, as_json)
    secret_size = _parse_size(size)
    image_format = imageio.output_format(output, allow_lossy=True)
    fileio.check_output(output, force=force, inputs=(stego,))
    stego_image = imageio.read_image(stego, "stego")
    if stego_image.format in imageio.LOSSY_INPUT_FORMATS and not allow_lossy:
        raise UsageError(
            f"stego {stego} is {stego_image.format}: lossy compression destroyed the hidden image; "
            "reveal from the PNG that `hide` wrote (or pass --allow-lossy to try anyway)"
        )
    for notice in stego_image.notices:
        _say(f"note: {notice}")
    net = api.load_hiding_model(model, weights)
    revealed = api.reveal(stego_image.pixels, net=net, secret_size=secret_size, tile=tile)
    fileio.write_output(imageio.encode_image(revealed, image_format), output, force=force)
    if as_json:
        _emit_json({"secret": output, "size": [revealed.shape[1], revealed.shape[0]]})
    elif output != "-":
        _say(f"wrote {output}")


@app.command()
def models(as_json: JsonOption = False) -> None:
    """List the registered models, their size and measured quality."""
    from invsteg.registry import list_models
    from invsteg.weights import create_model

    rows = []
    for spec in list_models():
        parameters = sum(p.numel() for p in create_model(spec).parameters())
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
    limit: Annotated[int | None, typer.Option(help="Only the first N covers.")] = None,
    figure: Annotated[Path | None, typer.Option(help="Write a comparison strip of the worst pair.")] = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Measure stego and revealed-secret quality after saving the stego as 8-bit PNG
    (and as JPEG Q95, and with noise sigma 1/255): PSNR RGB and Y, SSIM, worst image."""
    import numpy as np
    from PIL import Image

    from invsteg import api, fileio, imageio
    from invsteg.eval.quality import evaluate_pair, summarize
    from invsteg.eval.quality import figure as draw_figure
    from invsteg.eval.views import VIEWS, apply_view

    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    if figure is not None:
        fileio.check_output(str(figure), force=force)
    cover_files = _image_files(covers)[:limit]
    secret_files = _image_files(secrets) if secrets else cover_files[1:] + cover_files[:1]
    net = api.load_hiding_model(model, weights)
    results = []
    for index, cover_file in enumerate(cover_files):
        secret_file = secret_files[index % len(secret_files)]
        pair = [
            imageio.read_image(str(f), role).pixels
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
        fileio.write_output(
            imageio.encode_image(np.asarray(draw_figure(worst)), "PNG"), str(figure), force=force
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

    if threads:
        torch.set_num_threads(threads)
    fields = json.loads(config.read_text()) if config else {}
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


@app.command("convert-weights")
def convert_weights(
    checkpoint: Annotated[Path, typer.Argument(help="Official HiNet checkpoint (.pt/.pth).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .safetensors file.")],
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Convert an official HiNet checkpoint into an invsteg weights file (use with --weights)."""
    from invsteg import fileio
    from invsteg.convert import convert_official_hinet

    fileio.check_output(str(output), force=force, inputs=(str(checkpoint),))
    summary = convert_official_hinet(checkpoint, output)
    if as_json:
        _emit_json(summary | {"output": str(output)})
    else:
        _say(f"wrote {output}: {summary}")


class Interrupted(InvstegError):
    """Ctrl-C. Raised from the SIGINT handler so click does not turn it into exit 1."""

    exit_code = EXIT_INTERRUPTED


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
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Damage IMAGE as a channel would (resize, blur, noise, JPEG, in that order), to test
    whether a hidden secret survives. A .jpg output with --jpeg is that JPEG file itself."""
    from invsteg import attacks, fileio, imageio

    if jpeg is None and noise is None and resize is None and blur is None:
        raise UsageError("name at least one attack: --jpeg, --noise, --resize or --blur")
    attacks.check_attacks(jpeg=jpeg, noise=noise, resize=resize, blur=blur)
    _check_stdio([image], output, as_json)
    image_format = imageio.output_format(output, allow_lossy=True)
    if image_format == "WEBP" or (image_format == "JPEG" and jpeg is None):
        raise UsageError(
            f"{output}: {image_format} would add a compression nobody asked for; "
            "write PNG, or give --jpeg Q to write that JPEG"
        )
    fileio.check_output(output, force=force, inputs=(image,))
    source = imageio.read_image(image, "input")
    for notice in source.notices:
        _say(f"note: {notice}")
    result = attacks.attack_image(source.pixels, jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)
    data = result.jpeg_bytes if image_format == "JPEG" else imageio.encode_image(result.pixels, image_format)
    fileio.write_output(data, output, force=force)
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
    raise Interrupted("interrupted")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every invsteg error to its exit code.

    Typer/click report usage errors themselves (exit 2); outputs are written atomically,
    so an error or Ctrl-C at any point leaves no partial file.
    """
    signal.signal(signal.SIGINT, _interrupt)
    try:
        app(args=argv, prog_name="invsteg")
    except InvstegError as exc:
        _say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
