"""Peak memory of whole commands on the largest images the default limits accept.

Each command runs as its own process; its peak RSS comes from ``os.wait4``. The images
are smooth synthetic photos (noise would not compress into a PNG under the byte cap).
``hide``/``reveal`` run a tiny random HiNet (one block, growth 4) so the row finishes in
minutes: their network works tile by tile (512 px), so a larger model adds its per-tile
activations (hinet-small: ~0.4 GB, see the hide_speed table) and nothing per pixel.
``embed-file``/``extract-file`` run the shipped default model.

    python benchmarks/memory.py [--megapixels 100] [--embed-megapixels 40]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmarks.results_file import command_line, publish
from PIL import Image

RESULTS = Path(__file__).with_name("results.md")
START, END = "<!-- memory:start -->", "<!-- memory:end -->"
LIMIT_GB = 3.0


def smooth_image(path: Path, megapixels: float, seed: int) -> None:
    side = int((megapixels * 1e6) ** 0.5)
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (side // 16 + 1, side // 16 + 1, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize((side, side), Image.Resampling.BILINEAR).save(path, compress_level=1)


def run(argv: list[str], cwd: Path) -> tuple[int, float, float]:
    """``(exit code, peak RSS in GB, seconds)`` of ``invsteg argv``."""
    env = os.environ | {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "INVSTEG_PASSPHRASE": "pw"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "invsteg", *argv], cwd=cwd, env=env, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(f"invsteg {' '.join(argv)} -> {code}: {err}", file=sys.stderr)
    return code, usage.ru_maxrss / 1e6, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=100.0)
    parser.add_argument("--embed-megapixels", type=float, default=40.0)
    args = parser.parse_args()
    from invsteg.models.hinet import HiNet, HiNetConfig
    from invsteg.zoo import save_weights

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        smooth_image(work / "big.png", args.megapixels, 0)
        smooth_image(work / "embed.png", args.embed_megapixels, 1)
        save_weights(HiNet(HiNetConfig(blocks=1, growth=4)), work / "tiny.safetensors")
        (work / "doc.bin").write_bytes(np.random.default_rng(2).bytes(10_000))
        mp, emp = f"{args.megapixels:g} MP", f"{args.embed_megapixels:g} MP"
        rows = [
            (
                f"hide, {mp}, tiny HiNet",
                ["hide", "big.png", "big.png", "--weights", "tiny.safetensors", "-o", "s.png"],
            ),
            (
                f"reveal, {mp}, tiny HiNet",
                ["reveal", "s.png", "--weights", "tiny.safetensors", "-o", "r.png"],
            ),
            (f"attack --noise 1, {mp}", ["attack", "big.png", "--noise", "1", "-o", "a.png"]),
            (
                f"embed-file 10 KB, {emp}, default model",
                ["embed-file", "embed.png", "doc.bin", "-o", "e.png"],
            ),
            (f"extract-file, {emp}, default model", ["extract-file", "e.png", "-o", "doc.out"]),
            ("capacity /dev/zero (no image)", ["capacity", "/dev/zero"]),
        ]
        lines = [
            START,
            "## Peak memory of whole commands on the largest accepted images",
            "",
            f"`{command_line(__file__)}`; peak RSS per process (`os.wait4`), target < {LIMIT_GB:g} GB.",
            "",
            "| command | exit | peak RSS GB | seconds |",
            "|---|---:|---:|---:|",
        ]
        for label, argv in rows:
            code, peak, seconds = run(argv, work)
            lines.append(f"| {label} | {code} | {peak:.2f} | {seconds:.1f} |")
            print(lines[-1], flush=True)
        lines.append(END)
    publish(START, END, RESULTS, lines)


if __name__ == "__main__":
    main()
