"""``hide``, ``reveal`` and ``attack``: images in images, and the channels they must survive."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from invsteg.cli._app import (
    DEFAULT_MAX_PIXELS,
    DeviceOption,
    ForceOption,
    JsonOption,
    MaxPixelsOption,
    ModelOption,
    PrecisionOption,
    TileOption,
    WeightsOption,
    app,
    check_model,
    check_stdio,
    default_output,
    emit_json,
    finite,
    inputs,
    notes,
    parse_size,
    say,
)
from invsteg.cli.batch import is_folder, output_folder, run_batch
from invsteg.cli.progress import long_work, tile_progress
from invsteg.errors import UsageError

RobustOption = Annotated[
    bool,
    typer.Option(
        "--robust", help="Robust mode: 2 secrets per cover, revealed after JPEG, noise, resizing, blur."
    ),
]


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
    model: ModelOption = None,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Allow a JPEG/WebP stego (the secret will not survive).")
    ] = False,
    quality: Annotated[
        int, typer.Option("--quality", min=1, max=100, help="JPEG/WebP quality of a lossy stego (--robust).")
    ] = 90,
    tile: TileOption = 512,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Hide SECRETS inside COVER; the stego looks like COVER.

    A secret of another size is scaled, keeping its aspect ratio, into the largest box
    that fits the cover, centred on black; `reveal --size WxH` gives that size back.
    With --robust, the stego may be saved as JPEG (`-o stego.jpg --quality 90`) and
    the secrets still come back. Folders work too: `hide covers/ secrets/ -o out/` pairs
    the images by sorted name and writes out/COVER.stego.png for each.
    """
    from invsteg import api
    from invsteg.io import files, images

    check_model(model)
    api.check_precision(precision)
    if is_folder(cover):
        options = _Options(model, weights, robust, tile, device, precision, max_pixels, force, as_json)
        _hide_folders(cover, secrets, output, options)
        return
    output = output if output is not None else default_output(cover, "stego")
    check_stdio([cover, *secrets], output, as_json)
    image_format = images.output_format(output, allow_lossy=allow_lossy or robust)
    files.check_output(output, force=force, inputs=inputs(cover, *secrets, weights))
    if image_format not in api.LOSSLESS and not robust:
        say(f"warning: {image_format} is lossy; the secret will not survive in {output}")
    cover_image = api.read_image(cover, "cover", max_pixels=max_pixels)
    secret_images = [
        api.read_image(s, f"secret {i + 1}", max_pixels=max_pixels) for i, s in enumerate(secrets)
    ]
    notes(cover_image, *secret_images)
    chosen = api.hiding_model_name(model, robust=robust, secrets=len(secrets))
    with long_work("hiding") as bar:
        stego = api.hide(
            cover_image.pixels,
            [s.pixels for s in secret_images],
            model=model,
            weights=weights,
            robust=robust,
            tile=tile,
            image_format=image_format,
            quality=quality,
            device=device,
            precision=precision,
            progress=tile_progress(bar),
        )
    files.write_output(stego.data, output, force=force)
    width, height = stego.secret_size
    if stego.fitted:
        say(
            f"secret {width}x{height} fitted into {cover_image.size[0]}x{cover_image.size[1]}; "
            f"`invsteg reveal --size {width}x{height}` restores its size"
        )
    if as_json:
        emit_json(
            {
                "stego": output,
                "model": str(weights) if weights else chosen,
                "size": list(cover_image.size),
                "secrets": len(secrets),
                "secret_size": [width, height],
                "secret_fitted": stego.fitted,
                "stego_psnr_db": finite(stego.psnr_db),
            }
        )
    elif output != "-":
        say(f"wrote {output} (stego PSNR {stego.psnr_db:.2f} dB vs cover)")
    if chosen == api.ROBUST_ONE and model is None and not weights:
        reveal = f"invsteg reveal --robust --model {api.ROBUST_ONE}"
        say(f"one secret: hidden with {api.ROBUST_ONE}; reveal with `{reveal}`")


@dataclass(frozen=True)
class _Options:
    """What a folder run takes from the command line, as the single-image path does."""

    model: str | None
    weights: Path | None
    robust: bool
    tile: int
    device: str
    precision: str
    max_pixels: int
    force: bool
    as_json: bool


def _hide_folders(covers: str, secrets: list[str], output: str | None, opt: _Options) -> None:
    from invsteg import api
    from invsteg.io import files

    if not all(is_folder(s) for s in secrets):
        raise UsageError("with a folder of covers, give a folder of secrets (per secret) too")
    cover_paths = files.image_files(covers, "cover folder")
    secret_paths = [files.image_files(folder, "secret folder") for folder in secrets]
    for folder, paths in zip(secrets, secret_paths, strict=True):
        if len(paths) != len(cover_paths):
            raise UsageError(
                f"{len(cover_paths)} covers in {covers} but {len(paths)} secrets in {folder}; "
                "they are paired by sorted name"
            )
    out = output_folder(output, "hide")
    name = (
        opt.model
        if opt.weights
        else api.hiding_model_name(opt.model, robust=opt.robust, secrets=len(secrets))
    )
    net = api.load_hiding_model(name, opt.weights, robust=opt.robust, device=opt.device)

    def hide_one(cover: Path, pair: tuple[Path, ...]) -> dict:
        destination = str(out / f"{cover.stem}.stego.png")
        files.check_output(destination, force=opt.force, inputs=inputs(cover, *pair, opt.weights))
        cover_image = api.read_image(str(cover), "cover", max_pixels=opt.max_pixels)
        secret_images = [api.read_image(str(s), "secret", max_pixels=opt.max_pixels) for s in pair]
        notes(cover_image, *secret_images)
        secret_pixels = [s.pixels for s in secret_images]
        stego = api.hide(cover_image.pixels, secret_pixels, net=net, tile=opt.tile, precision=opt.precision)
        files.write_output(stego.data, destination, force=opt.force)
        return {
            "stego": destination,
            "secrets": [str(s) for s in pair],
            "stego_psnr_db": finite(stego.psnr_db),
        }

    pairs = list(zip(*secret_paths, strict=True))
    jobs = [(str(c), partial(hide_one, c, pair)) for c, pair in zip(cover_paths, pairs, strict=True)]
    run_batch("hide", jobs, as_json=opt.as_json)


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
    model: ModelOption = None,
    weights: WeightsOption = None,
    allow_lossy: Annotated[
        bool, typer.Option("--allow-lossy", help="Read a JPEG/WebP stego anyway (expect a damaged secret).")
    ] = False,
    tile: TileOption = 512,
    device: DeviceOption = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="fp32, or bf16 / auto (bf16 where native): about 2x faster, the secret ~0.3 dB lower.",
        ),
    ] = "fp32",
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Reveal the secret image(s) hidden in STEGO (use the same --model/--weights/--robust as
    `hide`). A folder of stegos works too: `reveal stegos/ -o out/`."""
    from invsteg import api
    from invsteg.io import files, images

    check_model(model)
    api.check_precision(precision)
    secret_size = parse_size(size, max_pixels)
    if is_folder(stego):
        options = _Options(model, weights, robust, tile, device, precision, max_pixels, force, as_json)
        _reveal_folder(stego, output, secret_size, allow_lossy, options)
        return
    # the number of outputs depends on the model, so a robust one is loaded first
    net = api.load_hiding_model(model, weights, robust=True, device=device) if robust else None
    outputs = _secret_outputs(output, stego, api.secrets_per_cover(net) if net else 1)
    for path in outputs:
        check_stdio([stego], path, as_json)
        files.check_output(path, force=force, inputs=inputs(stego, weights))
    if outputs.count("-") > 1:
        raise UsageError("several secrets cannot all go to stdout")
    formats = [images.output_format(path, allow_lossy=True) for path in outputs]
    stego_image = api.read_image(stego, "stego", max_pixels=max_pixels)
    api.check_lossless_stego(stego_image, allow_lossy=allow_lossy or robust)
    notes(stego_image)
    with long_work("revealing") as bar:
        revealed = api.reveal(
            stego_image.pixels,
            model=model,
            weights=weights,
            net=net,
            secret_size=secret_size,
            tile=tile,
            device=device,
            precision=precision,
            progress=tile_progress(bar),
        )
    for pixels, path, image_format in zip(revealed, outputs, formats, strict=True):
        files.write_output(images.encode_image(pixels, image_format), path, force=force)
    if as_json:
        emit_json(
            {"secrets": outputs, "secret": outputs[0], "size": [revealed[0].shape[1], revealed[0].shape[0]]}
        )
    elif "-" not in outputs:
        say(f"wrote {', '.join(outputs)}")


def _reveal_folder(
    stegos: str, output: str | None, secret_size: tuple[int, int] | None, allow_lossy: bool, opt: _Options
) -> None:
    from invsteg import api
    from invsteg.io import files, images

    stego_paths = files.image_files(stegos, "stego folder")
    out = output_folder(output, "reveal")
    net = api.load_hiding_model(opt.model, opt.weights, robust=opt.robust, device=opt.device)
    count = api.secrets_per_cover(net)

    def reveal_one(stego: Path) -> dict:
        names = (
            [f"{stego.stem}.secret.png"]
            if count == 1
            else [f"{stego.stem}.secret_{i}.png" for i in range(1, count + 1)]
        )
        destinations = [str(out / name) for name in names]
        for destination in destinations:
            files.check_output(destination, force=opt.force, inputs=inputs(stego, opt.weights))
        stego_image = api.read_image(str(stego), "stego", max_pixels=opt.max_pixels)
        api.check_lossless_stego(stego_image, allow_lossy=allow_lossy or opt.robust)
        notes(stego_image)
        revealed = api.reveal(
            stego_image.pixels, net=net, secret_size=secret_size, tile=opt.tile, precision=opt.precision
        )
        for pixels, destination in zip(revealed, destinations, strict=True):
            files.write_output(images.encode_image(pixels, "PNG"), destination, force=opt.force)
        return {"secrets": destinations}

    run_batch("reveal", [(str(s), partial(reveal_one, s)) for s in stego_paths], as_json=opt.as_json)


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
    from invsteg import api
    from invsteg.io import files, images
    from invsteg.ops.quantize import psnr

    api.check_attacks(jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)  # before any reading
    check_stdio([image], output, as_json)
    image_format = images.output_format(output, allow_lossy=True)
    if image_format == "WEBP" or (image_format == "JPEG" and jpeg is None):
        raise UsageError(
            f"{output}: {image_format} would add a compression nobody asked for; "
            "write PNG, or give --jpeg Q to write that JPEG"
        )
    files.check_output(output, force=force, inputs=(image,))
    source = api.read_image(image, "input", max_pixels=max_pixels)
    notes(source)
    result = api.attack(source.pixels, jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)
    data = result.jpeg_bytes if image_format == "JPEG" else images.encode_image(result.pixels, image_format)
    files.write_output(data, output, force=force)
    value = psnr(result.pixels, source.pixels)
    if as_json:
        settings = {"jpeg": jpeg, "noise": noise, "resize": resize, "blur": blur, "seed": seed}
        emit_json({"output": output, "attacks": settings, "psnr_db": finite(value)})
    else:
        where = "" if output == "-" else f"; wrote {output}"
        say(f"{', '.join(result.applied)}: PSNR {value:.2f} dB vs input{where}")
