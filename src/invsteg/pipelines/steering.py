"""Steer a cover's pixels, one 8-bit level at a time, until its latents read the wanted signs.

Format 2 of embed-file keeps the cover and changes only the latent signs the message needs
(:mod:`invsteg.payload.sealed`). Changing a latent and decoding it does not work: one 8-bit
level of colour moves a Steg-cINN latent by ~0.1-0.5, so a small latent change rounds away
and a large one repaints a patch. Instead the pixels are edited directly, the way extraction
will read them: each round encodes the current 8-bit image (the same tiles and arithmetic as
:func:`~invsteg.pipelines.latents.read_latents`), takes the gradient of a soft hinge
``sum softness * softplus((aim - s z) / softness)`` over the used carriers (``s`` = +-1, the
wanted sign; soft, so carriers that read right but near zero pull against edits that would
knock them over), and in every 2x2 block that holds a wrong carrier moves the one colour
sample with the largest gradient against it, by the 1 to 4 levels the linearised hinge asks
for. Untouched blocks stay bit-identical to the cover, so the change grows with the payload,
and a latent's magnitude is left as the photo made it except just past zero where a sign
had to cross.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from invsteg.models.contracts import ColourEmbedder
from invsteg.pipelines import latents
from invsteg.pipelines.latents import latent_slice, pad_even, parameter
from invsteg.pipelines.tiling import balanced_grid

if TYPE_CHECKING:
    from torch import Tensor


@dataclass(frozen=True)
class Steering:
    """How far past zero a sign must read (``margin``: another machine's float arithmetic
    moves a latent by ~1e-5), where the soft hinge stops pushing (``aim``) and how soft it
    is, and the rounds allowed."""

    margin: float = 5e-4
    aim: float = 0.05
    max_rounds: int = 40
    # Give up once ``patience`` rounds have not brought the wrong carriers ``stall`` of the
    # way closer to right (the caller routes around the ones left, or error correction
    # repairs them).
    patience: int = 4
    stall: float = 0.99
    softness: float = 0.02
    # Levels one sample may move in one round (the hinge is linearised to size the step).
    max_step: int = 4
    # Once few carriers are wrong, only cells of this many latents a side that hold one (or
    # an edit nearby) are re-encoded, in windows widened by ``halo`` latents.
    cell: int = 16
    halo: int = 12


def _blocks(x: Tensor) -> Tensor:
    """``(1, 3, H, W)`` -> ``(H/2, W/2, 12)``: each 2x2 block's 12 colour samples."""
    _, channels, height, width = x.shape
    return (
        x.reshape(channels, height // 2, 2, width // 2, 2)
        .permute(1, 3, 0, 2, 4)
        .reshape(height // 2, width // 2, 4 * channels)
    )


def _unblocks(b: Tensor, height: int, width: int) -> Tensor:
    return b.reshape(height // 2, width // 2, 3, 2, 2).permute(2, 0, 3, 1, 4).reshape(1, 3, height, width)


def _step(levels: Tensor, grad: Tensor, deficit: Tensor, editable: Tensor, max_step: int) -> Tensor:
    """Edit each block with a ``deficit`` ``(h, w)`` (> 0: how far its worst wrong carrier is
    from the aim): its sample with the largest gradient moves against the gradient by the
    levels the linearised hinge says it needs (1 to ``max_step``), staying in 0..255.
    ``editable`` ``(h, w)`` bool."""
    import torch

    height, width = levels.shape[-2:]
    x, g = _blocks(levels), _blocks(grad)
    direction = -torch.sign(g)
    allowed = (x + direction >= 0) & (x + direction <= 255) & (g != 0)
    strength = torch.where(allowed, g.abs(), torch.zeros_like(g))
    best = strength.argmax(dim=-1, keepdim=True)
    slope = strength.gather(-1, best)[..., 0]
    levels_needed = torch.ceil(deficit / slope.clamp(min=1e-12)).clamp(1, max_step)
    size = levels_needed * ((deficit > 0) & editable & (slope > 0)).to(x.dtype)
    moved = direction.gather(-1, best) * size[..., None]
    current = x.gather(-1, best)
    delta = torch.zeros_like(x).scatter_(-1, best, (current + moved).clamp(0, 255) - current)
    return _unblocks(x + delta, height, width)


class _TileState:
    """Per extraction tile: its cells (``cell`` latents a side) and, per cell, the wrong
    carriers and their shortfall at the last evaluation, and whether it was edited since."""

    def __init__(self, rows: slice, cols: slice, cell: int) -> None:
        self.rows, self.cols, self.cell = rows, cols, cell
        grid = (-(-(rows.stop - rows.start) // 2 // cell), -(-(cols.stop - cols.start) // 2 // cell))
        self.counts = np.zeros(grid, dtype=np.int64)
        self.shortfalls = np.zeros(grid)
        self.edited = np.zeros(grid, dtype=bool)

    def regions(self, *, first: bool, halo: int) -> list[tuple[slice, slice, slice, slice]]:
        """Pixel windows to evaluate, each ``(rows, cols, inner latent rows, inner latent
        cols)`` (inner: relative to the window): the whole tile first, and while much of it
        is busy; later, each cell with wrong carriers or edits near it, widened by ``halo``
        latents (a one-level edit moves latents ~10 away by under 1e-5) but trusted only
        inside the cell."""
        busy = self.counts > 0
        near = self.edited.copy()
        near[1:] |= self.edited[:-1]
        near[:-1] |= self.edited[1:]
        near[:, 1:] |= near[:, :-1].copy()
        near[:, :-1] |= near[:, 1:].copy()
        active = np.argwhere(busy | near)
        h, w = (self.rows.stop - self.rows.start) // 2, (self.cols.stop - self.cols.start) // 2
        window = (self.cell + 2 * halo) ** 2
        if first or active.shape[0] * window >= h * w:
            self.counts[:] = 0
            self.shortfalls[:] = 0
            self.edited[:] = False
            return [(self.rows, self.cols, slice(0, h), slice(0, w))]
        out = []
        for i, j in active:
            top, left = i * self.cell, j * self.cell
            low, high = max(0, top - halo), min(h, top + self.cell + halo)
            west, east = max(0, left - halo), min(w, left + self.cell + halo)
            rows = slice(self.rows.start + 2 * low, self.rows.start + 2 * high)
            cols = slice(self.cols.start + 2 * west, self.cols.start + 2 * east)
            inner = (
                slice(top - low, min(h, top + self.cell) - low),
                slice(left - west, min(w, left + self.cell) - west),
            )
            self.counts[i, j] = 0
            self.shortfalls[i, j] = 0
            self.edited[i, j] = False
            out.append((rows, cols, *inner))
        return out

    def record(
        self,
        region: tuple[slice, slice, slice, slice],
        wrong: np.ndarray,
        short: np.ndarray,
        edited: np.ndarray,
    ) -> None:
        """Add a window's inner ``(h, w)`` maps to its cells: wrong carriers per block, their
        shortfall, and the blocks edited."""
        rows, cols, inner_rows, inner_cols = region
        top = (rows.start - self.rows.start) // 2 + inner_rows.start
        left = (cols.start - self.cols.start) // 2 + inner_cols.start
        ys, xs = np.nonzero(wrong)
        cells = ((ys + top) // self.cell, (xs + left) // self.cell)
        np.add.at(self.counts, cells, wrong[ys, xs])
        np.add.at(self.shortfalls, cells, short[ys, xs])
        ys, xs = np.nonzero(edited)
        self.edited[(ys + top) // self.cell, (xs + left) // self.cell] = True


def _steer_region(
    levels: Tensor,
    region: tuple[slice, slice, slice, slice],
    tile: _TileState,
    sign: Tensor,
    used: Tensor,
    editable: Tensor,
    model: ColourEmbedder,
    settings: Steering,
    edit: bool,
) -> None:
    """Evaluate one window of the 8-bit image and (if ``edit``) step its inner blocks."""
    import torch
    import torch.nn.functional as F

    rows, cols, inner_rows, inner_cols = region
    lat = (..., latent_slice(rows), latent_slice(cols))
    inner = torch.zeros(used[lat].shape[-2:], dtype=torch.bool, device=used.device)
    inner[inner_rows, inner_cols] = True
    window = levels[..., rows, cols].clone().requires_grad_(True)
    score = sign[lat] * latents.encode_rgb(model, window / 255)
    window_used = used[lat] & inner
    wrong = window_used & (score < settings.margin)
    short = ((settings.margin - score.detach()) * wrong).sum(dim=1)[0]
    wrong_blocks = wrong.sum(dim=1)[0]
    if not edit or not bool(wrong.any()):
        tile.record(
            region,
            wrong_blocks[inner_rows, inner_cols].cpu().numpy(),
            short[inner_rows, inner_cols].cpu().numpy(),
            np.zeros((0, 0), bool),
        )
        return
    soft = settings.softness
    loss = (soft * F.softplus((settings.aim - score) / soft) * window_used).sum()
    (grad,) = torch.autograd.grad(loss, window)
    deficit = ((settings.aim - score) * wrong).amax(dim=1)[0].detach()
    with torch.no_grad():
        before = levels[..., rows, cols].clone()
        levels[..., rows, cols] = _step(
            window.detach(), grad, deficit, editable[lat[1:]] & inner, settings.max_step
        )
        changed = (levels[..., rows, cols] != before).any(dim=1)[0]
        changed_blocks = F.max_pool2d(changed[None].float(), 2)[0] > 0
    tile.record(
        region,
        wrong_blocks[inner_rows, inner_cols].cpu().numpy(),
        short[inner_rows, inner_cols].cpu().numpy(),
        changed_blocks[inner_rows, inner_cols].cpu().numpy(),
    )


def steer(
    cover: np.ndarray,
    positive: Tensor,
    used: Tensor,
    *,
    model: ColourEmbedder,
    settings: Steering = Steering(),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Edit ``cover`` until every used carrier reads its wanted sign with ``margin``.

    Args:
        cover: ``(H, W, 3)`` uint8 (the start; not modified).
        positive: ``(1, C, ceil(H/2), ceil(W/2))`` bool, the wanted signs.
        used: same shape, bool: the carriers whose signs matter.
        model: the embedding model (its dtype and device are used).
        settings: margins and rounds.
        progress: called with ``(round, carriers still wrong or weak)``.

    Returns:
        ``(stego, wrong per round)``: ``(H, W, 3)`` uint8; carriers still wrong or weak after
        ``max_rounds`` are the caller's to handle (they count in the last entry).
        Only whole 2x2 blocks inside the image change, so the edge padding of an odd size is
        the cover's.
    """
    import torch

    param = parameter(model)
    height, width = cover.shape[:2]
    padded = pad_even(cover)
    levels = torch.from_numpy(np.array(padded, dtype=np.uint8)).to(param).permute(2, 0, 1)[None]
    editable = torch.zeros(padded.shape[0] // 2, padded.shape[1] // 2, dtype=torch.bool, device=param.device)
    editable[: height // 2, : width // 2] = True
    sign = positive.to(param.dtype) * 2 - 1
    tiles = [
        _TileState(rows, cols, settings.cell) for rows, cols in balanced_grid(*padded.shape[:2], latents.TILE)
    ]
    history: list[int] = []
    shortfalls: list[float] = []  # summed distance of wrong carriers from the margin
    for index in range(settings.max_rounds + 1):
        edit = index < settings.max_rounds
        for tile in tiles:
            for region in tile.regions(first=index == 0, halo=settings.halo):
                _steer_region(levels, region, tile, sign, used, editable, model, settings, edit)
        wrong_total = sum(int(tile.counts.sum()) for tile in tiles)
        shortfall = sum(float(tile.shortfalls.sum()) for tile in tiles)
        history.append(wrong_total)
        shortfalls.append(shortfall)
        if progress is not None:
            progress(index, wrong_total)
        if not wrong_total or (
            len(history) > settings.patience
            and shortfall >= settings.stall * min(shortfalls[: -settings.patience])
        ):
            break
    out = levels[0].permute(1, 2, 0).round().to(torch.uint8).cpu().numpy()[:height, :width]
    return np.ascontiguousarray(out), history
