"""IRN rescaling against classical resampling on the val photos.

Each image (in the views of docs/design.md: center256, whole512, full size cropped to a
multiple of 4) is made 2x or 4x smaller and restored:

- IRN: ``invsteg rescale down`` -> 8-bit PNG bytes -> ``rescale up`` (z = 0), through the
  same api calls the CLI makes, with each ``--refine`` pass count (0: the network's own
  small image; the default: its levels searched, docs/design.md);
- bicubic: Pillow bicubic down, Pillow bicubic up (the usual thumbnail and upscale);
- Lanczos: Pillow Lanczos down and up.

Restored quality is PSNR on Y (BT.601, a 4 px border shaved, as IRN reports it) and SSIM;
"small vs bicubic" is the small image's PSNR against the bicubic thumbnail (IRN's "LR"
figure: does it look like an ordinary thumbnail?). Speed is IRN's seconds per megapixel of
the large image, down and up, in this process. Writes its section of benchmarks/results.md.

    python benchmarks/rescale_quality.py --val ../data/val
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from itertools import product
from pathlib import Path
from statistics import mean, median

import numpy as np
from PIL import Image

from invsteg import api
from invsteg.eval.quality import compare
from invsteg.eval.views import apply_view
from invsteg.io.images import decode_image, encode_image
from invsteg.ops.quantize import psnr
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

SHAVE = 4


def resample(image: np.ndarray, size: tuple[int, int], method: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, method))


def scores(restored: np.ndarray, original: np.ndarray) -> dict[str, float]:
    inner = (slice(SHAVE, -SHAVE), slice(SHAVE, -SHAVE))
    return compare(restored[inner], original[inner])


def irn_round_trip(image: np.ndarray, net, refine: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(small, restored, seconds down, seconds up) through real PNG bytes."""
    start = time.perf_counter()
    down = api.rescale_down(image, net=net, refine=refine)
    middle = time.perf_counter()
    data = encode_image(down.pixels, "PNG", text=down.note.to_text())
    loaded = decode_image(data, "small.png", "small")
    again = time.perf_counter()
    note = api.RescaleNote.from_text(loaded.text)
    up = api.rescale_up(loaded.pixels, note=note, net=net)
    end = time.perf_counter()
    return down.pixels, up.pixels, middle - start, end - again


def evaluate(images: list[np.ndarray], scale: int, net, refine: int) -> dict[str, dict]:
    rows: dict[str, list[dict[str, float]]] = {"IRN": [], "bicubic": [], "Lanczos": []}
    small_psnrs, seconds, megapixels = [], [0.0, 0.0], 0.0
    for image in images:
        height, width = image.shape[:2]
        small_size = (width // scale, height // scale)
        thumbnail = resample(image, small_size, Image.Resampling.BICUBIC)
        small, restored, down_s, up_s = irn_round_trip(image, net, refine)
        rows["IRN"].append(scores(restored, image))
        small_psnrs.append(psnr(small, thumbnail))
        seconds[0] += down_s
        seconds[1] += up_s
        megapixels += width * height / 1e6
        rows["bicubic"].append(scores(resample(thumbnail, (width, height), Image.Resampling.BICUBIC), image))
        lanczos = resample(image, small_size, Image.Resampling.LANCZOS)
        rows["Lanczos"].append(scores(resample(lanczos, (width, height), Image.Resampling.LANCZOS), image))
    out = {
        name: {
            "psnr_y": mean(r["psnr_y"] for r in results),
            "worst_y": min(r["psnr_y"] for r in results),
            "ssim": mean(r["ssim"] for r in results),
        }
        for name, results in rows.items()
    }
    gains = [i["psnr_y"] - b["psnr_y"] for i, b in zip(rows["IRN"], rows["bicubic"], strict=True)]
    out["IRN"] |= {
        "median_gain": median(gains),
        "small": mean(small_psnrs),
        "worst_small": min(small_psnrs),
        "down_s_per_mp": seconds[0] / megapixels,
        "up_s_per_mp": seconds[1] / megapixels,
    }
    return out


def load_view(folder: Path, view: str, multiple: int) -> list[np.ndarray]:
    images = []
    for path in image_paths(folder):
        pixels = np.asarray(apply_view(load_rgb(path), view))
        height, width = pixels.shape[:2]
        images.append(pixels[: height - height % multiple, : width - width % multiple])
    return images


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--views", default="center256,whole512,full")
    parser.add_argument("--models", default="irn-x2,irn-x4", help="registered rescaling models")
    parser.add_argument("--weights", type=Path, nargs="*", default=[], help="weights files to add")
    parser.add_argument(
        "--refine", default=str(api.DEFAULT_REFINE_PASSES), help="comma-separated pass counts of rescale down"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    parser.add_argument("--section", default="", help="a name of its own for this run's results section")
    args = parser.parse_args()
    name = f"rescale_quality{'_' + args.section if args.section else ''}"
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    nets = {model: api.load_rescaler(model=model) for model in filter(None, args.models.split(","))}
    nets |= {str(path): api.load_rescaler(weights=path) for path in args.weights}
    lines = [
        start,
        f"## Rescaling: IRN against bicubic and Lanczos, val split ({date.today()})",
        "",
        f"`{command_line(__file__)}`; {len(image_paths(args.val))} val photos per view.",
        "Restored: down, 8-bit PNG, up; Y-PSNR with a 4 px border shaved (mean [worst]), SSIM (RGB).",
        "Small vs bicubic: the small image's PSNR against Pillow's bicubic thumbnail.",
        "Speed: IRN seconds per megapixel of the large image, in-process, "
        f"{torch.get_num_threads()} threads.",
        "",
        "| model | refine | view | IRN Y-PSNR | bicubic | Lanczos | IRN - bicubic (median per photo) "
        "| SSIM IRN / bicubic | small vs bicubic | down / up s/MP |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    refines = [int(r) for r in args.refine.split(",")]
    for (model, net), refine, view in product(nets.items(), refines, args.views.split(",")):
        r = evaluate(load_view(args.val, view, net.scale), net.scale, net, refine)
        irn, bicubic, lanczos = r["IRN"], r["bicubic"], r["Lanczos"]
        lines.append(
            f"| {model} (x{net.scale}) | {refine} | {view} | {irn['psnr_y']:.2f} [{irn['worst_y']:.2f}] "
            f"| {bicubic['psnr_y']:.2f} [{bicubic['worst_y']:.2f}] | {lanczos['psnr_y']:.2f} "
            f"| {irn['psnr_y'] - bicubic['psnr_y']:+.2f} ({irn['median_gain']:+.2f}) "
            f"| {irn['ssim']:.4f} / {bicubic['ssim']:.4f} "
            f"| {irn['small']:.2f} [{irn['worst_small']:.2f}] "
            f"| {irn['down_s_per_mp']:.2f} / {irn['up_s_per_mp']:.2f} |"
        )
        print(lines[-1], flush=True)
    lines.append(end)
    publish(start, end, args.output, lines)


if __name__ == "__main__":
    main()
