"""Hiding quality measured the way users meet it: after saving the stego as an 8-bit file.

Each pair (cover i, secret i+1 by default) is hidden and the secret is revealed from the
stego's 8-bit pixels (what a PNG holds exactly); the same is repeated for a JPEG Q95 stego
and for Gaussian noise of sigma 1/255 (the real attacks of :mod:`invsteg.ops.distortions`),
to show how fragile plain hiding is. The views are in ``docs/design.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean

import numpy as np
import torch
from PIL import Image

from invsteg.eval.metrics import psnr, psnr_y, ssim
from invsteg.eval.pattern import pattern_strength
from invsteg.models.contracts import ImageHider
from invsteg.ops.distortions import real_gaussian_noise, real_jpeg
from invsteg.pipelines import hiding

CHANNELS = {
    "png": "saved as 8-bit PNG",
    "jpeg95": "saved as JPEG Q95",
    "noise1": "Gaussian noise sigma 1/255",
}


def through_channel(stego: np.ndarray, channel: str, seed: int = 0) -> np.ndarray:
    """What the receiver gets of a ``(H, W, 3)`` uint8 stego: the same pixels (a PNG is
    lossless), the Pillow JPEG Q95 round trip, or 8-bit Gaussian noise of sigma 1."""
    if channel == "png":
        return stego.copy()
    if channel == "jpeg95":
        return real_jpeg(stego, 95)
    if channel == "noise1":
        return real_gaussian_noise(stego, 1.0, np.random.default_rng(seed))
    raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.tensor(image, dtype=torch.float64).permute(2, 0, 1)[None] / 255


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """PSNR (RGB and Y) and SSIM of two ``(H, W, 3)`` uint8 images."""
    ta, tb = _tensor(a), _tensor(b)
    return {"psnr": float(psnr(ta, tb)), "psnr_y": float(psnr_y(ta, tb)), "ssim": float(ssim(ta, tb))}


@dataclass
class PairResult:
    """One cover/secret pair: stego vs cover, and revealed vs secret per channel."""

    name: str
    stego: dict[str, float]
    secret: dict[str, dict[str, float]]  # per channel
    images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def evaluate_pair(
    name: str,
    cover: np.ndarray,
    secret: np.ndarray,
    net: ImageHider,
    channels: tuple[str, ...] = tuple(CHANNELS),
    precision: str = "fp32",
) -> PairResult:
    """Hide ``secret`` in ``cover`` (``(H, W, 3)`` uint8) in ``precision`` (see
    :func:`~invsteg.pipelines.hiding.hide`), send the stego through each of ``channels``
    and reveal from what arrives (in fp32, as ``reveal`` does by default); the secret is
    letterboxed to the cover's size."""
    stego = hiding.hide(cover, secret, net=net, precision=precision).stego
    received = {channel: through_channel(stego, channel) for channel in channels}
    revealed = {channel: hiding.reveal(image, net=net) for channel, image in received.items()}
    fitted = hiding.fit_secret(secret, (cover.shape[1], cover.shape[0]))
    saved = received.get("png", stego)
    return PairResult(
        name,
        compare(saved, cover) | {"pattern": pattern_strength(cover, saved)["worst"]},
        {channel: compare(image, fitted) for channel, image in revealed.items()},
        {"cover": cover, "stego": stego, "secret": fitted, "revealed": revealed.get("png", stego)},
    )


def summarize(results: list[PairResult]) -> dict[str, object]:
    """Mean and worst of every metric; worst is the lowest PSNR image, named. The stego's
    ``pattern`` (:func:`~invsteg.eval.pattern.pattern_strength`, levels) also has its max."""
    summary: dict[str, object] = {"images": len(results)}
    summary["stego"] = {k: mean(r.stego[k] for r in results) for k in ("psnr", "psnr_y", "ssim", "pattern")}
    summary["stego"]["pattern_max"] = max(r.stego["pattern"] for r in results)
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
