"""Loss terms: HiNet's, and penalties on a visible change (the straight-through 8-bit
rounding is invsteg.ops.quantize.round_8bit)."""

from __future__ import annotations

import torch
from torch import Tensor

from invsteg.ops.wavelets import haar_dwt


def mse_255(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared error on the 0..255 scale (PSNR = 10 log10(255^2 / this))."""
    return ((a - b) * 255).float().pow(2).mean()


def low_frequency(x: Tensor) -> Tensor:
    """The LL subband of one Haar level, ``(B, 3, H/2, W/2)``."""
    return haar_dwt(x)[:, : x.shape[1]]


def colour_parts(residual: Tensor) -> Tensor:
    """``(B, 3, H, W)`` RGB change in ``[0, 1]`` units -> luminance, R-G and B-G in levels,
    the parts :func:`invsteg.eval.pattern.pattern_strength` measures."""
    r, g, b = (residual.float() * 255).unbind(1)
    return torch.stack((0.299 * r + 0.587 * g + 0.114 * b, r - g, b - g), dim=1)


def peak_amplitudes(residual: Tensor, min_period: float = 4.0, top: int = 8) -> Tensor:
    """``(B, 3, top)``: the amplitudes (levels) of the ``top`` strongest sinusoids of period
    ``>= min_period`` in each colour part of ``residual`` ``(B, 3, H, W)``, the trainable twin
    of the visible-pattern measure. Noise spreads over all frequencies and barely registers;
    a grating puts its whole amplitude in one."""
    parts = colour_parts(residual)
    h, w = parts.shape[-2:]
    spectrum = torch.fft.rfft2(parts - parts.mean(dim=(2, 3), keepdim=True)).abs() * (2.0 / (h * w))
    fy = torch.fft.fftfreq(h, device=parts.device)[:, None]
    fx = torch.fft.rfftfreq(w, device=parts.device)[None, :]
    radius = torch.hypot(fy, fx)
    allowed = (radius > 0) & (radius <= 1.0 / min_period)
    amplitudes = spectrum.flatten(2)[..., allowed.flatten()]
    return amplitudes.topk(min(top, amplitudes.shape[-1]), dim=-1).values


def spectral_peaks(residual: Tensor, top: int = 8) -> Tensor:
    """Mean square (levels^2) of :func:`peak_amplitudes`: the ``pattern`` loss term."""
    return peak_amplitudes(residual, top=top).square().mean()


def chroma(residual: Tensor) -> Tensor:
    """Mean square change (levels^2) of R-G and B-G: colour noise shows more than grey."""
    return colour_parts(residual)[:, 1:].square().mean()
