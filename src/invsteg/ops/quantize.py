"""8-bit images and float tensors: the one conversion each way, the one rounding, the one PSNR.

Images are ``(H, W, 3)`` uint8 numpy arrays; tensors are ``(1, 3, H, W)`` in ``[0, 1]``.
torch is imported inside the functions that need it, so the PSNR costs no torch import.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

_BAND = 256  # rows per band in whole-image numpy work: no float64 copies of whole photos


def to_tensor(pixels: np.ndarray, like: Tensor) -> Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` in ``[0, 1]``, in ``like``'s dtype and device."""
    import torch

    # a copy: arrays from PIL are read-only, which torch.from_numpy warns about
    rgb = torch.from_numpy(np.array(pixels, dtype=np.uint8))
    return rgb.to(like).permute(2, 0, 1)[None] / 255


def to_uint8(image: Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` (any range) -> ``(H, W, 3)`` uint8: clipped to ``[0, 1]`` and rounded,
    as an image file holds it."""
    import torch

    return (image[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def round_8bit(x: Tensor) -> Tensor:
    """Clip to ``[0, 1]`` and round to 8 bits, passing the gradient straight through
    (training through the rounding a saved file applies)."""
    rounded = (x.clamp(0, 1) * 255).round() / 255
    return x + (rounded - x).detach()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of one shape; ``inf`` when they are identical.

    Summed in integer row bands, so a 100 MP photo needs no float64 copy.
    """
    squared = 0
    for top in range(0, a.shape[0], _BAND):
        diff = a[top : top + _BAND].astype(np.int32) - b[top : top + _BAND]
        squared += int(np.square(diff).sum(dtype=np.int64))
    mse = squared / a.size
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def finite_or_none(value: float) -> float | None:
    """``value``, or ``None`` for inf/NaN (JSON has no infinity)."""
    return value if math.isfinite(value) else None
