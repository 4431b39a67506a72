"""Figure: val covers (whole512 view) above their embed-file stegos, each carrying a random
file that fills the reported capacity; both downscaled to 256 px for the page.

    python benchmarks/embed_figure.py                       # writes docs/embed_figure.png
    python benchmarks/embed_figure.py --model stegcinn-fast --out docs/embed_figure_fast.png
    python benchmarks/embed_figure.py --alpha 0.1 --no-ceiling --out /tmp/paper_alpha.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from invsteg.eval.views import apply_view
from invsteg.pipelines import embedding
from invsteg.pipelines.embedding import EmbedSettings
from invsteg.train.data import image_paths, load_rgb

SIDE = 256
LABEL = 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--model", default=embedding.default_embed_model())
    parser.add_argument("--weights", type=Path, help="a weights file (default: the model's shipped one)")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--alpha", type=float, default=EmbedSettings.alpha)
    parser.add_argument("--ceiling", type=float, default=EmbedSettings.ceiling)
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "embed_figure.png"
    )
    args = parser.parse_args()
    net = embedding.load_embedding_model(args.model, args.weights)
    paths = image_paths(args.val)
    step = max(1, len(paths) // args.count)
    chosen = paths[::step][: args.count]
    sheet = Image.new("RGB", (SIDE * len(chosen), 2 * (SIDE + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    rng = np.random.default_rng(args.seed)
    settings = EmbedSettings(alpha=args.alpha, ceiling=None if args.no_ceiling else args.ceiling)
    for column, path in enumerate(chosen):
        cover = np.asarray(apply_view(load_rgb(path), "whole512"))
        room = embedding.capacity(cover, model=net, passphrase="figure", file_name="payload.bin").net_bytes
        stego, report = embedding.embed_file(
            cover,
            rng.bytes(room),
            file_name="payload.bin",
            passphrase="figure",
            model=net,
            settings=settings,
            seed=args.seed,
        )
        print(f"{path.stem}: {room} B, {report.rounds} pass(es), PSNR {report.psnr_db:.2f} dB")
        for row, (pixels, text) in enumerate(
            ((cover, path.stem.removeprefix("lxqt_")[:30]), (stego, f"stego, {room / 1024:.0f} KB hidden"))
        ):
            tile = Image.fromarray(pixels).resize((SIDE, SIDE), Image.Resampling.LANCZOS)
            top = row * (SIDE + LABEL)
            sheet.paste(tile, (column * SIDE, top + LABEL))
            draw.text((column * SIDE + 4, top + 3), text, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
