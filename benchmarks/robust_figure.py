"""Figure: what a robust stego looks like. Per val photo (whole512 view) and robust model:
cover, stego, the signed residual ``128 + gain * (stego - cover)`` at 1:1 in the centre
(grey = no change, so a stripe or checkerboard shows as one), and a 4x zoom of the same
64 px square (the flattest) of cover and stego; each stego's PSNR, SSIM-Y and strongest
pattern in the labels.

    python benchmarks/robust_figure.py                     # writes docs/robust_figure.png
    python benchmarks/robust_figure.py --models robust --count 2 --out /tmp/robust_figure.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from invsteg.eval.pattern import pattern_strength
from invsteg.eval.views import apply_view
from invsteg.ops.quantize import psnr
from invsteg.pipelines import hiding
from invsteg.train.data import image_paths, load_rgb
from stego_pattern import ssim_y

SIDE = 256
LABEL = 18
ZOOM = 4


def signed_residual(stego: np.ndarray, cover: np.ndarray, gain: float) -> np.ndarray:
    diff = stego.astype(np.float64) - cover.astype(np.float64)
    return np.clip(128 + gain * diff, 0, 255).astype(np.uint8)


def zoomed(pixels: np.ndarray, top: int, left: int) -> Image.Image:
    square = pixels[top : top + SIDE // ZOOM, left : left + SIDE // ZOOM]
    return Image.fromarray(square).resize((SIDE, SIDE), Image.Resampling.NEAREST)


def centre(pixels: np.ndarray) -> Image.Image:
    """The central ``SIDE`` px square at 1:1: a resampled residual would blur its pattern."""
    top, left = (pixels.shape[0] - SIDE) // 2, (pixels.shape[1] - SIDE) // 2
    return Image.fromarray(pixels[top : top + SIDE, left : left + SIDE])


def flattest_square(cover: np.ndarray) -> tuple[int, int]:
    """Top-left of the flattest 64 px square off the border: where a pattern shows most."""
    side = SIDE // ZOOM
    grey = cover.astype(np.float64).mean(axis=2)
    best, where = np.inf, (0, 0)
    for top in range(side, grey.shape[0] - 2 * side, side // 2):
        for left in range(side, grey.shape[1] - 2 * side, side // 2):
            spread = grey[top : top + side, left : left + side].std()
            if spread < best:
                best, where = spread, (top, left)
    return where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--models", default="robust,robust-one")
    parser.add_argument("--count", type=int, default=2, help="val photos, spread over the split")
    parser.add_argument("--gain", type=float, default=10.0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "robust_figure.png"
    )
    args = parser.parse_args()
    paths = image_paths(args.val)
    chosen = paths[:: max(1, len(paths) // args.count)][: args.count]
    images = [np.asarray(apply_view(load_rgb(p), "whole512")) for p in paths]
    rows = [(name, path) for path in chosen for name in args.models.split(",")]
    columns = ("cover", "stego", f"residual x{args.gain:g} (centre, 1:1)", "cover 4x", "stego 4x")
    sheet = Image.new("RGB", (SIDE * len(columns), len(rows) * (SIDE + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    nets = {name: hiding.load_hiding_model(name, robust=True) for name in args.models.split(",")}
    for row, (name, path) in enumerate(rows):
        net = nets[name]
        index = paths.index(path)
        cover = images[index]
        secrets = [images[(index + j) % len(images)] for j in range(1, hiding.secrets_per_cover(net) + 1)]
        stego = hiding.hide(cover, *secrets, net=net).stego
        pattern = pattern_strength(cover, stego)["worst"]
        label = (
            f"{name}: {psnr(stego, cover):.1f} dB, SSIM-Y {ssim_y(stego, cover):.3f}, pattern {pattern:.2f}"
        )
        top, left = flattest_square(cover)
        tiles = (
            Image.fromarray(cover),
            Image.fromarray(stego),
            centre(signed_residual(stego, cover, args.gain)),
            zoomed(cover, top, left),
            zoomed(stego, top, left),
        )
        y = row * (SIDE + LABEL)
        for column, tile in enumerate(tiles):
            if tile.size != (SIDE, SIDE):
                tile = tile.resize((SIDE, SIDE), Image.Resampling.LANCZOS)
            sheet.paste(tile, (column * SIDE, y + LABEL))
        draw.text((4, y + 3), f"{path.stem[:28]} | {label}", fill="black")
        print(f"{path.stem}: {label}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}: columns {', '.join(columns)}")


if __name__ == "__main__":
    main()
