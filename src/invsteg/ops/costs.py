"""Embedding costs: how much a +-1 change of each 8-bit sample would give away.

HILL (Li, Wang, Huang and Li, "A new cost function for spatial image steganography", ICIP
2014): a change is cheap where a high-pass residual is large around it and expensive in smooth
areas, ``rho = L15 * (1 / (L3 * |KB * x| / 4))``, with the KB filter, 3x3 and 15x15 means, and
symmetric borders, as conseal computes it (``tests/test_costs.py`` checks it against
conseal). Pure numpy in float32, as conseal computes it: box means as shifted sums, no scipy.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float32).eps)  # conseal's floor on the smoothed residual


def _box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """The ``size x size`` mean of ``x`` ``(H, W)`` with symmetric borders, ``(H, W)`` float32:
    ``size`` shifted sums per axis (no running sums, which lose small values in float32)."""
    height, width = x.shape
    padded = np.pad(x.astype(np.float32), size // 2, mode="symmetric")
    rows = padded[:height].copy()
    for i in range(1, size):
        rows += padded[i : i + height]
    out = rows[:, :width].copy()
    for j in range(1, size):
        out += rows[:, j : j + width]
    out /= size * size
    return out


def kb_residual(x: np.ndarray) -> np.ndarray:
    """The KB high-pass residual ``(H, W)`` float32 of ``x`` ``(H, W)`` (symmetric borders)."""
    p = np.pad(x.astype(np.float32), 1, mode="symmetric")
    centre = p[1:-1, 1:-1]
    edges = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
    corners = p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
    return 2 * edges - corners - 4 * centre


def hill(channel: np.ndarray) -> np.ndarray:
    """HILL's cost of a +-1 change of each sample of one channel ``(H, W)`` uint8, ``(H, W)``."""
    smoothed = _box_mean(np.abs(kb_residual(channel)) / 4, 3)
    return _box_mean(1 / np.maximum(smoothed, EPS), 15)


def hill_rgb(pixels: np.ndarray) -> np.ndarray:
    """HILL per channel of an ``(H, W, 3)`` uint8 image, ``(H, W, 3)`` float32."""
    return np.stack([hill(pixels[..., c]) for c in range(pixels.shape[-1])], axis=-1)
