"""``models``, ``eval``, ``train`` and ``convert-weights``: the zoo and the work behind it."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from invsteg.cli._app import (
    DEFAULT_MAX_PIXELS,
    DeviceOption,
    ForceOption,
    JsonOption,
    MaxPixelsOption,
    PrecisionOption,
    WeightsOption,
    app,
    check_model,
    emit_json,
    inputs,
    say,
)
from invsteg.errors import UsageError
from invsteg.zoo import DEFAULT_MODEL

CHANNEL_LABELS = {"png": "saved as PNG", "jpeg95": "saved as JPEG Q95", "noise1": "+ noise sigma 1/255"}


@app.command()
def models(as_json: JsonOption = False) -> None:
    """List the registered models, their size and measured quality."""
    from invsteg import api
    from invsteg.cli.flags import as_flags

    rows = [
        asdict(info) | {"quality": as_flags(info.quality), "description": as_flags(info.description)}
        for info in api.models()
    ]
    if as_json:
        emit_json({"models": rows})
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
    view: Annotated[
        str, typer.Option(help="center256, whole512 or full (see docs/design.md).")
    ] = "center256",
    model: Annotated[str, typer.Option("--model", "-m", help="Registered hiding model.")] = DEFAULT_MODEL,
    weights: WeightsOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N covers.")] = None,
    figure: Annotated[Path | None, typer.Option(help="Write a comparison strip of the worst pair.")] = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Measure stego and revealed-secret quality after saving the stego as 8-bit PNG
    (and as JPEG Q95, and with noise sigma 1/255): PSNR RGB and Y, SSIM, worst image.
    Hides as `hide` does (--device, --precision) and reveals as `reveal` does (fp32)."""
    import numpy as np
    from PIL import Image

    from invsteg import api
    from invsteg.eval.quality import evaluate_pair, summarize
    from invsteg.eval.quality import figure as draw_figure
    from invsteg.eval.views import VIEWS, apply_view
    from invsteg.io import files, images

    check_model(model)
    api.check_precision(precision)
    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    cover_files = _image_files(covers)[:limit]
    secret_files = _image_files(secrets) if secrets else cover_files[1:] + cover_files[:1]
    if figure is not None:
        files.check_output(str(figure), force=force, inputs=inputs(*cover_files, *secret_files, weights))
    net = api.load_hiding_model(model, weights, device=device)
    results = []
    for index, cover_file in enumerate(cover_files):
        secret_file = secret_files[index % len(secret_files)]
        cover, secret = (
            np.asarray(
                apply_view(
                    Image.fromarray(api.read_image(str(path), role, max_pixels=max_pixels).pixels), view
                )
            )
            for path, role in ((cover_file, "cover"), (secret_file, "secret"))
        )
        results.append(evaluate_pair(cover_file.name, cover, secret, net, precision=precision))
        if not as_json:
            r = results[-1]
            say(f"{cover_file.name}: stego {r.stego['psnr']:.2f} dB, secret {r.secret['png']['psnr']:.2f} dB")
    summary = summarize(results) | {"view": view, "model": str(weights) if weights else model}
    if figure is not None:
        worst = min(results, key=lambda r: r.secret["png"]["psnr"])
        files.write_output(
            images.encode_image(np.asarray(draw_figure(worst)), "PNG"), str(figure), force=force
        )
    if as_json:
        summary["per_image"] = [{"name": r.name, "stego": r.stego, "secret": r.secret} for r in results]
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.table import Table

    title = f"{summary['images']} images, view {summary['view']}, model {summary['model']}"
    table = Table("", "PSNR dB", "Y-PSNR dB", "SSIM", "worst PSNR dB (image)", "pattern, levels", title=title)
    rows = [("stego", "stego vs cover")] + [
        (f"secret_{c}", f"secret, stego {t}") for c, t in CHANNEL_LABELS.items()
    ]
    for key, label in rows:
        if key in summary:
            m, w = summary[key], summary[f"{key}_worst"]
            table.add_row(
                label,
                f"{m['psnr']:.2f}",
                f"{m['psnr_y']:.2f}",
                f"{m['ssim']:.4f}",
                f"{w['psnr']:.2f} ({w['name']})",
                f"{m['pattern']:.2f} (max {m['pattern_max']:.2f})" if "pattern" in m else "",
            )
    Console().print(table)


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
    threads: Annotated[int | None, typer.Option(min=1, help="torch CPU threads.")] = None,
    init: Annotated[
        Path | None, typer.Option(help="Start a new run from these weights (e.g. the shipped ones).")
    ] = None,
) -> None:
    """Train a registered model (resuming OUT if it holds a checkpoint)."""
    import torch

    from invsteg.train import TrainConfig, Trainer

    check_model(model)
    for folder, option in ((data, "--data"), (val, "--val")):
        if not folder.is_dir():
            raise UsageError(f"{option} {folder} is not a folder of images")
    if threads:
        torch.set_num_threads(threads)
    fields = _train_config(config)
    fields |= {"train_dir": str(data), "val_dir": str(val), "out_dir": str(out)}
    fields["model"] = model or fields.get("model", DEFAULT_MODEL)
    if steps is not None:
        fields["steps"] = steps
    if init is not None:
        fields["init_weights"] = str(init)
    try:
        train_config = TrainConfig.from_dict(fields)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"training config: {exc}") from None
    trainer = Trainer(train_config)
    if trainer.step:  # a resumed run keeps its stored config; only --steps may extend it
        say(f"resuming {out} at step {trainer.step}")
        if steps is not None:
            trainer.config.steps = steps
    max_seconds = None if minutes is None else 60 * minutes
    trainer.fit(export_to=export, progress=sys.stderr.isatty(), max_seconds=max_seconds)
    say(f"done: step {trainer.step}; log in {out / 'log.csv'}")


def _train_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    from invsteg.io import files
    from invsteg.train import TrainConfig

    text = files.read_bytes(str(path), "training config", limit=1 << 20)
    try:
        fields = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"training config {path} is not JSON: {exc}") from None
    try:
        TrainConfig.from_dict(fields)  # checked here so that a typo is one clear line
    except (TypeError, ValueError) as exc:
        raise UsageError(f"training config {path}: {exc}") from None
    return fields


@app.command("convert-weights")
def convert_weights(
    checkpoint: Annotated[
        Path, typer.Argument(help="Official HiNet or IRN checkpoint (.pt/.pth, e.g. IRN_x4.pth).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the .safetensors file.")],
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Convert an official HiNet or IRN checkpoint into an invsteg weights file (use with
    --weights; the format is recognised from the checkpoint's keys)."""
    from invsteg.io import files
    from invsteg.zoo.convert import convert_official

    files.check_output(str(output), force=force, inputs=(str(checkpoint),))
    summary = convert_official(checkpoint, output)
    if as_json:
        emit_json(summary | {"output": str(output)})
    else:
        say(f"wrote {output}: {summary}")
