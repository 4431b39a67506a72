"""Hide and reveal images with an image hider (:class:`~invsteg.models.contracts.ImageHider`).

Images are ``(H, W, 3)`` uint8 numpy arrays. Any size works: the image is padded to the
model's multiple and cropped back, and large images are cut into tiles that hide and
reveal both use, so memory stays bounded and the round trip is unchanged by tiling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from invsteg.errors import InputFileError, ModelError
from invsteg.models.contracts import ImageHider
from invsteg.pipelines.precision import autocast
from invsteg.pipelines.tiling import run_tiled
from invsteg.zoo import Task, create_model

if TYPE_CHECKING:  # torch is imported lazily, so the CLI starts fast
    from torch import Tensor

DEFAULT_TILE = 512  # pixels; 512 keeps a tile's activations around 100 MB


@dataclass(frozen=True)
class Box:
    """Where a fitted secret sits inside the cover-sized secret canvas."""

    left: int
    top: int
    width: int
    height: int


def letterbox(secret_size: tuple[int, int], canvas_size: tuple[int, int]) -> Box:
    """The largest box with the secret's aspect ratio, centred in the canvas.

    hide scales the secret into this box (Lanczos) on a black canvas of the cover's size;
    ``reveal(size=...)`` recomputes the same box to crop and scale it back.
    """
    (sw, sh), (cw, ch) = secret_size, canvas_size
    scale = min(cw / sw, ch / sh)
    width, height = max(1, min(cw, round(sw * scale))), max(1, min(ch, round(sh * scale)))
    return Box((cw - width) // 2, (ch - height) // 2, width, height)


def fit_secret(secret: np.ndarray, canvas_size: tuple[int, int]) -> np.ndarray:
    """Scale ``secret`` into its letterbox on a black canvas of ``canvas_size`` (w, h)."""
    secret_size = (secret.shape[1], secret.shape[0])
    if secret_size == canvas_size:
        return secret
    box = letterbox(secret_size, canvas_size)
    scaled = Image.fromarray(secret).resize((box.width, box.height), Image.Resampling.LANCZOS)
    canvas = np.zeros((canvas_size[1], canvas_size[0], 3), dtype=np.uint8)
    canvas[box.top : box.top + box.height, box.left : box.left + box.width] = np.asarray(scaled)
    return canvas


def unfit_secret(revealed: np.ndarray, secret_size: tuple[int, int]) -> np.ndarray:
    """Undo :func:`fit_secret`: crop the letterbox and scale it to ``secret_size`` (w, h)."""
    canvas_size = (revealed.shape[1], revealed.shape[0])
    if secret_size == canvas_size:
        return revealed
    box = letterbox(secret_size, canvas_size)
    crop = revealed[box.top : box.top + box.height, box.left : box.left + box.width]
    return np.asarray(Image.fromarray(crop).resize(secret_size, Image.Resampling.LANCZOS))


def load_hiding_model(
    model: str | None = None, weights: Path | None = None, *, robust: bool = False
) -> ImageHider:
    """The model to hide with: ``weights`` (architecture from its metadata) or the
    registered ``model`` (default: the task's default) with its shipped, sha256-verified
    weights. ``robust`` asks for a robust model (several secrets, lossy channels)."""
    return create_model(model, weights=weights, task=Task.ROBUST if robust else Task.HIDE)


def secrets_per_cover(net: ImageHider) -> int:
    """How many secret images ``net`` hides in one cover (K)."""
    return net.config.secrets


def _check_size(pixels: np.ndarray, net: ImageHider, role: str) -> None:
    h, w = pixels.shape[:2]
    if min(h, w) < net.min_size:
        raise InputFileError(
            f"{role} is {w}x{h}; this model needs at least {net.min_size}x{net.min_size} pixels"
        )


def _run_tiled(
    net: ImageHider,
    images: list[np.ndarray],
    fn: Callable[..., Sequence[Tensor]],
    tile: int,
    precision: str,
    progress: Callable[[int, int], None] | None,
) -> list[np.ndarray]:
    like = next(net.parameters())  # type: ignore[attr-defined]  # every model is an nn.Module
    with autocast(precision, like.device):
        return run_tiled(images, fn, like=like, multiple=net.size_multiple, tile=tile, progress=progress)


@dataclass
class HideResult:
    stego: np.ndarray  # (H, W, 3) uint8, the cover's size
    secret_size: tuple[int, int]  # the secret's original (w, h)
    fitted: bool  # the secret was letterboxed into the cover's size


def hide(
    cover: np.ndarray,
    secret: np.ndarray,
    *more_secrets: np.ndarray,
    net: ImageHider | None = None,
    tile: int = DEFAULT_TILE,
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
) -> HideResult:
    """Hide ``secret`` (and, with a robust model, ``more_secrets``) in ``cover``; all
    ``(H, W, 3)`` uint8, any sizes.

    A secret of another size is letterboxed into the cover's size (see :func:`letterbox`);
    pass its ``secret_size`` to :func:`reveal` to get that size back. ``secret_size`` and
    ``fitted`` describe the first secret. ``precision``: ``fp32``, ``bf16`` or ``auto``
    (:func:`~invsteg.pipelines.precision.resolve_precision`); bf16 stegos differ from fp32
    ones by rounding, not in quality. ``progress``: called with ``(tiles done, tiles)``.
    """
    net = net or load_hiding_model()
    secrets = (secret, *more_secrets)
    if len(secrets) != secrets_per_cover(net):
        raise ModelError(f"this model hides {secrets_per_cover(net)} secret(s) per cover, got {len(secrets)}")
    _check_size(cover, net, "cover")
    cover_size = (cover.shape[1], cover.shape[0])
    secret_size = (secret.shape[1], secret.shape[0])
    fitted = [fit_secret(s, cover_size) for s in secrets]

    def hide_tile(tile_cover: Tensor, *tile_secrets: Tensor) -> list[Tensor]:
        return [net.hide(tile_cover, *tile_secrets)[0]]

    (stego,) = _run_tiled(net, [cover, *fitted], hide_tile, tile, precision, progress)
    return HideResult(stego, secret_size, secret_size != cover_size)


def reveal_all(
    stego: np.ndarray,
    *,
    net: ImageHider | None = None,
    secret_size: tuple[int, int] | None = None,
    tile: int = DEFAULT_TILE,
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Every secret hidden in ``stego`` ``(H, W, 3)`` uint8, in the order they were hidden,
    at the stego's size or scaled back to ``secret_size`` (w, h) when given. A robust
    model first restores a distorted stego (JPEG, noise, resizing, blur). ``precision``
    and ``progress`` as for :func:`hide`."""
    net = net or load_hiding_model()
    _check_size(stego, net, "stego")
    revealed = _run_tiled(net, [stego], lambda s: net.reveal(s), tile, precision, progress)
    return [unfit_secret(r, secret_size) if secret_size else r for r in revealed]


def reveal(
    stego: np.ndarray,
    *,
    net: ImageHider | None = None,
    secret_size: tuple[int, int] | None = None,
    tile: int = DEFAULT_TILE,
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The (first) secret hidden in ``stego``; see :func:`reveal_all`."""
    return reveal_all(
        stego, net=net, secret_size=secret_size, tile=tile, precision=precision, progress=progress
    )[0]
