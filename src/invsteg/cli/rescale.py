"""``rescale down`` and ``rescale up``: IRN's invertible rescaling."""

from __future__ import annotations

from typing import Annotated

import typer

from invsteg.cli._app import (
    DEFAULT_MAX_PIXELS,
    DeviceOption,
    ForceOption,
    JsonOption,
    MaxPixelsOption,
    WeightsOption,
    app,
    check_model,
    check_stdio,
    default_output,
    emit_json,
    inputs,
    notes,
    parse_size,
    say,
)
from invsteg.cli.progress import long_work, tile_progress
from invsteg.errors import UsageError

DEFAULT_REFINE_PASSES = 8  # pipelines.rescaling's, without importing numpy for --help

rescale_app = typer.Typer(
    help="Shrink an image so that its own upscale restores it (IRN), and restore it.",
    no_args_is_help=True,
)
app.add_typer(rescale_app, name="rescale")

ScaleOption = Annotated[
    int | None,
    typer.Option("--scale", "-s", help="2 or 4: picks irn-x2-v2 or irn-x4 (default 2; up: the image's own)."),
]
RescaleModelOption = Annotated[
    str | None, typer.Option("--model", "-m", help="Registered rescaling model (see `invsteg models`).")
]
RescaleTileOption = Annotated[
    int | None,
    typer.Option("--tile", min=64, help="Tile of the large image in pixels (down records it for up)."),
]
AllowLossyOption = Annotated[
    bool, typer.Option("--allow-lossy", help="Allow JPEG/WebP (the restored image will be much worse).")
]


def _check_scale(scale: int | None) -> None:
    if scale is not None and scale not in (2, 4):
        raise UsageError(f"--scale must be 2 or 4, got {scale}")


@rescale_app.command()
def down(
    image: Annotated[str, typer.Argument(help="Image to shrink (PNG, JPEG, ...), or - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Small image (PNG); - for stdout. Default: IMAGE.down.png"),
    ] = None,
    scale: ScaleOption = None,
    model: RescaleModelOption = None,
    weights: WeightsOption = None,
    allow_lossy: AllowLossyOption = False,
    tile: RescaleTileOption = None,
    refine: Annotated[
        int,
        typer.Option(
            min=0,
            max=64,
            help="Passes of a search that tunes the small image's 8-bit levels for a sharper "
            "restore (~0.4 dB at 8; each pass costs about one upscale and its backward pass); 0: fastest.",
        ),
    ] = DEFAULT_REFINE_PASSES,
    device: DeviceOption = "auto",
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Shrink IMAGE 2x or 4x. The small image looks like a bicubic thumbnail and keeps what
    `invsteg rescale up` needs to restore IMAGE far better than any upscaler can; it is
    8-bit, so PNG keeps it whole. Sides that are not multiples of the scale are padded,
    and `up` crops them off again."""
    from invsteg import api
    from invsteg.io import files, images, outputs

    check_model(model)
    _check_scale(scale)
    output = output if output is not None else default_output(image, "down")
    check_stdio([image], output, as_json)
    image_format = outputs.output_format(output, outputs.SMALL_IMAGE, allow_lossy=allow_lossy).name
    files.check_output(output, force=force, inputs=inputs(image, weights))
    source = api.read_image(image, "image", max_pixels=max_pixels)
    notes(source)
    with long_work("rescale down") as bar:
        result = api.rescale_down(
            source.pixels,
            scale=scale,
            model=model,
            weights=weights,
            tile=tile or api.DEFAULT_RESCALE_TILE,
            refine=refine,
            device=device,
            progress=tile_progress(bar),
        )
    note = result.note
    assert note is not None  # down always makes one
    files.write_output(
        images.encode_image(result.pixels, image_format, text=note.to_text()), output, force=force
    )
    small_height, small_width = result.pixels.shape[:2]
    if result.padded:
        say(
            f"note: {note.width}x{note.height} padded to {small_width * note.scale}x"
            f"{small_height * note.scale} (a multiple of {note.scale}); `rescale up` crops it back"
        )
    if image_format != "PNG":
        say(
            f"note: {image_format} cannot keep the original size; give `rescale up --size "
            f"{note.width}x{note.height}`"
        )
    if as_json:
        emit_json(
            {
                "output": output,
                "model": note.model,
                "scale": note.scale,
                "size": [note.width, note.height],
                "small_size": [small_width, small_height],
                "padded": result.padded,
                "tile": note.tile,
            }
        )
    elif output != "-":
        say(f"wrote {output} ({small_width}x{small_height}, {note.scale}x smaller, {note.model})")


@rescale_app.command()
def up(
    image: Annotated[str, typer.Argument(help="Small image made by `rescale down`, or - for stdin.")],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Restored image (PNG); - for stdout. Default: IMAGE.up.png"),
    ] = None,
    scale: ScaleOption = None,
    model: RescaleModelOption = None,
    weights: WeightsOption = None,
    size: Annotated[
        str | None, typer.Option("--size", help="Crop the result to WxH (default: the size `down` recorded).")
    ] = None,
    temperature: Annotated[
        float,
        typer.Option(min=0.0, max=2.0, help="Draw the lost detail at this temperature (0: its mean)."),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the draw (--temperature > 0).")] = 0,
    allow_lossy: AllowLossyOption = False,
    tile: RescaleTileOption = None,
    device: DeviceOption = "auto",
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Restore the large image from IMAGE. Any image works, but only one that `rescale down`
    made comes back sharp; the model, scale, size and tiles are read from it."""
    from invsteg import api
    from invsteg.io import files, images, outputs

    check_model(model)
    _check_scale(scale)
    target_size = parse_size(size, max_pixels)
    output = output if output is not None else default_output(image, "up")
    check_stdio([image], output, as_json)
    image_format = outputs.output_format(output, outputs.RESTORED_IMAGE, allow_lossy=allow_lossy).name
    files.check_output(output, force=force, inputs=inputs(image, weights))
    # the upscale has scale**2 times the pixels: bound it before any work
    source = api.read_image(image, "image", max_pixels=max_pixels // 4)
    notes(source)
    note = api.RescaleNote.from_text(source.text)
    factor = scale or (note.scale if note else 2)
    if source.pixels.shape[0] * source.pixels.shape[1] * factor**2 > max_pixels:
        raise UsageError(
            f"upscaled {factor}x, {image} would have more than --max-pixels {max_pixels:,} pixels; "
            "raise --max-pixels if it is right"
        )
    if note is None:
        say(
            "note: this image was not made by `invsteg rescale down`: expect a plain upscale, "
            "not a restoration"
        )
    result = api.rescale_up(
        source.pixels,
        note=note,
        scale=scale,
        model=model,
        weights=weights,
        tile=tile,
        size=target_size,
        temperature=temperature,
        seed=seed,
        device=device,
    )
    files.write_output(images.encode_image(result.pixels, image_format), output, force=force)
    height, width = result.pixels.shape[:2]
    if as_json:
        emit_json(
            {
                "output": output,
                "model": str(weights) if weights else result.model,
                "size": [width, height],
                "made_by_rescale_down": note is not None,
            }
        )
    elif output != "-":
        say(f"wrote {output} ({width}x{height})")
