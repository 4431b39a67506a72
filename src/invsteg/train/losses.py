"""Straight-through 8-bit rounding and HiNet's loss terms."""

from __future__ import annotations

from torch import Tensor

from invsteg.wavelets import haar_dwt


def quantize_8bit(x: Tensor) -> Tensor:
    """Clip to ``[0, 1]`` and round to 8 bits, passing the gradient straight through."""
    rounded = (x.clamp(0, 1) * 255).round() / 255
    return x + (rounded - x).detach()


def mse_255(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error on the 0..255 scale (PSNR = 10 log10(255^2 / this))."""
    return ((a - b) * 255).float().pow(2).mean()


def low_frequency(x: Tensor) -> Tensor:
    """The LL subband of one Haar level, ``(B, 3, H/2, W/2)``."""
    return haar_dwt(x)[:, : x.shape[1]]
