"""Down- and up-scale images with an invertible rescaler (:class:`~invsteg.models.contracts.Rescaler`).

Images are ``(H, W, 3)`` uint8 numpy arrays. Any size works: the image is edge-padded to
the model's multiple, and the small image records the original size (:class:`RescaleNote`,
a PNG text chunk) so that upscaling crops the padding off again. Large images are cut into
tiles; upscaling cuts the same grid (scaled down), so each tile comes back from exactly
the small tile its own downscale made.

Downscaling can also search the small image's 8-bit levels (:func:`refine_levels`): the
network's own output, rounded, loses 0.1-1.4 dB of the restore to the rounding alone, and
a few passes of the encoder-side search win most of it back (docs/design.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from invsteg.errors import UsageError
from invsteg.ops.quantize import to_tensor, to_uint8
from invsteg.pipelines.tiling import fixed_grid, pad_to_multiple

if TYPE_CHECKING:
    from torch import Tensor

    from invsteg.models.contracts import Rescaler

DEFAULT_RESCALE_TILE = 1024  # pixels of the large image; a multiple of every scale
MIN_RESCALE_TILE = 64  # the smallest `tile` allowed; a note asking for less is no note of ours
NOTE_KEY = "invsteg:rescale"
NOTE_VERSION = 1
_MAX_SIDE = 1 << 20
DEFAULT_REFINE_PASSES = 8
_FIRST_SHARE = 0.05  # of the levels moved in the first pass; grows on success, halves on failure
_GROWTH = 1.5


@dataclass(frozen=True)
class RescaleNote:
    """What ``rescale up`` needs from ``rescale down``: the model, the scale, the original
    size and the tile grid. Stored as JSON in the small PNG (:data:`NOTE_KEY`)."""

    model: str
    scale: int
    width: int
    height: int
    tile: int

    def to_text(self) -> dict[str, str]:
        return {NOTE_KEY: json.dumps({"version": NOTE_VERSION, **asdict(self)}, separators=(",", ":"))}

    @classmethod
    def from_text(cls, text: dict[str, str]) -> RescaleNote | None:
        """The note in an image's text chunks; None when absent or not a valid note (it is
        data from a file: every field is type- and range-checked)."""
        raw = text.get(NOTE_KEY)
        if raw is None or len(raw) > 1000:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.pop("version", None) != NOTE_VERSION:
            return None
        if set(data) != {"model", "scale", "width", "height", "tile"} or not isinstance(data["model"], str):
            return None
        numbers = [data[k] for k in ("scale", "width", "height", "tile")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= _MAX_SIDE for v in numbers):
            return None
        if data["scale"] not in (2, 4) or data["tile"] % data["scale"] or len(data["model"]) > 200:
            return None
        if data["tile"] < MIN_RESCALE_TILE:  # one model call per tile: a crafted 2 px tile took 40 s
            return None
        return cls(**data)


def downscale(
    pixels: np.ndarray,
    net: Rescaler,
    *,
    tile: int = DEFAULT_RESCALE_TILE,
    refine: int = DEFAULT_REFINE_PASSES,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """``(H, W, 3)`` -> ``(ceil(H / s), ceil(W / s), 3)`` uint8: the small image IRN
    restores from. ``tile`` must be a multiple of the scale ``s``; ``refine`` passes of
    :func:`refine_levels` per tile (0: the network's output, rounded); ``progress`` is
    called with ``(tiles done, tiles)``."""
    import torch

    scale = net.scale
    _check_tile(tile, scale)
    padded = pad_to_multiple(pixels, scale)
    height, width = padded.shape[:2]
    small = np.empty((height // scale, width // scale, 3), dtype=np.uint8)
    like = next(net.parameters())
    grid = fixed_grid(height, width, tile)
    for done, (rows, cols) in enumerate(grid, 1):
        image = to_tensor(padded[rows, cols], like)
        with torch.no_grad():
            lr, _ = net.downscale(image)
        levels = (lr.clamp(0, 1) * 255).round()
        if refine > 0:
            levels = refine_levels(net, image, levels, passes=refine)
        small[_scaled(rows, scale), _scaled(cols, scale)] = to_uint8(levels / 255)
        if progress is not None:
            progress(done, len(grid))
    return small


def refine_levels(net: Rescaler, image: Tensor, levels: Tensor, *, passes: int) -> Tensor:
    """A greedy search over the small image's 8-bit ``levels`` ``(1, 3, h, w)`` (0-255)
    for the ones whose upscale (z = 0) is closest to ``image`` ``(1, 3, h s, w s)``.

    Each pass moves the levels with the steepest squared-error gradient one step against
    it and keeps the move only if the error falls, so the result is never worse than the
    start; the share moved grows after a kept move and halves after a rejected one."""
    import torch

    def error_and_gradient(candidate: Tensor) -> tuple[float, Tensor]:
        small = (candidate / 255).requires_grad_(True)
        with torch.enable_grad():
            error = (net.upscale(small) - image).square().sum()
            (gradient,) = torch.autograd.grad(error, small)
        return error.item(), gradient

    error, gradient = error_and_gradient(levels)
    share = _FIRST_SHARE
    for _ in range(passes):
        steepness = gradient.abs()
        moved = max(1, min(int(share * steepness.numel()), steepness.numel() - 1))
        threshold = steepness.flatten().kthvalue(steepness.numel() - moved).values
        candidate = (levels - gradient.sign() * (steepness > threshold)).clamp(0, 255)
        new_error, new_gradient = error_and_gradient(candidate)
        if new_error < error:
            levels, error, gradient = candidate, new_error, new_gradient
            share = min(share * _GROWTH, 0.5)
        else:
            share /= 2
    return levels


def upscale(
    small: np.ndarray,
    net: Rescaler,
    *,
    tile: int = DEFAULT_RESCALE_TILE,
    size: tuple[int, int] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """``(h, w, 3)`` -> ``(h s, w s, 3)`` uint8, cropped to ``size`` (w, h) when given
    (the original size from the :class:`RescaleNote`). ``temperature`` > 0 draws the lost
    detail from the model's prior (seeded) instead of taking its mean."""
    import torch

    scale = net.scale
    _check_tile(tile, scale)
    height, width = small.shape[0] * scale, small.shape[1] * scale
    large = np.empty((height, width, 3), dtype=np.uint8)
    like = next(net.parameters())
    generator = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        for rows, cols in fixed_grid(height, width, tile):
            lr = to_tensor(small[_scaled(rows, scale), _scaled(cols, scale)], like)
            large[rows, cols] = to_uint8(net.upscale(lr, temperature=temperature, generator=generator))
    if size is not None:
        large = large[: min(size[1], height), : min(size[0], width)]
    return large


def _scaled(part: slice, scale: int) -> slice:
    return slice(part.start // scale, part.stop // scale)


def _check_tile(tile: int, scale: int) -> None:
    # Each tile is one model call: a tiny tile would make a small image take minutes.
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_RESCALE_TILE or tile % scale:
        raise UsageError(
            f"`tile` must be a multiple of the scale ({scale}) of at least {MIN_RESCALE_TILE} px, got {tile}"
        )
