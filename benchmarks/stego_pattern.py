"""How visible each hider's change is as a pattern: strongest periodic component of
``stego - cover`` (period >= 4 px) in luminance, R-G and B-G, in levels, and SSIM of
luminance, on the val photos.

Every shipped hiding model (cover i hides val images i+1, i+2, ...) and embed-file
--robust (a random 256-byte file) on the same covers. A grating of amplitude A measures A
(:mod:`invsteg.eval.pattern`); the issue's bar for robust stegos is 1.0 level. Writes its
section of ``benchmarks/results.md``.

    python benchmarks/stego_pattern.py --val ../data/val
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from statistics import mean

import numpy as np
import torch

from invsteg.eval.metrics import rgb_to_y, ssim
from invsteg.eval.pattern import pattern_strength
from invsteg.eval.views import apply_view
from invsteg.ops.quantize import psnr
from invsteg.pipelines import hiding, robust_files
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- stego_pattern:start -->", "<!-- stego_pattern:end -->"


def ssim_y(a: np.ndarray, b: np.ndarray) -> float:
    def y(x: np.ndarray) -> torch.Tensor:
        return rgb_to_y(torch.from_numpy(x.copy()).permute(2, 0, 1)[None].double() / 255)

    return float(ssim(y(a), y(b)))


def hider(name: str, robust: bool) -> Callable[[np.ndarray, list[np.ndarray]], np.ndarray]:
    net = hiding.load_hiding_model(name, robust=robust)
    k = hiding.secrets_per_cover(net)
    return lambda cover, others: hiding.hide(cover, *others[:k], net=net).stego


def robust_file(cover: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    rng = np.random.default_rng(int(cover[0, 0, 0]))
    return robust_files.embed_file(cover, rng.bytes(256), random_bytes=rng.bytes).pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--views", default="center256,whole512")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    embedders = {
        "hinet-small (hide, default)": hider("hinet-small", False),
        "robust (hide --robust, 2 secrets)": hider("robust", True),
        "robust-one (hide --robust, 1 secret)": hider("robust-one", True),
        "robust-detail (2 secrets)": hider("robust-detail", True),
        "embed-file --robust (256 B)": robust_file,
    }
    lines = [
        START,
        f"## Visible pattern of each hider's change, val split ({date.today().isoformat()})",
        "",
        f"`{command_line(__file__)}`: strongest sinusoid (period >= 4 px) of stego - cover in "
        "levels, mean [max] over the 12 val photos; SSIM of luminance. embed-file --robust needs "
        "more than 256 px a side for 256 B, so it has no center256 row.",
        "",
        "| hider | view | luminance | R-G | B-G | worst | SSIM-Y | PSNR |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    paths = image_paths(args.val)
    for view in args.views.split(","):
        images = [np.asarray(apply_view(load_rgb(p), view)) for p in paths]
        for name, embed in embedders.items():
            if name.startswith("embed-file") and view == "center256":
                continue
            rows = []
            for i, cover in enumerate(images):
                others = [images[(i + j) % len(images)] for j in range(1, 3)]
                stego = embed(cover, others)
                rows.append(
                    pattern_strength(cover, stego)
                    | {"ssim": ssim_y(stego, cover), "psnr": psnr(stego, cover)}
                )
            cells = [
                f"{mean(r[k] for r in rows):.3f} [{max(r[k] for r in rows):.3f}]"
                for k in ("luma", "r_g", "b_g", "worst")
            ]
            lines.append(
                f"| {name} | {view} | "
                + " | ".join(cells)
                + f" | {mean(r['ssim'] for r in rows):.4f} | {mean(r['psnr'] for r in rows):.2f} |"
            )
            print(lines[-1], flush=True)
    lines.append(END)
    publish(START, END, args.results, lines)


if __name__ == "__main__":
    main()
