"""The one tiler: cut an image into tiles, run a network on each, put the results together.

Two grids, because they promise different things:

- :func:`fixed_grid` (image hiding): tiles of ``tile`` pixels from the top left, the
  last ones smaller; ``hide`` and ``reveal`` cut the same grid for the same tile size.
- :func:`balanced_grid` (file embedding): ``ceil(side / max_tile)`` near-equal parts per
  side, cut at even pixels. Part of the embed-file format: a latent near a tile edge
  depends on where the edge is, so extraction must cut the grid embedding cut, and this
  one depends on the image size only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from invsteg.ops.quantize import to_tensor, to_uint8

if TYPE_CHECKING:
    from torch import Tensor

Tile = tuple[slice, slice]  # (rows, columns) of the image


def fixed_grid(height: int, width: int, tile: int) -> list[Tile]:
    """Tiles of ``tile x tile`` pixels from the top left (the last row and column smaller)."""
    return [
        (slice(top, min(top + tile, height)), slice(left, min(left + tile, width)))
        for top in range(0, height, tile)
        for left in range(0, width, tile)
    ]


def balanced_grid(height: int, width: int, max_tile: int) -> list[Tile]:
    """``ceil(side / max_tile)`` near-equal tiles per side of the even ``height x width``
    image, cut at even pixels (whole 2x2 blocks)."""

    def cuts(size: int) -> list[int]:
        parts = max(1, -(-size // max_tile))
        return [2 * (i * (size // 2) // parts) for i in range(parts + 1)]

    return [
        (slice(top, bottom), slice(left, right))
        for top, bottom in pairwise(cuts(height))
        for left, right in pairwise(cuts(width))
    ]


def pad_to_multiple(pixels: np.ndarray, multiple: int) -> np.ndarray:
    """Edge-replicate ``(H, W, 3)`` at the bottom and right to multiples of ``multiple``."""
    pad = ((0, -pixels.shape[0] % multiple), (0, -pixels.shape[1] % multiple), (0, 0))
    return np.pad(pixels, pad, mode="edge") if pad[0][1] or pad[1][1] else pixels


def run_tiled(
    images: Sequence[np.ndarray],
    fn: Callable[..., Sequence[Tensor]],
    *,
    like: Tensor,
    multiple: int,
    tile: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Apply ``fn`` to ``images`` (same-size ``(H, W, 3)`` uint8) tile by tile.

    The images are edge-padded to ``multiple``; each tile goes to ``fn`` as ``(1, 3, h, w)``
    tensors in ``[0, 1]`` (``like``'s dtype and device); every tensor ``fn`` returns is
    rounded to 8 bits, and the results are cropped back to the input size. ``progress`` is
    called with ``(tiles done, tiles)`` after each tile.
    """
    import torch

    height, width = images[0].shape[:2]
    padded = [pad_to_multiple(image, multiple) for image in images]
    outputs: list[np.ndarray] = []
    grid = fixed_grid(*padded[0].shape[:2], tile - tile % multiple)
    with torch.inference_mode():
        for done, (rows, cols) in enumerate(grid, start=1):
            results = fn(*(to_tensor(image[rows, cols], like) for image in padded))
            outputs = outputs or [np.empty_like(padded[0]) for _ in results]
            for output, result in zip(outputs, results, strict=True):
                output[rows, cols] = to_uint8(result)
            if progress is not None:
                progress(done, len(grid))
    return [output[:height, :width] for output in outputs]
