"""Fixed random orthogonal channel mixing between couplings (Ardizzone et al. 2019)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def random_orthogonal(channels: int, seed: int) -> Tensor:
    """A ``(channels, channels)`` float64 orthogonal matrix, the same for the same seed.

    QR of a seeded standard normal matrix, with the signs of R's diagonal moved into Q:
    that makes the factorisation unique (so the result depends only on the seed, not on
    the LAPACK build's sign convention) and Q Haar-distributed.
    """
    generator = torch.Generator().manual_seed(seed)
    gaussian = torch.randn(channels, channels, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(gaussian)
    return q * torch.sign(torch.diagonal(r))


class FixedOrthogonalMix(nn.Module):
    """A fixed, seeded orthogonal 1x1 mixing of channels: ``y = W x`` per pixel, reverse ``W^T y``.

    Between couplings it makes every channel interact with every other one (a fixed
    rotation instead of a permutation). ``W`` is a non-persistent buffer rebuilt from
    ``seed``, so it is in no state dict; it is orthogonal, so ``log |det| = 0``.

    The product is a weighted channel sum (broadcast multiply, then sum), not a matmul or
    a 1x1 conv, so TF32 or bf16 matmul settings cannot make it lossy and the reverse stays
    exact to rounding. ``(B, channels, H, W)`` both ways; ``cond`` is ignored.
    """

    def __init__(self, channels: int, seed: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        self.channels = channels
        self.seed = seed
        self.register_buffer("weight", random_orthogonal(channels, seed), persistent=False)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        if x.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channels, got {x.shape[1]}")
        weight = self.weight.T if reverse else self.weight
        weight = weight.to(x.dtype)[None, :, :, None, None]  # (1, out, in, 1, 1)
        return (weight * x[:, None]).sum(dim=2)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(forward(x), log |det J| per sample)``; an orthogonal map keeps volume: zeros."""
        return self(x, cond=cond), x.new_zeros(x.shape[0])

    def extra_repr(self) -> str:
        return f"channels={self.channels}, seed={self.seed}"
