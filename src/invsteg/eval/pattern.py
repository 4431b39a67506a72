"""How visible a stego's change is as a *pattern*: its strongest periodic component.

A residual of independent noise spreads its energy over all frequencies, and each frequency
gets almost none; a grating (the stripes of a badly trained hider) puts it all in one. The
measure is the amplitude, in 8-bit levels, of the strongest sinusoid of period >= 4 px in
``stego - cover``: a grating ``A cos(2 pi f . x)`` measures ``A``. It is taken on luminance
and on the colour differences R-G and B-G, where stripes show as purple and green.
"""

from __future__ import annotations

import numpy as np

MIN_PERIOD_PX = 4.0
_LUMA = np.array([0.299, 0.587, 0.114])


def strongest_period(residual: np.ndarray, min_period: float = MIN_PERIOD_PX) -> tuple[float, float]:
    """``(amplitude in levels, period in px)`` of the strongest sinusoid of period
    ``>= min_period`` in a ``(H, W)`` residual (its mean, the zero frequency, excluded)."""
    h, w = residual.shape
    spectrum = np.abs(np.fft.rfft2(residual - residual.mean())) * 2.0 / (h * w)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.hypot(fy, fx)
    allowed = (radius > 0) & (radius <= 1.0 / min_period)
    spectrum = np.where(allowed, spectrum, 0.0)
    peak = np.unravel_index(int(np.argmax(spectrum)), spectrum.shape)
    return float(spectrum[peak]), float(1.0 / radius[peak]) if radius[peak] > 0 else float("inf")


def pattern_strength(cover: np.ndarray, stego: np.ndarray) -> dict[str, float]:
    """Strongest periodic component of ``stego - cover`` (``(H, W, 3)`` uint8 each), in
    levels: ``{"luma": ..., "r_g": ..., "b_g": ..., "worst": max of the three}``."""
    if cover.shape != stego.shape or cover.ndim != 3 or cover.shape[2] != 3:
        raise ValueError(
            f"cover and stego must be equal (H, W, 3) images, got {cover.shape} and {stego.shape}"
        )
    diff = stego.astype(np.float64) - cover.astype(np.float64)
    parts = {
        "luma": diff @ _LUMA,
        "r_g": diff[..., 0] - diff[..., 1],
        "b_g": diff[..., 2] - diff[..., 1],
    }
    out = {name: strongest_period(part)[0] for name, part in parts.items()}
    out["worst"] = max(out.values())
    return out
