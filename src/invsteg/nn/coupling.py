"""One affine coupling class; HiNet, Steg-cINN and the robust model are configurations of it."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

SubnetFactory = Callable[[int, int], nn.Module]
ScaleFunction = Callable[[Tensor], Tensor]


def hinet_scale(clamp: float) -> ScaleFunction:
    """HiNet's ``e(s) = exp(2 * clamp * (sigmoid(s) - 0.5))``: scale in ``(e^-clamp, e^clamp)``."""

    def log_scale(s: Tensor) -> Tensor:
        return 2 * clamp * (torch.sigmoid(s) - 0.5)

    return log_scale


def soft_clamp_scale(clamp: float) -> ScaleFunction:
    """Ardizzone et al.'s soft clamp ``exp(clamp * 2/pi * atan(s / clamp))``."""

    def log_scale(s: Tensor) -> Tensor:
        return clamp * (2 / math.pi) * torch.atan(s / clamp)

    return log_scale


class AffineCoupling(nn.Module):
    """Split the channels into ``x1 | x2`` and couple them:

    ``y1 = x1 * exp(log_scale(sigma(x2))) + phi(x2)`` (the scale only if ``affine_first``),
    ``y2 = x2 * exp(log_scale(rho(y1))) + eta(y1)``.

    Every subnet also sees ``cond`` (concatenated on channels) when ``cond_channels > 0``.
    With ``affine_first=False`` and :func:`hinet_scale` this is exactly HiNet's block.

    Shapes: ``x`` is ``(B, split + rest, H, W)``, ``cond`` is ``(B, cond_channels, H, W)``.
    :meth:`forward_with_log_det` also returns ``log |det J|`` for likelihood training.

    On a CPU, dense-block subnets that read the same input run through
    :func:`~invsteg.nn.subnets.dense_blocks_same_input`: the same function up to float
    rounding, in both directions (so encode and decode agree) and under autograd, and
    faster there (see its docstring). Other devices run the blocks as written.
    """

    def __init__(
        self,
        channels: int,
        split: int,
        subnet: SubnetFactory,
        log_scale: ScaleFunction,
        *,
        affine_first: bool = False,
        cond_channels: int = 0,
    ) -> None:
        super().__init__()
        if not 0 < split < channels:
            raise ValueError(f"split must be in (0, {channels}), got {split}")
        self.split = split
        self.log_scale = log_scale
        rest = channels - split
        self.phi = subnet(rest + cond_channels, split)
        self.sigma = subnet(rest + cond_channels, split) if affine_first else None
        self.rho = subnet(split + cond_channels, rest)
        self.eta = subnet(split + cond_channels, rest)
        self.cond_channels = cond_channels

    def _pair(self, first: nn.Module | None, second: nn.Module, h: Tensor) -> tuple[Tensor | None, Tensor]:
        """``(first(h), second(h))`` (``first`` may be None), fused on a CPU."""
        from invsteg.nn.subnets import DenseBlock, dense_blocks_same_input

        subnets = [m for m in (first, second) if m is not None]
        if h.device.type == "cpu" and all(isinstance(m, DenseBlock) for m in subnets):
            outputs = dense_blocks_same_input(subnets, h)
        else:
            outputs = [m(h) for m in subnets]
        return (outputs[0] if first is not None else None), outputs[-1]

    def _in(self, x: Tensor, cond: Tensor | None) -> Tensor:
        if self.cond_channels == 0:
            return x
        if cond is None:
            raise ValueError("this coupling is conditional: pass cond")
        return torch.cat((x, cond), dim=1)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        if reverse:
            return self._reverse(x, cond)
        return self._forward(x, cond, need_log_det=False)[0]

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(forward(x), log |det J| per sample)``: the sum of the applied log-scales,
        ``(B,)``. The Jacobian is block-triangular, so its log-det is exactly that sum."""
        return self._forward(x, cond, need_log_det=True)

    def _forward(self, x: Tensor, cond: Tensor | None, *, need_log_det: bool) -> tuple[Tensor, Tensor]:
        x1, x2 = x[:, : self.split], x[:, self.split :]
        log_det = x.new_zeros(x.shape[0])
        h2 = self._in(x2, cond)
        sigma, phi = self._pair(self.sigma, self.phi, h2)
        if sigma is not None:
            s1 = self.log_scale(sigma)
            x1 = x1 * torch.exp(s1)
            if need_log_det:
                log_det = log_det + s1.flatten(1).sum(dim=1)
        y1 = x1 + phi
        h1 = self._in(y1, cond)
        rho, eta = self._pair(self.rho, self.eta, h1)
        s2 = self.log_scale(rho)
        y2 = x2 * torch.exp(s2) + eta
        if need_log_det:
            log_det = log_det + s2.flatten(1).sum(dim=1)
        return torch.cat((y1, y2), dim=1), log_det

    def _reverse(self, x: Tensor, cond: Tensor | None) -> Tensor:
        x1, x2 = x[:, : self.split], x[:, self.split :]
        h1 = self._in(x1, cond)
        rho, eta = self._pair(self.rho, self.eta, h1)
        y2 = (x2 - eta) * torch.exp(-self.log_scale(rho))
        h2 = self._in(y2, cond)
        sigma, phi = self._pair(self.sigma, self.phi, h2)
        y1 = x1 - phi
        if sigma is not None:
            y1 = y1 * torch.exp(-self.log_scale(sigma))
        return torch.cat((y1, y2), dim=1)
