"""Image in image, as library calls: which model hides with which options, ``hide``,
``reveal`` and the devices they run on. Part of :mod:`invsteg.api`, which re-exports it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from invsteg.errors import UsageError
from invsteg.io.images import LOSSY_INPUT_FORMATS, LoadedImage, encode_image
from invsteg.io.images import decode_image as _decode_image
from invsteg.io.outputs import LOSSLESS
from invsteg.ops.quantize import psnr
from invsteg.pipelines.hiding import DEFAULT_TILE
from invsteg.zoo import DEFAULT_MODEL, Task, create_model, default_model

if TYPE_CHECKING:
    import torch

    from invsteg.models.contracts import ImageHider

ROBUST_ONE = "robust-one"  # robust hiding of one secret


DEVICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` (CUDA when present, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``;
    :class:`UsageError` for one this machine does not have."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    kind = device.split(":", 1)[0]
    if kind not in DEVICES[1:] or (":" in device and not (kind == "cuda" and device[5:].isdigit())):
        raise UsageError(f"`device={device!r}`: choose one of {', '.join(DEVICES)} (or cuda:N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"`device={device!r}`: no CUDA device is available here; use `device='cpu'`")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise UsageError("`device='mps'`: Apple's Metal backend is not available here; use `device='cpu'`")
    return torch.device(device)


def check_precision(precision: str) -> None:
    """:class:`UsageError` unless ``precision`` is ``auto``, ``fp32`` or ``bf16``."""
    from invsteg.pipelines.precision import PRECISIONS

    if precision not in PRECISIONS:
        raise UsageError(f"`precision={precision!r}`: choose one of {', '.join(PRECISIONS)}")


def hiding_model_name(
    model: str | None = None,
    weights: Path | str | None = None,
    *,
    robust: bool = False,
    secrets: int | None = None,
) -> str | None:
    """The one place that decides which model hides (and reveals) with these options: the
    registered name to build, or None for the architecture a ``weights`` file names.

    ``model`` if given; else, without ``weights``, the task's default: with ``robust`` and
    one secret, the one-secret robust model (cleaner and sturdier). ``secrets``: how many
    images are to be hidden per cover (None: revealing, the count is the model's).

    Raises:
        UsageError: several secrets without ``robust``.
    """
    if secrets is not None and secrets > 1 and not robust:
        raise UsageError(f"{secrets} secrets given: only a robust model (`robust=True`) hides several")
    if model is not None or weights is not None:
        return model
    if robust:
        return ROBUST_ONE if secrets == 1 else default_model(Task.ROBUST)
    return DEFAULT_MODEL


def load_hiding_model(
    model: str | None = None,
    weights: Path | str | None = None,
    *,
    robust: bool = False,
    secrets: int | None = None,
    device: str = "cpu",
) -> ImageHider:
    """The hiding model that :func:`hiding_model_name` chooses, on ``device`` (see
    :func:`resolve_device`); with ``secrets``, checked to hide that many per cover.

    Raises:
        UsageError: several secrets without ``robust``, or a model that hides another number.
        ModelError, WeightsError: from :func:`invsteg.zoo.create_model`.
    """
    name = hiding_model_name(model, weights, robust=robust, secrets=secrets)
    net = create_model(name, weights=weights, task=Task.ROBUST if robust else Task.HIDE)
    if secrets is not None:
        _check_secret_count(net, secrets)
    return net.to(resolve_device(device))


def _check_secret_count(net: ImageHider, secrets: int) -> None:
    if secrets != (wanted := secrets_per_cover(net)):
        raise UsageError(f"this model hides {wanted} secret image(s) per cover; {secrets} given")


def secrets_per_cover(net: ImageHider) -> int:
    """How many secret images ``net`` hides in one cover (K)."""
    return net.config.secrets


@dataclass(frozen=True)
class Stego:
    """A stego as written: the file's bytes and its pixels (decoded back if lossy)."""

    data: bytes
    pixels: np.ndarray
    format: str
    psnr_db: float  # against the cover, as written; inf when identical
    secret_size: tuple[int, int]  # the first secret's original (w, h)
    fitted: bool  # the secret was letterboxed into the cover's size

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]


def hide(
    cover: np.ndarray,
    secrets: Sequence[np.ndarray],
    *,
    model: str | None = None,
    weights: Path | str | None = None,
    robust: bool = False,
    net: ImageHider | None = None,
    tile: int = DEFAULT_TILE,
    image_format: str = "PNG",
    quality: int = 90,
    device: str = "cpu",
    precision: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> Stego:
    """Hide ``secrets`` (one, or K with a robust model) in ``cover`` and encode the stego.

    ``net``: a model already loaded (:func:`load_hiding_model`), to hide many covers with
    one load; otherwise ``model``, ``weights`` and ``robust`` choose one
    (:func:`hiding_model_name`). A secret of another size is letterboxed into the cover's
    (see :func:`letterbox`). A lossy ``image_format`` (JPEG, WEBP; robust mode) is measured
    as written.
    ``precision``: ``auto`` computes in bf16 where the device does so natively (about
    twice as fast; the stego's quality is unchanged and the revealed secret ~0.2 dB
    lower, benchmarks/results.md), ``fp32`` or ``bf16`` force one. ``progress`` is called
    with ``(tiles done, tiles)``.
    """
    from invsteg.pipelines import hiding

    check_precision(precision)
    if net is None:
        net = load_hiding_model(model, weights, robust=robust, secrets=len(secrets), device=device)
    _check_secret_count(net, len(secrets))
    result = hiding.hide(cover, *secrets, net=net, tile=tile, precision=precision, progress=progress)
    data = encode_image(result.stego, image_format, quality)
    # A lossy stego is measured as written, not as computed (our own output: no pixel limit).
    pixels = (
        result.stego
        if image_format in LOSSLESS
        else _decode_image(data, "stego", "stego", max_pixels=None).pixels
    )
    return Stego(data, pixels, image_format, psnr(pixels, cover), result.secret_size, result.fitted)


def check_lossless_stego(stego: LoadedImage, *, allow_lossy: bool) -> None:
    """A plain hidden image does not survive lossy compression: refuse such a stego."""
    if stego.format in LOSSY_INPUT_FORMATS and not allow_lossy:
        raise UsageError(
            f"stego {stego.source} is {stego.format}: lossy compression destroyed the hidden image; "
            "reveal from the PNG that `hide` wrote (or pass `allow_lossy=True` to try anyway)"
        )


def reveal(
    stego: np.ndarray,
    *,
    model: str | None = None,
    weights: Path | str | None = None,
    robust: bool = False,
    net: ImageHider | None = None,
    secret_size: tuple[int, int] | None = None,
    tile: int = DEFAULT_TILE,
    device: str = "cpu",
    precision: str = "fp32",
    progress: Callable[[int, int], None] | None = None,
) -> list[np.ndarray]:
    """Every secret in ``stego``, in the order they were hidden, at the stego's size or
    scaled back to ``secret_size`` (w, h). A robust model first restores a distorted stego.
    ``precision`` as for :func:`hide`; fp32 by default, since here bf16's error lands on
    the secret itself (~0.3 dB); ``progress`` as for :func:`hide`."""
    from invsteg.pipelines import hiding

    check_precision(precision)
    net = net or load_hiding_model(model, weights, robust=robust, device=device)
    return hiding.reveal_all(
        stego, net=net, secret_size=secret_size, tile=tile, precision=precision, progress=progress
    )
