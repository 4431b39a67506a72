"""Chain invertible modules; reverse runs them backwards."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn


class InvertibleSequential(nn.Module):
    """Apply invertible modules in order, or their inverses in reverse order.

    Each child follows the contract ``forward(x, *, cond=None, reverse=False) -> Tensor``.
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(modules)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        for block in reversed(self.blocks) if reverse else self.blocks:
            x = block(x, cond=cond, reverse=reverse)
        return x
