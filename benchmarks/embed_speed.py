"""embed-file + extract-file of a 10 KB file in a 1 MP photo, as two whole commands (the
issue's measure: imports, model loads and the verify loop included), beside the robust mode.

The cover is the first val photo scaled to about 1 MP; the file is random (it does not
compress). Writes its section of ``benchmarks/results.md``.

    python benchmarks/embed_speed.py --val ../data/val
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- embed_speed:start -->", "<!-- embed_speed:end -->"


def timed(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "invsteg", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--kib", type=int, default=10)
    parser.add_argument("--robust-bytes", type=int, default=512)
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    photo = load_rgb(image_paths(args.val)[0])
    scale = (1e6 / (photo.width * photo.height)) ** 0.5
    cover = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BOX)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        cover.save(cwd / "cover.png")
        rng = np.random.default_rng(0)
        for label, size, extra in (
            (f"embed-file, {args.kib} KB", args.kib * 1024, []),
            (f"embed-file --robust, {args.robust_bytes} B", args.robust_bytes, ["--robust"]),
        ):
            data = rng.bytes(size)
            (cwd / "doc.bin").write_bytes(data)
            embed = timed(
                "embed-file",
                "cover.png",
                "doc.bin",
                "--no-passphrase",
                "-o",
                "st.png",
                "--force",
                *extra,
                cwd=cwd,
            )
            extract = timed(
                "extract-file", "st.png", "--no-passphrase", "-o", "out.bin", "--force", *extra, cwd=cwd
            )
            assert (cwd / "out.bin").read_bytes() == data
            rows.append(f"| {label} | {embed:.1f} | {extract:.1f} | {embed + extract:.1f} |")
    lines = [
        START,
        f"## embed-file speed, whole commands ({date.today().isoformat()})",
        "",
        f"`{command_line(__file__)}`: a {cover.width}x{cover.height} cover, no passphrase, "
        f"{os.cpu_count()} CPUs; each time includes `import torch` and the model load.",
        "",
        "| what | embed s | extract s | both s |",
        "|---|---:|---:|---:|",
        *rows,
        END,
    ]
    publish(START, END, args.results, lines)


if __name__ == "__main__":
    main()
