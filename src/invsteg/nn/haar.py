"""Haar downsampling as an invertible piece, in IRN's layout and scale."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from invsteg.ops.wavelets import haar_dwt, haar_iwt

# IRN's filters are the orthonormal Haar ones times 1/2 (so the low band is the 2x2 mean,
# an image in [0, 1]) with the two edge bands' signs flipped; matching them lets
# converted official weights run unchanged.
_BAND_SIGNS = (1.0, -1.0, -1.0, 1.0)


class HaarSqueeze(nn.Module):
    """``(B, C, H, W) -> (B, 4C, H/2, W/2)``: bands ``[mean, left-right, top-bottom,
    diagonal]`` of every 2x2 block, each ``C`` channels, the layout and scale of the
    official IRN code; reverse puts the blocks back exactly. H and W must be even."""

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        if reverse:
            bands = x.chunk(4, dim=1)
            unscaled = [2 * sign * band for sign, band in zip(_BAND_SIGNS, bands, strict=True)]
            return haar_iwt(torch.cat(unscaled, dim=1))
        bands = haar_dwt(x).chunk(4, dim=1)
        return torch.cat([sign / 2 * band for sign, band in zip(_BAND_SIGNS, bands, strict=True)], dim=1)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Every value is scaled by 1/2 (orthonormal Haar, halved): ``log |det| = -n log 2``."""
        log_det = x.new_full((x.shape[0],), -math.log(2.0) * x[0].numel())
        return self(x), log_det
