"""Cut a compact training set (random lossless crops from an image pyramid) to carry to a
rented GPU, where the whole photo folder would not fit the transfer limit.

    python scripts/pack_crops.py ../data/train gpu/train --crops-per-image 4 --size 256
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image

from invsteg.train.data import image_paths, load_rgb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--crops-per-image", type=int, default=4, help="per pyramid level")
    parser.add_argument("--scales", default="1,0.5,0.25")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--whole", type=int, default=0, help="also save each image resized to this short side"
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    args.dest.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in image_paths(args.source):
        image = load_rgb(path)
        for scale in (float(s) for s in args.scales.split(",")):
            size = (round(image.width * scale), round(image.height * scale))
            if min(size) < args.size:
                continue
            level = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
            for i in range(args.crops_per_image):
                left = rng.randrange(level.width - args.size + 1)
                top = rng.randrange(level.height - args.size + 1)
                crop = level.crop((left, top, left + args.size, top + args.size))
                crop.save(
                    args.dest / f"{path.stem}_s{scale:g}_{i}.webp", lossless=True, quality=100, method=4
                )
                total += 1
    size = sum(p.stat().st_size for p in args.dest.iterdir())
    print(f"{total} crops, {size / 2**20:.1f} MiB in {args.dest}")


if __name__ == "__main__":
    main()
