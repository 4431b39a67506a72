"""Hiding a secret twice the cover's size: Lanczos letterboxing against IRN rescaling.

Cover i (the val photo's whole512 view, 512x512) hides val photo i+1 at 1024x1024 (its
shorter side resized to 1024 with Lanczos, centre crop) with the default hiding model. The
secret reaches the cover's size either as ``hide`` does it (Lanczos down; ``reveal --size``
scales back with Lanczos) or through ``irn-x2`` (down before hiding, up after revealing).
The stego goes through an 8-bit PNG; the revealed secret is compared with the 1024 original.
Writes its section of benchmarks/results.md.

    python benchmarks/hide_rescale.py --val ../data/val
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from statistics import mean

import numpy as np
from PIL import Image

from invsteg import api
from invsteg.eval.quality import compare
from invsteg.eval.views import apply_view, center_crop
from invsteg.pipelines import hiding, rescaling
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- hide_rescale:start -->", "<!-- hide_rescale:end -->"


def large_view(image: Image.Image, size: int) -> np.ndarray:
    scale = size / min(image.size)
    resized = image.resize(
        (max(size, round(image.width * scale)), max(size, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    return np.asarray(center_crop(resized, size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--rescaler", default=api.default_rescaler(2), help="a rescaling model or weights")
    parser.add_argument("--limit", type=int, default=None, help="only the first N val photos")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    photos = [load_rgb(path) for path in image_paths(args.val)[: args.limit]]
    covers = [np.asarray(apply_view(photo, "whole512")) for photo in photos]
    secrets = [large_view(photo, 1024) for photo in photos[1:] + photos[:1]]
    hider = api.load_hiding_model()
    if args.rescaler.endswith(".safetensors"):
        rescaler = api.load_rescaler(weights=args.rescaler)
    else:
        rescaler = api.load_rescaler(model=args.rescaler)
    results: dict[str, list[dict[str, float]]] = {"Lanczos (hide today)": [], args.rescaler: [], "stego": []}
    for cover, secret in zip(covers, secrets, strict=True):
        size = (secret.shape[1], secret.shape[0])
        stego = hiding.hide(cover, secret, net=hider).stego
        revealed = hiding.reveal(stego, net=hider, secret_size=size)
        results["Lanczos (hide today)"].append(compare(revealed, secret))
        small = rescaling.downscale(secret, rescaler)
        stego = hiding.hide(cover, small, net=hider).stego
        results["stego"].append(compare(stego, cover))
        revealed = rescaling.upscale(hiding.reveal(stego, net=hider), rescaler, size=size)
        results[args.rescaler].append(compare(revealed, secret))
        print(
            f"{len(results['stego'])}/{len(covers)}", {k: round(v[-1]["psnr"], 2) for k, v in results.items()}
        )
    lines = [
        START,
        f"## Hiding a secret twice the cover's size ({date.today()})",
        "",
        f"`{command_line(__file__)}`: {len(covers)} val covers (whole512), secrets 1024x1024,",
        "the default hiding model; revealed secret against the 1024 original (mean [worst]).",
        "",
        "| secret path | revealed PSNR | Y-PSNR | SSIM | stego PSNR |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("Lanczos (hide today)", args.rescaler):
        rows = results[name]
        stego = f"{mean(r['psnr'] for r in results['stego']):.2f}" if name == args.rescaler else ""
        lines.append(
            f"| {name} | {mean(r['psnr'] for r in rows):.2f} [{min(r['psnr'] for r in rows):.2f}] "
            f"| {mean(r['psnr_y'] for r in rows):.2f} | {mean(r['ssim'] for r in rows):.4f} | {stego} |"
        )
    lines.append(END)
    publish(START, END, args.output, lines)


if __name__ == "__main__":
    main()
