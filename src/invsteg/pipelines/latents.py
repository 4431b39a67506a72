"""Images <-> Steg-cINN latents for embed-file: what is read, and where.

Images are ``(H, W, 3)`` uint8 numpy arrays. An image is edge-padded to even height and
width, converted to Lab, and its colour ``ab`` is encoded given its own lightness ``L`` into
latents ``(1, latent_channels, ceil(H/2), ceil(W/2))``.

Two things here are part of the embed-file format, because extraction must find them
without side information: which latents carry bits (:func:`carrier_mask`, a function of the
model and the image size) and the tile grid the network runs on
(:func:`invsteg.pipelines.tiling.balanced_grid` with at most ``TILE`` pixels per side; a
latent near a tile edge depends on where the edge is). torch is imported inside functions,
so importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from invsteg.models.contracts import ColourEmbedder
from invsteg.ops.quantize import to_tensor
from invsteg.pipelines.tiling import balanced_grid, pad_to_multiple

if TYPE_CHECKING:
    from torch import Tensor

# The network runs on tiles of at most TILE x TILE pixels: part of the format (see the module
# docstring), not a setting. 1024 keeps a pass at ~0.5 GB of working memory whatever the
# image size and leaves covers up to 1 MP in one piece; smaller tiles were not faster.
TILE = 1024


def check_channels(model: ColourEmbedder, channels: Sequence[int] | None) -> tuple[int, ...]:
    """The carrier channels, sorted: all of the model's for ``None``.

    Raises:
        ValueError: not a non-empty subset of ``0 .. latent_channels - 1``.
    """
    if channels is None:
        return tuple(range(model.latent_channels))
    out = tuple(sorted({int(c) for c in channels}))
    if not out or out[0] < 0 or out[-1] >= model.latent_channels:
        raise ValueError(
            f"channels must be a non-empty subset of 0..{model.latent_channels - 1}, got {channels}"
        )
    return out


def carrier_mask(
    model: ColourEmbedder, height: int, width: int, channels: Sequence[int] | None = None
) -> np.ndarray:
    """Which latents of an ``height x width`` image carry bits.

    Returns:
        ``(latent_channels, ceil(H/2), ceil(W/2))`` bool. True in the carrier channels (all
        for ``None``), on the latent rows and columns whose 2x2 block lies inside the image:
        with an odd size the last block is half padding, which extraction rebuilds by edge
        replication rather than reading, so its latents could not carry arbitrary signs.
    """
    chosen = check_channels(model, channels)
    mask = np.zeros((model.latent_channels, -(-height // 2), -(-width // 2)), dtype=bool)
    mask[list(chosen), : height // 2, : width // 2] = True
    return mask


def pad_even(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` edge-replicated to even height and width, as extraction does."""
    return pad_to_multiple(pixels, 2)


def encode_rgb(model: ColourEmbedder, rgb: Tensor) -> Tensor:
    """sRGB ``(1, 3, h, w)`` in ``[0, 1]`` (8-bit levels / 255) -> its latents, the colour
    encoded given its own L: the arithmetic extraction runs, shared by the steering so that
    what it optimises is what extraction reads."""
    from invsteg.ops.color import rgb_to_lab

    lab = rgb_to_lab(rgb)
    return model.encode(lab[:, 1:], lab[:, :1])


def parameter(model: ColourEmbedder) -> Tensor:
    """A tensor with the model's dtype and device (the computation follows the model)."""
    return next(model.parameters())  # the zoo's ColourEmbedders are nn.Modules


def latent_slice(tile: slice) -> slice:
    """Pixel rows (or columns) of a tile -> its latent rows (columns)."""
    return slice(tile.start // 2, tile.stop // 2)


def read_latents(stego: np.ndarray, *, model: ColourEmbedder) -> Tensor:
    """What extraction reads: ``(H, W, 3)`` uint8 -> z' ``(1, latent_channels, ceil(H/2), ceil(W/2))``.

    The image is edge-padded to even size, converted to Lab and encoded with its own L,
    tile by tile. Runs in the model's dtype and device; the verify loop of
    :func:`~invsteg.pipelines.embedding.embed_file` uses this very function, so what it
    verified is what extraction computes.
    """
    import torch

    param = parameter(model)
    padded = pad_even(stego)
    height, width = padded.shape[:2]
    z = torch.empty(
        (1, model.latent_channels, height // 2, width // 2), dtype=param.dtype, device=param.device
    )
    with torch.inference_mode():
        for rows, cols in balanced_grid(height, width, TILE):
            rgb = to_tensor(padded[rows, cols], param)
            z[..., latent_slice(rows), latent_slice(cols)] = encode_rgb(model, rgb)
    return z
