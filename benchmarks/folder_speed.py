"""Directory mode against one command per image: `invsteg hide covers/ secrets/ -o out/`
beside N separate `invsteg hide` commands, on the same N 512x512 val pairs, in one run.

Both are whole processes (torch import, model load, PNG files), timed back to back; the
ratio is what a user saves. Writes its section of benchmarks/results.md.

    python benchmarks/folder_speed.py --val ../data/val --count 6
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from invsteg.eval.views import apply_view
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- folder_speed:start -->", "<!-- folder_speed:end -->"


def invsteg(*args: object) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "invsteg", *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    photos = image_paths(args.val)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name in ("covers", "secrets", "single", "out"):
            (work / name).mkdir()
        for i in range(args.count):
            for role, photo in (("covers", photos[i]), ("secrets", photos[(i + 1) % len(photos)])):
                pixels = np.asarray(apply_view(load_rgb(photo), "whole512"))
                Image.fromarray(pixels).save(work / role / f"{i}.png")
        singles = sum(
            invsteg(
                "hide",
                work / "covers" / f"{i}.png",
                work / "secrets" / f"{i}.png",
                "-o",
                work / "single" / f"{i}.png",
            )
            for i in range(args.count)
        )
        together = invsteg("hide", work / "covers", work / "secrets", "-o", work / "out")
        same = all(
            np.array_equal(
                np.asarray(Image.open(work / "single" / f"{i}.png")),
                np.asarray(Image.open(work / "out" / f"{i}.stego.png")),
            )
            for i in range(args.count)
        )
    lines = [
        START,
        f"## Directory mode: {args.count} hides of 512x512, whole commands ({date.today()})",
        "",
        f"`{command_line(__file__)}`",
        "",
        "| way | seconds | speed-up |",
        "|---|---:|---:|",
        f"| {args.count} x `invsteg hide cover.png secret.png` | {singles:.1f} | 1.00 |",
        f"| `invsteg hide covers/ secrets/ -o out/` | {together:.1f} | {singles / together:.2f} |",
        "",
        f"Stegos identical either way: {'yes' if same else 'NO'}.",
        END,
    ]
    publish(START, END, args.output, lines)


if __name__ == "__main__":
    main()
