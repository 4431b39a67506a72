"""Hiding quality on the val split, in the views of docs/design.md, after saving the stego as PNG.

Every val image is a cover once, hiding the next val image; the stego is saved as 8-bit
PNG (and, to show fragility, as JPEG Q95 and with noise sigma 1/255) and revealed from
that. Writes its section of ``benchmarks/results.md``.

    python benchmarks/eval_quality.py --val ../data/val
    python benchmarks/eval_quality.py --weights runs/x/best.safetensors --views center256
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np

from invsteg.eval.quality import evaluate_pair, summarize
from invsteg.eval.views import apply_view
from invsteg.models.contracts import ImageHider
from invsteg.pipelines import hiding
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- eval_quality:start -->", "<!-- eval_quality:end -->"
ROWS = [("stego", "stego vs cover (PNG)")] + [
    (f"secret_{c}", f"revealed secret, stego {label}")
    for c, label in [("png", "saved as PNG"), ("jpeg95", "saved as JPEG Q95"), ("noise1", "+ noise 1/255")]
]


def evaluate_view(paths: list[Path], view: str, net: ImageHider, channels: tuple[str, ...]) -> dict:
    images = [np.asarray(apply_view(load_rgb(p), view)) for p in paths]
    results = []
    for i, path in enumerate(paths):
        results.append(evaluate_pair(path.stem, images[i], images[(i + 1) % len(images)], net, channels))
        r = results[-1]
        print(f"{view} {path.stem}: stego {r.stego['psnr']:.2f}, secret {r.secret['png']['psnr']:.2f}")
    return summarize(results)


def table(view: str, summary: dict) -> list[str]:
    lines = [
        f"**{view}** ({summary['images']} pairs)",
        "",
        "| | PSNR dB | Y-PSNR dB | SSIM | worst PSNR dB (image) |",
        "|---|---:|---:|---:|---|",
    ]
    for key, label in ROWS:
        if key not in summary:
            continue
        m, w = summary[key], summary[f"{key}_worst"]
        worst = f"{w['psnr']:.2f} ({w['name']})"
        lines.append(f"| {label} | {m['psnr']:.2f} | {m['psnr_y']:.2f} | {m['ssim']:.4f} | {worst} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--model", default="hinet-small")
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--views", default="center256,whole512")
    parser.add_argument("--channels", default="png,jpeg95,noise1", help="what the stego goes through")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    net = hiding.load_hiding_model(args.model, args.weights)
    paths = image_paths(args.val)
    name = str(args.weights) if args.weights else args.model
    lines = [START, f"## Hiding quality: {name}, val split ({date.today()})", ""]
    for view in args.views.split(","):
        lines += table(view, evaluate_view(paths, view, net, tuple(args.channels.split(","))))
    command = command_line(__file__)
    lines += [f"Command: `{command}`. Cover i hides val image i+1; stego saved to 8-bit PNG.", END]
    publish(START, END, args.out, lines)


if __name__ == "__main__":
    main()
