"""Chain invertible modules; reverse runs them backwards."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn


class InvertibleSequential(nn.Module):
    """Apply invertible modules in order, or their inverses in reverse order.

    Each child follows the contract ``forward(x, *, cond=None, reverse=False) -> Tensor``.
    For likelihood training every child also provides
    ``forward_with_log_det(x, *, cond=None) -> (y, log_det)``, ``log_det`` of shape ``(B,)``
    (zeros for volume-preserving pieces); :meth:`forward_with_log_det` sums them.
    """

    def __init__(self, modules: Iterable[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(modules)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        for block in reversed(self.blocks) if reverse else self.blocks:
            x = block(x, cond=cond, reverse=reverse)
        return x

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(forward(x), log |det J| per sample, (B,))``, the sum of the children's log-dets."""
        log_det = x.new_zeros(x.shape[0])
        for block in self.blocks:
            x, block_log_det = block.forward_with_log_det(x, cond=cond)
            log_det = log_det + block_log_det
        return x, log_det
