"""Figure: val covers (whole512 view) above their embed-file stegos, each carrying a random
file of ``--payload`` (default: the reported capacity), and below them the residual
|stego - cover| amplified ``--gain`` times (clipped at 255), so the edits show; all three
rows downscaled to 256 px for the page (the residual by block maximum: no edit averages away).

    python benchmarks/embed_figure.py                       # writes docs/embed_figure.png
    python benchmarks/embed_figure.py --model stegcinn-fast --out docs/embed_figure_fast.png
    python benchmarks/embed_figure.py --payload safe --out /tmp/embed_figure_safe.png
    python benchmarks/embed_figure.py --view center256 --count 1 --out /tmp/embed_figure.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from embed_file import payload_label, payload_size
from invsteg.eval.views import apply_view
from invsteg.payload import sealed
from invsteg.pipelines import embedding
from invsteg.train.data import image_paths, load_rgb

SIDE = 256
LABEL = 18
PASSPHRASE = "figure"
FILE_NAME = "payload.bin"


def residual(stego: np.ndarray, cover: np.ndarray, gain: float) -> np.ndarray:
    """``|stego - cover| * gain`` per colour sample, clipped to 0..255, as uint8."""
    diff = np.abs(stego.astype(np.int16) - cover.astype(np.int16)).astype(np.float64)
    return np.clip(diff * gain, 0, 255).astype(np.uint8)


def block_max(pixels: np.ndarray, side: int) -> Image.Image:
    """``pixels`` ``(H, W, 3)`` downscaled to ``side`` x ``side`` by the maximum of each block
    (an edge padded with zeros), so that a single changed sample still shows."""
    factor = max(1, -(-max(pixels.shape[:2]) // side))
    height, width = (-(-n // factor) * factor for n in pixels.shape[:2])
    padded = np.zeros((height, width, 3), dtype=pixels.dtype)
    padded[: pixels.shape[0], : pixels.shape[1]] = pixels
    pooled = padded.reshape(height // factor, factor, width // factor, factor, 3).max(axis=(1, 3))
    return Image.fromarray(pooled).resize((side, side), Image.Resampling.NEAREST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--model", default=embedding.default_embed_model())
    parser.add_argument("--weights", type=Path, help="a weights file (default: the model's shipped one)")
    parser.add_argument("--view", default="whole512", help="center256, whole512 or full")
    parser.add_argument("--count", type=int, default=6, help="covers, spread over the val split")
    parser.add_argument(
        "--payload",
        default="1.0",
        help="a fraction of the capacity (1.0, 0.25), a percentage (50%%), safe (the safe size) "
        "or bytes (an integer)",
    )
    parser.add_argument("--gain", type=float, default=20.0, help="residual amplification")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "embed_figure.png"
    )
    args = parser.parse_args()
    payload_label(args.payload)  # a typo fails before the model loads
    net = embedding.load_embedding_model(args.model, args.weights)
    locator = sealed.locator_key(PASSPHRASE)  # Argon2id, once
    paths = image_paths(args.val)
    step = max(1, len(paths) // args.count)
    chosen = paths[::step][: args.count]
    sheet = Image.new("RGB", (SIDE * len(chosen), 3 * (SIDE + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    rng = np.random.default_rng(args.seed)
    for column, path in enumerate(chosen):
        cover = np.asarray(apply_view(load_rgb(path), args.view))
        room = embedding.capacity(cover, model=net, passphrase=PASSPHRASE, file_name=FILE_NAME)
        size = min(payload_size(args.payload, room), room.net_bytes)
        stego, report = embedding.embed_file(
            cover,
            rng.bytes(size),
            file_name=FILE_NAME,
            passphrase=PASSPHRASE,
            model=net,
            random_bytes=rng.bytes,  # the message salt too: a rerun draws the same figure
            locator=locator,
        )
        changed = report.changed_samples / cover.size
        print(
            f"{path.stem}: {size} of {room.net_bytes} B, {report.rounds} pass(es), "
            f"{report.steer_rounds} steering rounds, {100 * changed:.2f}% of samples changed, "
            f"max |diff| {int(np.abs(stego.astype(np.int16) - cover).max())}, "
            f"PSNR {report.psnr_db:.2f} dB"
        )
        hidden = f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"
        rows = (
            (
                Image.fromarray(cover).resize((SIDE, SIDE), Image.Resampling.LANCZOS),
                path.stem.removeprefix("lxqt_")[:30],
            ),
            (
                Image.fromarray(stego).resize((SIDE, SIDE), Image.Resampling.LANCZOS),
                f"stego, {hidden} hidden, {report.psnr_db:.1f} dB",
            ),
            (
                block_max(residual(stego, cover, args.gain), SIDE),
                f"|stego - cover| x{args.gain:g}, {100 * changed:.1f}% changed",
            ),
        )
        for row, (tile, text) in enumerate(rows):
            top = row * (SIDE + LABEL)
            sheet.paste(tile, (column * SIDE, top + LABEL))
            draw.text((column * SIDE + 4, top + 3), text, fill="black")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out} ({args.view}, payload {payload_label(args.payload)})")


if __name__ == "__main__":
    main()
