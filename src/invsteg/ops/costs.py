"""Embedding costs: how much a +-1 change of each 8-bit sample would give away.

HILL (Li, Wang, Huang and Li, "A new cost function for spatial image steganography", ICIP
2014): a change is cheap where a high-pass residual is large around it and expensive in smooth
areas, ``rho = L15 * (1 / (L3 * |KB * x| / 4))``, with the KB filter, 3x3 and 15x15 means, and
symmetric borders, as conseal computes it (``tests/test_costs.py`` checks it against
conseal). Pure numpy: box means by cumulative sums, no scipy (a 1 MP image takes ~0.1 s).
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float32).eps)  # conseal's floor on the smoothed residual


def _box_mean(x: np.ndarray, size: int) -> np.ndarray:
    """The ``size x size`` mean of ``x`` ``(H, W)`` with symmetric borders, ``(H, W)``."""
    padded = np.pad(x, size // 2, mode="symmetric")
    total = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    np.cumsum(np.cumsum(padded, axis=0), axis=1, out=total[1:, 1:])
    window = total[size:, size:] - total[:-size, size:] - total[size:, :-size] + total[:-size, :-size]
    return window / (size * size)


def kb_residual(x: np.ndarray) -> np.ndarray:
    """The KB high-pass residual ``(H, W)`` of ``x`` ``(H, W)`` (symmetric borders)."""
    p = np.pad(x.astype(np.float64), 1, mode="symmetric")
    centre = p[1:-1, 1:-1]
    edges = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
    corners = p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
    return 2 * edges - corners - 4 * centre


def hill(channel: np.ndarray) -> np.ndarray:
    """HILL's cost of a +-1 change of each sample of one channel ``(H, W)`` uint8, ``(H, W)``."""
    smoothed = _box_mean(np.abs(kb_residual(channel)) / 4, 3)
    return _box_mean(1 / np.maximum(smoothed, EPS), 15)


def hill_rgb(pixels: np.ndarray) -> np.ndarray:
    """HILL per channel of an ``(H, W, 3)`` uint8 image, ``(H, W, 3)`` float64."""
    return np.stack([hill(pixels[..., c]) for c in range(pixels.shape[-1])], axis=-1)
