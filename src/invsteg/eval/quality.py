"""Hiding quality measured the way users meet it: after saving the stego as an 8-bit file.

Each pair (cover i, secret i+1 by default) is hidden, the stego is encoded as PNG and
decoded again, the secret is revealed from that; the same is repeated for a JPEG Q95
stego and for Gaussian noise of sigma 1/255, to show how fragile plain hiding is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from statistics import mean

import numpy as np
import torch
from PIL import Image

from invsteg import api
from invsteg.eval.metrics import psnr, psnr_y, ssim

CHANNELS = {
    "png": "saved as 8-bit PNG",
    "jpeg95": "saved as JPEG Q95",
    "noise1": "Gaussian noise sigma 1/255",
}


def through_channel(stego: np.ndarray, channel: str, seed: int = 0) -> np.ndarray:
    """What the receiver gets: PNG round trip, JPEG Q95, or 8-bit noise of sigma 1."""
    if channel == "noise1":
        noise = np.random.default_rng(seed).normal(0, 1, stego.shape)
        return np.clip(np.round(stego + noise), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    options = {"format": "JPEG", "quality": 95} if channel == "jpeg95" else {"format": "PNG"}
    Image.fromarray(stego).save(buffer, **options)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.tensor(image, dtype=torch.float64).permute(2, 0, 1)[None] / 255


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """PSNR (RGB and Y) and SSIM of two ``(H, W, 3)`` uint8 images."""
    ta, tb = _tensor(a), _tensor(b)
    return {"psnr": float(psnr(ta, tb)), "psnr_y": float(psnr_y(ta, tb)), "ssim": float(ssim(ta, tb))}


@dataclass
class PairResult:
    name: str
    stego: dict[str, float]
    secret: dict[str, dict[str, float]]  # per channel
    images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def evaluate_pair(
    name: str, cover: np.ndarray, secret: np.ndarray, net: object, channels: tuple[str, ...] = tuple(CHANNELS)
) -> PairResult:
    stego = api.hide(cover, secret, net=net).stego
    received = {channel: through_channel(stego, channel) for channel in channels}
    revealed = {channel: api.reveal(image, net=net) for channel, image in received.items()}
    fitted = api.fit_secret(secret, (cover.shape[1], cover.shape[0]))
    return PairResult(
        name,
        compare(received.get("png", stego), cover),
        {channel: compare(image, fitted) for channel, image in revealed.items()},
        {"cover": cover, "stego": stego, "secret": fitted, "revealed": revealed.get("png", stego)},
    )


def summarize(results: list[PairResult]) -> dict[str, object]:
    """Mean and worst of every metric; worst is the lowest PSNR image, named."""
    summary: dict[str, object] = {"images": len(results)}
    summary["stego"] = {k: mean(r.stego[k] for r in results) for k in ("psnr", "psnr_y", "ssim")}
    worst_stego = min(results, key=lambda r: r.stego["psnr"])
    summary["stego_worst"] = {"name": worst_stego.name, **worst_stego.stego}
    for channel in results[0].secret:
        summary[f"secret_{channel}"] = {
            k: mean(r.secret[channel][k] for r in results) for k in ("psnr", "psnr_y", "ssim")
        }
        worst = min(results, key=lambda r: r.secret[channel]["psnr"])
        summary[f"secret_{channel}_worst"] = {"name": worst.name, **worst.secret[channel]}
    return summary


def figure(result: PairResult) -> Image.Image:
    """cover | stego | |stego - cover| x10 | secret | revealed | |revealed - secret| x10."""
    im = result.images

    def amplified(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.clip(np.abs(a.astype(int) - b.astype(int)) * 10, 0, 255).astype(np.uint8)

    panels = [
        im["cover"], im["stego"], amplified(im["stego"], im["cover"]),
        im["secret"], im["revealed"], amplified(im["revealed"], im["secret"]),
    ]  # fmt: skip
    return Image.fromarray(np.concatenate(panels, axis=1))
