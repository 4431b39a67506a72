"""embed-file --robust under real attacks: exact extraction rate per payload and attack.

Covers: each photo scaled down to about 1 MP (area resampling; smaller photos as they
are), and its centre 1024x1024 crop at native resolution. Each cover hides a random file
of each payload size (no passphrase: Argon2id costs the same either way and says nothing
about robustness). The stego is attacked with Pillow JPEG, Pillow bicubic resizing (the
extractor reads the smaller image itself; no scaling back), both, and Gaussian noise; it
counts as recovered only when the file comes back bit-exact. Also the stego's PSNR, SSIM
and strongest periodic pattern (:mod:`invsteg.eval.pattern`). Writes its section of
``benchmarks/results.md``.

    python benchmarks/robust_files.py --val ../data/val
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path
from statistics import mean

import numpy as np
from PIL import Image

from invsteg.errors import PayloadError
from invsteg.eval.pattern import pattern_strength
from invsteg.eval.quality import compare
from invsteg.ops.distortions import real_downscale, real_gaussian_noise, real_jpeg
from invsteg.pipelines import robust_files
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- robust_files:start -->", "<!-- robust_files:end -->"

ATTACKS = {
    "clean": lambda img: img,
    "JPEG Q95": lambda img: real_jpeg(img, 95),
    "JPEG Q90": lambda img: real_jpeg(img, 90),
    "JPEG Q75": lambda img: real_jpeg(img, 75),
    "JPEG Q50": lambda img: real_jpeg(img, 50),
    "resize 0.75x": lambda img: real_downscale(img, 0.75),
    "resize 0.5x": lambda img: real_downscale(img, 0.5),
    "0.75x + Q75": lambda img: real_jpeg(real_downscale(img, 0.75), 75),
    "noise 2/255": lambda img: real_gaussian_noise(img, 2.0, np.random.default_rng(0)),
    "noise 5/255": lambda img: real_gaussian_noise(img, 5.0, np.random.default_rng(0)),
}


def covers(folder: Path, megapixels: float, crop: int, limit: int | None) -> list[tuple[str, np.ndarray]]:
    out = []
    for path in image_paths(folder)[:limit]:
        image = np.asarray(load_rgb(path))
        h, w = image.shape[:2]
        scale = (megapixels * 1e6 / (w * h)) ** 0.5
        if scale < 1:  # never upscale: a blown-up photo is not a photo
            image_small = Image.fromarray(image).resize(
                (round(w * scale), round(h * scale)), Image.Resampling.BOX
            )
            out.append((f"{path.stem} whole", np.asarray(image_small)))
        else:
            out.append((f"{path.stem} whole", image))
        if min(h, w) >= crop:
            top, left = (h - crop) // 2, (w - crop) // 2
            out.append((f"{path.stem} crop", image[top : top + crop, left : left + crop].copy()))
    return out


def extracts(stego: np.ndarray, data: bytes) -> bool:
    try:
        return robust_files.extract_file(stego).data == data
    except PayloadError:
        return False


def run(images: list[tuple[str, np.ndarray]], size: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for name, cover in images:
        data = rng.bytes(size)
        start = time.perf_counter()
        try:
            stego = robust_files.embed_file(cover, data, random_bytes=lambda n: rng.bytes(n))
        except PayloadError as exc:
            print(f"{name}: {size} B refused: {exc}", flush=True)
            rows.append({"name": name, "embedded": False})
            continue
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        ok = {attack: extracts(fn(stego.pixels), data) for attack, fn in ATTACKS.items()}
        extract_seconds = (time.perf_counter() - start) / len(ATTACKS)
        quality = compare(stego.pixels, cover)
        pattern = pattern_strength(cover, stego.pixels)["worst"]
        rows.append(
            {
                "name": name,
                "embedded": True,
                "ok": ok,
                "psnr": quality["psnr"],
                "ssim": quality["ssim"],
                "pattern": pattern,
                "step": stego.report.step,
                "embed_s": seconds,
                "extract_s": extract_seconds,
            }
        )
        failed = [a for a, good in ok.items() if not good]
        print(
            f"{name}: {size} B, PSNR {quality['psnr']:.2f}, pattern {pattern:.3f}, step {stego.report.step}, "
            f"{seconds:.1f} s; failed: {', '.join(failed) or 'none'}",
            flush=True,
        )
    return {"size": size, "rows": rows}


def table(results: list[dict], count: int) -> list[str]:
    head = "| file | embedded | " + " | ".join(ATTACKS) + " | PSNR mean [min] | SSIM | pattern mean [max] |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for result in results:
        made = [r for r in result["rows"] if r["embedded"]]
        rates = [f"{sum(r['ok'][a] for r in made)}/{count}" for a in ATTACKS]
        psnrs = [r["psnr"] for r in made]
        patterns = [r["pattern"] for r in made]
        lines.append(
            f"| {result['size']} B | {len(made)}/{count} | "
            + " | ".join(rates)
            + f" | {mean(psnrs):.2f} [{min(psnrs):.2f}] | {mean(r['ssim'] for r in made):.4f} | "
            f"{mean(patterns):.3f} [{max(patterns):.3f}] |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--sizes", default="128,512,1024", help="payload sizes in bytes")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--crop", type=int, default=1024)
    parser.add_argument("--limit", type=int, help="only the first N photos (by name)")
    parser.add_argument("--section", default="", help="a suffix for this run's results.md section")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    images = covers(args.val, args.megapixels, args.crop, args.limit)
    start, end = (
        (START, END)
        if not args.section
        else (
            START.replace(":start", f"-{args.section}:start"),
            END.replace(":end", f"-{args.section}:end"),
        )
    )
    results = [run(images, int(size), seed) for seed, size in enumerate(args.sizes.split(","))]
    made = [r for result in results for r in result["rows"] if r["embedded"]]
    split = args.val.name if not args.limit else f"first {args.limit} photos of {args.val.name}"
    lines = [
        start,
        f"## embed-file --robust under real attacks, {split} ({date.today().isoformat()})",
        "",
        f"`{command_line(__file__)}`: {len(images)} covers (each photo at "
        f"{args.megapixels:g} MP, and its centre {args.crop}x{args.crop} crop at native resolution), "
        "a random file per cover and size, no passphrase, default settings (verified against JPEG Q75 "
        "and a 0.75x resize). A cell counts a stego only when the file comes back bit-exact; resized "
        "stegos are read at their new size.",
        "",
        *table(results, len(images)),
        "",
        f"Embedding takes {mean(r['embed_s'] for r in made):.1f} s per cover on average, extraction "
        f"{mean(r['extract_s'] for r in made):.2f} s (2 threads, no passphrase).",
        end,
    ]
    publish(start, end, args.results, lines)


if __name__ == "__main__":
    main()
