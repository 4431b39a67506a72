"""HiNet's loss terms (the straight-through 8-bit rounding is invsteg.ops.quantize.round_8bit)."""

from __future__ import annotations

from torch import Tensor

from invsteg.ops.wavelets import haar_dwt


def mse_255(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error on the 0..255 scale (PSNR = 10 log10(255^2 / this))."""
    return ((a - b) * 255).float().pow(2).mean()


def low_frequency(x: Tensor) -> Tensor:
    """The LL subband of one Haar level, ``(B, 3, H/2, W/2)``."""
    return haar_dwt(x)[:, : x.shape[1]]
