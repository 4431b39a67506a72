"""Non-invertible subnetworks used inside couplings."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DenseBlock(nn.Module):
    """HiNet's residual dense block: 5 3x3 convs, each seeing all earlier features.

    ``(B, in_channels, H, W) -> (B, out_channels, H, W)``. The last conv starts at zero,
    so every coupling starts as the identity and training begins stable.
    """

    def __init__(self, in_channels: int, out_channels: int, growth: int = 32, depth: int = 5) -> None:
        super().__init__()
        widths = [in_channels + i * growth for i in range(depth)]
        self.convs = nn.ModuleList(nn.Conv2d(w, growth, 3, padding=1) for w in widths[:-1])
        self.convs.append(nn.Conv2d(widths[-1], out_channels, 3, padding=1))
        self.act = nn.LeakyReLU()
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        features = x
        for conv in self.convs[:-1]:
            features = torch.cat((features, self.act(conv(features))), dim=1)
        return self.convs[-1](features)
