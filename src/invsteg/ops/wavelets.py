"""Orthonormal Haar DWT / IWT on ``(B, C, H, W)`` tensors, without in-place ops.

Subbands are concatenated band-major as ``[LL, HL, LH, HH]`` (each ``C`` channels),
the layout of the official HiNet code, so converted checkpoints line up.
"""

from __future__ import annotations

import torch
from torch import Tensor


def haar_dwt(x: Tensor) -> Tensor:
    """``(B, C, H, W)`` with even H, W -> ``(B, 4C, H/2, W/2)``; orthonormal (norm preserved)."""
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"haar_dwt needs even height and width, got {tuple(x.shape[-2:])}")
    a = x[..., 0::2, 0::2]  # even row, even col
    b = x[..., 1::2, 0::2]  # odd row, even col
    c = x[..., 0::2, 1::2]  # even row, odd col
    d = x[..., 1::2, 1::2]  # odd row, odd col
    ll = (a + b + c + d) / 2
    hl = (-a - b + c + d) / 2
    lh = (-a + b - c + d) / 2
    hh = (a - b - c + d) / 2
    return torch.cat((ll, hl, lh, hh), dim=1)


def haar_iwt(y: Tensor) -> Tensor:
    """Inverse of :func:`haar_dwt`: ``(B, 4C, h, w)`` -> ``(B, C, 2h, 2w)``."""
    if y.shape[1] % 4:
        raise ValueError(f"haar_iwt needs a channel count divisible by 4, got {y.shape[1]}")
    ll, hl, lh, hh = y.chunk(4, dim=1)
    a = (ll - hl - lh + hh) / 2
    b = (ll - hl + lh - hh) / 2
    c = (ll + hl - lh - hh) / 2
    d = (ll + hl + lh + hh) / 2
    # Interleave rows then columns: out[2i, 2j] = a, out[2i+1, 2j] = b, ...
    even_cols = torch.stack((a, b), dim=-2).flatten(-3, -2)  # rows interleaved, even columns
    odd_cols = torch.stack((c, d), dim=-2).flatten(-3, -2)
    return torch.stack((even_cols, odd_cols), dim=-1).flatten(-2, -1)
