"""What bf16 costs in quality: each hider's stego and revealed secret with hide and reveal
computed in fp32 or in bf16 (``--precision``), on the val photos, in both views.

Same pairs as eval_quality.py (cover i hides val image i+1, and i+2 for a second secret);
stegos are rounded to 8 bits as a PNG holds them, and secrets are revealed from them
without any distortion. Writes its section of benchmarks/results.md.

    python benchmarks/precision_quality.py --val ../data/val
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np

from invsteg.eval.views import apply_view
from invsteg.ops.quantize import psnr
from invsteg.pipelines import hiding
from invsteg.train.data import image_paths, load_rgb
from invsteg.zoo import create_model
from results_file import command_line, publish

START, END = "<!-- precision_quality:start -->", "<!-- precision_quality:end -->"
WAYS = (("fp32", "fp32"), ("bf16", "fp32"), ("bf16", "bf16"))  # (hide, reveal)


def measure(model: str, images: list[np.ndarray]) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(hide, reveal) precision -> (stego PSNR, revealed secret PSNR mean, its worst)."""
    net = create_model(model)
    count = hiding.secrets_per_cover(net)
    stego_db: dict[str, list[float]] = {}
    secret_db: dict[tuple[str, str], list[float]] = {}
    for i, cover in enumerate(images):
        secrets = [images[(i + 1 + k) % len(images)] for k in range(count)]
        stegos = {}
        for hide in {h for h, _ in WAYS}:
            stegos[hide] = hiding.hide(cover, *secrets, net=net, precision=hide).stego
            stego_db.setdefault(hide, []).append(psnr(stegos[hide], cover))
        for hide, reveal in WAYS:
            revealed = hiding.reveal_all(stegos[hide], net=net, precision=reveal)
            db = float(np.mean([psnr(r, s) for r, s in zip(revealed, secrets, strict=True)]))
            secret_db.setdefault((hide, reveal), []).append(db)
    return {
        way: (float(np.mean(stego_db[way[0]])), float(np.mean(secret_db[way])), float(np.min(secret_db[way])))
        for way in WAYS
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--models", default="hinet-small,robust,robust-one")
    parser.add_argument("--views", default="center256,whole512")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.md"))
    args = parser.parse_args()
    photos = [load_rgb(path) for path in image_paths(args.val)]
    rows = []
    for view in args.views.split(","):
        images = [np.asarray(apply_view(photo, view)) for photo in photos]
        for model in args.models.split(","):
            for (hide, reveal), (stego, secret, worst) in measure(model, images).items():
                cells = [model, view, hide, reveal, f"{stego:.2f}", f"{secret:.2f} [{worst:.2f}]"]
                rows.append(f"| {' | '.join(cells)} |")
    publish(
        START,
        END,
        args.out,
        [
            START,
            f"## bf16 against fp32: quality, val split ({date.today().isoformat()})",
            "",
            f"`{command_line(__file__)}`: {len(photos)} val photos per view; stego and revealed "
            "secret PSNR in dB (secret: mean over secrets, mean [worst photo]), stego saved as 8-bit PNG.",
            "",
            "| model | view | hide | reveal | stego | revealed secret |",
            "|---|---|---|---|---:|---:|",
            *rows,
            "",
            "`hide --precision auto` (the default) is bf16 where the hardware computes it "
            "natively; `reveal` defaults to fp32.",
            END,
        ],
    )


if __name__ == "__main__":
    main()
