"""PSNR (RGB and Y) and SSIM on ``(B, 3, H, W)`` tensors in ``[0, 1]``, for training and evaluation.

The PSNR of two uint8 images (what the command line reports) is
:func:`invsteg.ops.quantize.psnr`, which needs no torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # ITU-R BT.601, as in the papers' Y-PSNR


def psnr(a: Tensor, b: Tensor, peak: float = 1.0) -> Tensor:
    """Per-image PSNR in dB, ``(B,)``; identical images give ``inf``."""
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(peak**2 / mse)


def rgb_to_y(x: Tensor) -> Tensor:
    """BT.601 luma on the 16..235 scale divided by 255: ``(B, 3, H, W) -> (B, 1, H, W)``."""
    w = x.new_tensor(_Y_WEIGHTS).view(1, 3, 1, 1)
    return (16 + (x * w).sum(1, keepdim=True)) / 255


def psnr_y(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR of BT.601 luma (:func:`rgb_to_y`), ``(B,)``: the papers' Y-PSNR."""
    return psnr(rgb_to_y(a), rgb_to_y(b))


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype) -> Tensor:
    """The 1-D Gaussian ``(size,)``; the 2-D window is its outer product, applied as two
    1-D passes (11x fewer multiplies per pixel than the 11x11 kernel, the same result)."""
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: Tensor, b: Tensor, window: int = 11, sigma: float = 1.5) -> Tensor:
    """Per-image SSIM (Wang et al. 2004; Gaussian 11x11, sigma 1.5, 'valid' region), ``(B,)``,
    averaged over channels."""
    a, b = a.double(), b.double()
    c = a.shape[1]
    g = _gaussian_window(window, sigma, a.dtype).to(a.device)
    down = g.view(1, 1, window, 1).expand(c, 1, window, 1)
    across = g.view(1, 1, 1, window).expand(c, 1, 1, window)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(x, down, groups=c), across, groups=c)

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return (num / den).flatten(1).mean(1)
