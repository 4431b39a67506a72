"""embed-file + extract-file as whole commands (imports, key derivation, PNG files and all),
beside steghide on the same cover in the same run: the issue's measure of speed.

The cover is the first val photo scaled to about 1 MP; the file is random (it does not
compress); every invsteg run uses a passphrase file, as a user would. Each command runs
``--repeats`` times, interleaved with steghide's, and the table gives medians and the ratio
to steghide (this machine is noisy: only ratios within one run mean much). Peak memory is
the child's maximum RSS. ``--large`` adds a 12 MP cover (the photo scaled up) at 0.1 bpp.
Writes its section of ``benchmarks/results.md``.

    python benchmarks/embed_speed.py --val ../data/val [--large] [--models]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
PASSPHRASE = "benchmark passphrase"


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB, from GNU time: a forked child's own maximum would count this
    process's pages too) of one command, which must succeed."""
    report = cwd / "rss.txt"
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), *command], cwd=cwd, capture_output=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {proc.stderr.decode()}")
    return seconds, int(report.read_text().split()[-1]) / 1024


def invsteg(*args: str) -> list[str]:
    return [sys.executable, "-m", "invsteg", *args]


def cases(kib: int, robust_bytes: int, models: bool, steghide: bool) -> list[tuple[str, int, list, list]]:
    """``(label, bytes, embed command, extract command)``; files: cover.png, cover.bmp, doc.bin."""
    key = ["--passphrase-file", "key.txt"]
    out = [
        (
            f"invsteg embed-file (format 3), {kib} KB",
            kib * 1024,
            invsteg("embed-file", "cover.png", "doc.bin", *key, "-o", "st.png", "--force"),
            invsteg("extract-file", "st.png", *key, "-o", "out.bin", "--force"),
        ),
        (
            f"invsteg embed-file --robust, {robust_bytes} B",
            robust_bytes,
            invsteg("embed-file", "cover.png", "doc.bin", *key, "--robust", "-o", "st.png", "--force"),
            invsteg("extract-file", "st.png", *key, "--robust", "-o", "out.bin", "--force"),
        ),
    ]
    if models:
        model = ["--model", "stegcinn-detail"]
        out.append(
            (
                f"invsteg embed-file --model stegcinn-detail (format 2), {kib} KB",
                kib * 1024,
                invsteg("embed-file", "cover.png", "doc.bin", *key, *model, "-o", "st.png", "--force"),
                invsteg("extract-file", "st.png", *key, *model, "-o", "out.bin", "--force"),
            )
        )
    if steghide:
        out.append(
            (
                f"steghide {kib} KB (BMP cover)",
                kib * 1024,
                [
                    "steghide",
                    "embed",
                    "-q",
                    "-f",
                    "-cf",
                    "cover.bmp",
                    "-ef",
                    "doc.bin",
                    "-sf",
                    "st.bmp",
                    "-p",
                    PASSPHRASE,
                ],
                ["steghide", "extract", "-q", "-f", "-sf", "st.bmp", "-xf", "out.bin", "-p", PASSPHRASE],
            )
        )
    return out


def measure(cover: Image.Image, rows: list, repeats: int) -> list[dict]:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        cover.save(cwd / "cover.png")
        cover.save(cwd / "cover.bmp")
        (cwd / "key.txt").write_text(PASSPHRASE + "\n")
        rng = np.random.default_rng(0)
        datas = {label: rng.bytes(size) for label, size, _, _ in rows}
        times: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, *_ in rows}
        for _ in range(repeats):
            for label, _, embed, extract in rows:
                (cwd / "doc.bin").write_bytes(datas[label])
                embed_s, embed_mb = timed(embed, cwd)
                extract_s, extract_mb = timed(extract, cwd)
                assert (cwd / "out.bin").read_bytes() == datas[label], label
                times[label].append((embed_s, extract_s, embed_mb, extract_mb))
        for label, runs in times.items():
            embed_s, extract_s, embed_mb, extract_mb = (
                statistics.median(r[i] for r in runs) for i in range(4)
            )
            results.append(
                {"label": label, "embed": embed_s, "extract": extract_s, "mb": max(embed_mb, extract_mb)}
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--kib", type=int, default=10)
    parser.add_argument("--robust-bytes", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", action="store_true", help="also format 2 (a Steg-cINN model)")
    parser.add_argument("--large", action="store_true", help="also a 12 MP cover at 0.1 bpp")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    photo = load_rgb(image_paths(args.val)[0])
    scale = (1e6 / (photo.width * photo.height)) ** 0.5
    cover = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BOX)
    steghide = shutil.which("steghide") is not None
    results = measure(cover, cases(args.kib, args.robust_bytes, args.models, steghide), args.repeats)
    base = next((r for r in results if r["label"].startswith("steghide")), None)
    lines = [
        START,
        f"## embed-file speed, whole commands ({date.today().isoformat()})",
        "",
        f"`{command_line(__file__)}`: a {cover.width}x{cover.height} cover, a passphrase, "
        f"{os.cpu_count()} CPUs, median of {args.repeats} interleaved runs; each time includes "
        "Python's start, the imports and the key derivation.",
        "",
        "| what | embed s | extract s | both s | vs steghide | peak MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        both = r["embed"] + r["extract"]
        ratio = f"{both / (base['embed'] + base['extract']):.1f}x" if base else "-"
        lines.append(
            f"| {r['label']} | {r['embed']:.2f} | {r['extract']:.2f} | {both:.2f} | {ratio} | {r['mb']:.0f} |"
        )
    if not steghide:
        lines += ["", "steghide was not installed (`apt-get install steghide`): no baseline."]
    if args.large:
        large = photo.resize((4000, 3000), Image.Resampling.LANCZOS)
        nbytes = int(0.1 * 4000 * 3000 / 8)
        label = f"invsteg embed-file (format 3), 12 MP cover (4000x3000, upscaled), {nbytes // 1024} KB"
        row = cases(nbytes // 1024, 0, False, False)[0]
        (r,) = measure(large, [(label, nbytes, row[2], row[3])], 1)
        lines.append(
            f"| {label} | {r['embed']:.2f} | {r['extract']:.2f} | {r['embed'] + r['extract']:.2f} | - "
            f"| {r['mb']:.0f} |"
        )
    lines.append(END)
    publish(START, END, args.results, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
