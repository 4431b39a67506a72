"""The checks only a GPU can run: stegos made on the GPU reveal and extract on the CPU and
back, and GPU timings (12 MP hide, 10 KB embed-file into 1 MP). Writes one JSON report on
the rented machine (scripts/gpu_run.sh); back here, ``--publish`` turns it into its section
of ``benchmarks/results.md``.

    python benchmarks/gpu_checks.py --photos gpu/val --out $OUT/gpu_checks.json
    python benchmarks/gpu_checks.py --publish runs/gpu4/gpu_checks.json

On a machine without CUDA it runs the same checks CPU against CPU (how it is tested).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from invsteg import api
from invsteg.ops.quantize import psnr
from invsteg.pipelines import hiding
from results_file import publish

START, END = "<!-- gpu_checks:start -->", "<!-- gpu_checks:end -->"


def photo(paths: list[Path], index: int, size: tuple[int, int]) -> np.ndarray:
    with Image.open(paths[index % len(paths)]) as image:
        return np.asarray(image.convert("RGB").resize(size, Image.Resampling.BICUBIC))


def pixels(data: bytes) -> np.ndarray:
    return api.decode_image(data, "stego", max_pixels=None).pixels


def cross_hide(gpu: str, cover: np.ndarray, secret: np.ndarray, robust: bool) -> dict:
    """Hide on each device, reveal on each: stegos identical? secrets' PSNR per pair."""
    nets = {d: api.load_hiding_model(robust=robust, device=d) for d in ("cpu", gpu)}
    secrets = [secret, secret[::-1].copy()] if robust else [secret]
    stegos = {  # fp32 on both: the check is about the devices, not hide's default bf16
        d: pixels(api.hide(cover, secrets, robust=robust, net=nets[d], precision="fp32").data) for d in nets
    }
    out: dict = {"stego_pixels_differing": int((stegos["cpu"] != stegos[gpu]).any(axis=2).sum())}
    for made in nets:
        for read in nets:
            revealed = api.reveal(stegos[made], robust=robust, net=nets[read])
            out[f"{made}->{read} secret psnr"] = round(float(psnr(revealed[0], secrets[0])), 2)
    return out


def cross_embed(gpu: str, cover: np.ndarray, payload: bytes, both_ways: bool = True) -> dict:
    out = {}
    for made, read in ((gpu, "cpu"), ("cpu", gpu))[: 2 if both_ways else 1]:
        started = time.perf_counter()
        data, report = api.embed_file(cover, payload, passphrase=None, device=made)
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        extracted = api.extract_file(pixels(data), passphrase=None, device=read)
        out[f"{made}->{read}"] = {
            "bit_exact": extracted.unpacked.data == payload,
            "embed_s": round(embed_s, 2),
            "extract_s": round(time.perf_counter() - started, 2),
            "passes": len(report.correction_used),
            "accepted": report.accepted,
        }
    return out


def timed(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


def hide_timings(gpu: str, paths: list[Path], size: tuple[int, int]) -> dict:
    cover, secret = photo(paths, 0, size), photo(paths, 1, size)
    net = api.load_hiding_model(device=gpu)
    hiding.hide(cover[:512, :512], secret[:512, :512], net=net)  # warm-up (cuDNN autotune)
    out = {"megapixels": round(size[0] * size[1] / 1e6, 1)}
    for tile in (512, 1024, 2048):
        out[f"model only, tile {tile}, s"] = timed(lambda t=tile: hiding.hide(cover, secret, net=net, tile=t))
    out["model only, tile 2048, bf16, s"] = timed(
        lambda: hiding.hide(cover, secret, net=net, tile=2048, precision="bf16")
    )
    out["with PNG encoding, tile 512, s"] = timed(lambda: api.hide(cover, [secret], net=net), repeats=1)
    with tempfile.TemporaryDirectory() as folder:
        Image.fromarray(cover).save(f"{folder}/c.png", compress_level=1)
        Image.fromarray(secret).save(f"{folder}/s.png", compress_level=1)
        command = [sys.executable, "-m", "invsteg", "hide", f"{folder}/c.png", f"{folder}/s.png"]
        command += ["-o", f"{folder}/o.png", "--device", gpu]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        out["whole command, s"] = round(time.perf_counter() - started, 2)
        out["whole command rc"] = done.returncode
        if done.returncode:
            out["whole command stderr"] = done.stderr[-500:]
    return out


def publish_report(report_path: Path, results: Path) -> None:
    report = json.loads(report_path.read_text())
    timing = report["hide timing"]
    lines = [
        START,
        f"## On a GPU: {report['device']} (torch {report['torch']})",
        "",
        f"`python benchmarks/gpu_checks.py` on a rented machine (report `{report_path}`), shipped "
        "weights; each stego made on one device and read on the other.",
        "",
        "| check | result |",
        "|---|---|",
    ]
    for name in ("hide", "robust hide"):
        psnrs = {k: v for k, v in report[name].items() if k.endswith("psnr")}
        differing = report[name]["stego_pixels_differing"]
        lines.append(f"| {name} 512x512: stego pixels that differ CPU vs GPU | {differing} (rounding ties) |")
        lines.append(
            f"| {name}: revealed secret PSNR, made -> read | "
            + ", ".join(f"{k.removesuffix(' secret psnr')} {v:.2f} dB" for k, v in psnrs.items())
            + " |"
        )
    for name in ("embed-file 2 KB, 512x512", "embed-file 10 KB, 1 MP"):
        for way, r in report[name].items():
            lines.append(
                f"| {name}, {way} | bit-exact: {'yes' if r['bit_exact'] else 'NO'}; embed {r['embed_s']} s, "
                f"extract {r['extract_s']} s |"
            )
    mp = timing["megapixels"]
    lines += [
        f"| hide {mp} MP, model only (tile 512 / 1024 / 2048) | {timing['model only, tile 512, s']} / "
        f"{timing['model only, tile 1024, s']} / {timing['model only, tile 2048, s']} s |",
        f"| hide {mp} MP, model only, bf16 (tile 2048) "
        f"| {timing.get('model only, tile 2048, bf16, s', '-')} s |",
        f"| hide {mp} MP with PNG encoding (tile 512) | {timing['with PNG encoding, tile 512, s']} s |",
        f"| `invsteg hide --device cuda`, {mp} MP PNGs, whole command | {timing['whole command, s']} s |",
        "",
        "Target (issue 16): 12 MP hide < 2 s on a GPU.",
        END,
    ]
    publish(START, END, results, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=Path("gpu/val"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--big", default="4000x3000", help="WxH of the timed hide")
    parser.add_argument("--publish", type=Path, help="a report to write into results.md")
    parser.add_argument("--results", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    if args.publish:
        publish_report(args.publish, args.results)
        return
    if args.out is None:
        parser.error("--out is required to run the checks")
    gpu = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    paths = sorted(args.photos.glob("*.png"))
    cover, secret = photo(paths, 2, (512, 512)), photo(paths, 3, (512, 512))
    device_name = torch.cuda.get_device_name() if gpu == "cuda" else "cpu"
    report: dict = {"device": device_name, "torch": torch.__version__}
    steps = {
        "hide": lambda: cross_hide(gpu, cover, secret, robust=False),
        "robust hide": lambda: cross_hide(gpu, cover, secret, robust=True),
        "hide timing": lambda: hide_timings(gpu, paths, tuple(int(v) for v in args.big.split("x"))),
        "embed-file 10 KB, 1 MP": lambda: cross_embed(
            gpu, photo(paths, 4, (1152, 864)), os.urandom(10240), both_ways=False
        ),
        "embed-file 2 KB, 512x512": lambda: cross_embed(gpu, cover, os.urandom(2048)),
    }
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            report[name] = step()
        except Exception as exc:  # report and go on: one lease, every check counts
            report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"{name} ({time.perf_counter() - started:.1f} s): {json.dumps(report[name])}", flush=True)
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
