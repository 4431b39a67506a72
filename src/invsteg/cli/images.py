"""``hide``, ``reveal`` and ``attack``: images in images, and the channels they must survive."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from invsteg.cli.batch import check_planned_outputs, is_folder, output_folder, run_batch
from invsteg.cli.progress import long_work, tile_progress
from invsteg.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from invsteg.api import Stego
    from invsteg.io.images import LoadedImage
    from invsteg.models.contracts import ImageHider

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
    from invsteg.io import files, outputs

    check_model(model)
    api.check_precision(precision)
    run = _Hiding(model, weights, robust, len(secrets), tile, device, precision, max_pixels, force)
    if is_folder(cover):
        _hide_folders(cover, secrets, output, run, as_json)
        return
    output = output if output is not None else default_output(cover, "stego")
    check_stdio([cover, *secrets], output, as_json)
    kind = outputs.ROBUST_STEGO if robust else outputs.STEGO
    image_format = outputs.output_format(output, kind, allow_lossy=allow_lossy)
    files.check_output(output, force=force, inputs=inputs(cover, *secrets, weights))
    if image_format.warning:
        say(f"warning: {image_format.warning}")
    with long_work("hiding") as bar:
        cover_image, stego = run.hide_one(
            cover, secrets, output, image_format.name, quality, progress=tile_progress(bar)
        )
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
                "model": run.model_label,
                "size": list(cover_image.size),
                "secrets": len(secrets),
                "secret_size": [width, height],
                "secret_fitted": stego.fitted,
                "stego_psnr_db": finite(stego.psnr_db),
            }
        )
    elif output != "-":
        say(f"wrote {output} (stego PSNR {stego.psnr_db:.2f} dB vs cover)")
    if run.model_label == api.ROBUST_ONE and model is None and not weights:
        reveal = f"invsteg reveal --robust --model {api.ROBUST_ONE}"
        say(f"one secret: hidden with {api.ROBUST_ONE}; reveal with `{reveal}`")


@dataclass
class _Hiding:
    """One image or a folder of them, hidden the same way: the model is chosen and loaded
    once, by the library (:func:`invsteg.api.load_hiding_model`), for every cover."""

    model: str | None
    weights: Path | None
    robust: bool
    secrets: int
    tile: int
    device: str
    precision: str
    max_pixels: int
    force: bool
    _net: ImageHider | None = field(default=None, repr=False)

    @property
    def model_label(self) -> str:
        """What reports name: the weights file, else the registered model chosen."""
        from invsteg import api

        chosen = api.hiding_model_name(self.model, self.weights, robust=self.robust, secrets=self.secrets)
        return str(self.weights) if self.weights else str(chosen)

    def net(self) -> ImageHider:
        from invsteg import api

        if self._net is None:
            self._net = api.load_hiding_model(
                self.model, self.weights, robust=self.robust, secrets=self.secrets, device=self.device
            )
        return self._net

    def hide_one(
        self,
        cover: str,
        secrets: Sequence[str],
        destination: str,
        image_format: str = "PNG",
        quality: int = 90,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[LoadedImage, Stego]:
        """Read ``cover`` and ``secrets``, hide, write ``destination``."""
        from invsteg import api
        from invsteg.io import files

        cover_image = api.read_image(cover, "cover", max_pixels=self.max_pixels)
        secret_images = [
            api.read_image(s, f"secret {i + 1}", max_pixels=self.max_pixels) for i, s in enumerate(secrets)
        ]
        notes(cover_image, *secret_images)
        stego = api.hide(
            cover_image.pixels,
            [s.pixels for s in secret_images],
            net=self.net(),
            tile=self.tile,
            image_format=image_format,
            quality=quality,
            precision=self.precision,
            progress=progress,
        )
        files.write_output(stego.data, destination, force=self.force)
        return cover_image, stego


def _hide_folders(covers: str, secrets: list[str], output: str | None, run: _Hiding, as_json: bool) -> None:
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
    read = inputs(*cover_paths, *itertools.chain(*secret_paths), run.weights)
    check_planned_outputs([(str(c), str(out / f"{c.stem}.stego.png")) for c in cover_paths], read)
    run.net()  # a wrong model or weights is one error, not one per image

    def hide_one(cover: Path, pair: tuple[Path, ...]) -> dict:
        destination = str(out / f"{cover.stem}.stego.png")
        files.check_output(destination, force=run.force, inputs=read)
        _, stego = run.hide_one(str(cover), [str(s) for s in pair], destination)
        return {
            "stego": destination,
            "secrets": [str(s) for s in pair],
            "stego_psnr_db": finite(stego.psnr_db),
        }

    pairs = list(zip(*secret_paths, strict=True))
    jobs = [(str(c), partial(hide_one, c, pair)) for c, pair in zip(cover_paths, pairs, strict=True)]
    run_batch("hide", jobs, as_json=as_json)


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
    from invsteg.io import files, outputs

    check_model(model)
    api.check_precision(precision)
    secret_size = parse_size(size, max_pixels)
    run = _Revealing(
        model, weights, robust, secret_size, allow_lossy, tile, device, precision, max_pixels, force
    )
    if is_folder(stego):
        _reveal_folder(stego, output, run, as_json)
        return
    # the number of outputs depends on the model, so a robust one is loaded first
    destinations = _secret_outputs(output, stego, api.secrets_per_cover(run.net()) if robust else 1)
    for path in destinations:
        check_stdio([stego], path, as_json)
        files.check_output(path, force=force, inputs=inputs(stego, weights))
    if destinations.count("-") > 1:
        raise UsageError("several secrets cannot all go to stdout")
    formats = [outputs.output_format(path, outputs.SECRET).name for path in destinations]
    with long_work("revealing") as bar:
        revealed = run.reveal_one(stego, destinations, formats, progress=tile_progress(bar))
    if as_json:
        emit_json(
            {
                "secrets": destinations,
                "secret": destinations[0],
                "size": [revealed[0].shape[1], revealed[0].shape[0]],
            }
        )
    elif "-" not in destinations:
        say(f"wrote {', '.join(destinations)}")


@dataclass
class _Revealing:
    """One stego or a folder of them, revealed the same way with one model load."""

    model: str | None
    weights: Path | None
    robust: bool
    secret_size: tuple[int, int] | None
    allow_lossy: bool
    tile: int
    device: str
    precision: str
    max_pixels: int
    force: bool
    _net: ImageHider | None = field(default=None, repr=False)

    def net(self) -> ImageHider:
        from invsteg import api

        if self._net is None:
            self._net = api.load_hiding_model(
                self.model, self.weights, robust=self.robust, device=self.device
            )
        return self._net

    def reveal_one(
        self,
        stego: str,
        destinations: Sequence[str],
        formats: Sequence[str],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[np.ndarray]:
        """Read ``stego``, reveal its secrets, write them to ``destinations``."""
        from invsteg import api
        from invsteg.io import files, images

        stego_image = api.read_image(stego, "stego", max_pixels=self.max_pixels)
        api.check_lossless_stego(stego_image, allow_lossy=self.allow_lossy or self.robust)
        notes(stego_image)
        revealed = api.reveal(
            stego_image.pixels,
            net=self.net(),
            secret_size=self.secret_size,
            tile=self.tile,
            precision=self.precision,
            progress=progress,
        )
        for pixels, path, image_format in zip(revealed, destinations, formats, strict=True):
            files.write_output(images.encode_image(pixels, image_format), path, force=self.force)
        return revealed


def _reveal_folder(stegos: str, output: str | None, run: _Revealing, as_json: bool) -> None:
    from invsteg import api
    from invsteg.io import files

    stego_paths = files.image_files(stegos, "stego folder")
    out = output_folder(output, "reveal")
    count = api.secrets_per_cover(run.net())
    read = inputs(*stego_paths, run.weights)

    def destinations_of(stego: Path) -> list[str]:
        return [str(out / name) for name in _secret_outputs(None, str(stego), count)]

    check_planned_outputs([(str(s), d) for s in stego_paths for d in destinations_of(s)], read)

    def reveal_one(stego: Path) -> dict:
        destinations = destinations_of(stego)
        for destination in destinations:
            files.check_output(destination, force=run.force, inputs=read)
        run.reveal_one(str(stego), destinations, ["PNG"] * count)
        return {"secrets": destinations}

    run_batch("reveal", [(str(s), partial(reveal_one, s)) for s in stego_paths], as_json=as_json)


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
    from invsteg.io import files, images, outputs
    from invsteg.ops.quantize import psnr

    api.check_attacks(jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)  # before any reading
    check_stdio([image], output, as_json)
    kind = outputs.ATTACKED if jpeg is None else outputs.ATTACKED_AS_JPEG
    image_format = outputs.output_format(output, kind).name
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
