"""Non-invertible subnetworks used inside couplings."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DenseBlock(nn.Module):
    """HiNet's residual dense block: 5 3x3 convs, each seeing all earlier features.

    ``(B, in_channels, H, W) -> (B, out_channels, H, W)``; ``slope`` is the LeakyReLU's
    (HiNet 0.01, IRN 0.2). The last conv starts at zero,
    so every coupling starts as the identity and training begins stable.
    """

    def __init__(
        self, in_channels: int, out_channels: int, growth: int = 32, depth: int = 5, slope: float = 0.01
    ) -> None:
        super().__init__()
        widths = [in_channels + i * growth for i in range(depth)]
        self.convs = nn.ModuleList(nn.Conv2d(w, growth, 3, padding=1) for w in widths[:-1])
        self.convs.append(nn.Conv2d(widths[-1], out_channels, 3, padding=1))
        self.act = nn.LeakyReLU(slope)
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        features = x
        for conv in self.convs[:-1]:
            features = torch.cat((features, self.act(conv(features))), dim=1)
        return self.convs[-1](features)


def dense_blocks_same_input(blocks: Sequence[DenseBlock], x: Tensor) -> list[Tensor]:
    """``[block(x) for block in blocks]``, equal up to float rounding and faster on a CPU,
    with or without autograd.

    A conv of the concatenation ``[x, y1, ..., yk]`` is the sum of convs of the parts
    with the matching slices of its weights, so no feature map is ever concatenated:
    each layer's pre-activation starts as the conv of ``x`` and every later feature adds
    its conv in place. Same multiply-adds as :meth:`DenseBlock.forward`, run
    channels-last, which oneDNN's convs at these small channel counts take without
    reordering; every tensor stays dense (stacking the convs of one input into one call
    made channel slices, and strided adds cost more than the saved calls). How much faster
    it is per use: benchmarks/results.md, "Fused dense subnets" (benchmarks/fused_subnets.py).
    Needs the blocks' convs as built here: 3x3, padding 1, stride 1.
    """
    width = x.shape[1]
    x = x.contiguous(memory_format=torch.channels_last)
    outputs = []
    for block in blocks:
        convs = block.convs
        pre = [F.conv2d(x, _nhwc(conv.weight[:, :width]), conv.bias, padding=1) for conv in convs]
        start = width
        for j in range(1, len(convs)):
            feature = F.leaky_relu(pre[j - 1], block.act.negative_slope, inplace=True)
            for k in range(j, len(convs)):
                weight = _nhwc(convs[k].weight[:, start : start + feature.shape[1]])
                pre[k].add_(F.conv2d(feature, weight, padding=1))
            start += feature.shape[1]
        outputs.append(pre[-1].contiguous())
    return outputs


def _nhwc(weight: Tensor) -> Tensor:
    return weight.contiguous(memory_format=torch.channels_last)
