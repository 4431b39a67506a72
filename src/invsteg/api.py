"""The library surface: everything the ``invsteg`` commands do, as typed calls.

Images are ``(H, W, 3)`` uint8 numpy arrays (see :func:`read_image`); models are chosen by
name or weights file and checked against the task (:mod:`invsteg.zoo`), or passed in
already loaded (``net=``) to process many images with one load. Results are dataclasses.

Example::

    from invsteg import api

    cover = api.read_image("cover.png").pixels
    secret = api.read_image("secret.png").pixels
    stego = api.hide(cover, [secret])            # Stego: .data (PNG bytes), .pixels, .psnr_db
    revealed = api.reveal(stego.pixels)[0]       # (H, W, 3) uint8
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from invsteg.errors import ModelError, UsageError
from invsteg.io.images import DEFAULT_MAX_PIXELS, LOSSY_INPUT_FORMATS, LoadedImage, encode_image
from invsteg.io.images import decode_image as _decode_image
from invsteg.io.images import read_image as _read_image
from invsteg.io.outputs import LOSSLESS
from invsteg.ops.distortions import attack_image as attack  # resize, blur, noise, JPEG; checked first
from invsteg.ops.distortions import check_attacks
from invsteg.ops.quantize import psnr
from invsteg.payload.errors import NoPayloadError
from invsteg.pipelines.hiding import DEFAULT_TILE, Box, fit_secret, letterbox, unfit_secret
from invsteg.pipelines.rescaling import DEFAULT_REFINE_PASSES, DEFAULT_RESCALE_TILE, RescaleNote
from invsteg.pipelines.robust_files import DEFAULT_JPEG_QUALITY as ROBUST_JPEG_QUALITY
from invsteg.pipelines.robust_files import VERIFY_SCALE as ROBUST_RESIZE
from invsteg.zoo import (
    DEFAULT_MODEL,
    ModelSpec,
    Task,
    create_model,
    default_model,
    default_rescaler,
    get_spec,
    list_models,
)

if TYPE_CHECKING:
    import torch

    from invsteg.models.contracts import ColourEmbedder, ImageHider, Rescaler
    from invsteg.payload import Unpacked
    from invsteg.pipelines.embedding import Capacity, EmbedReport
    from invsteg.pipelines.robust_files import RobustReport

ROBUST = "robust"  # the name extraction reports for the robust channel
ROBUST_ONE = "robust-one"  # robust hiding of one secret

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MODEL",
    "DEFAULT_REFINE_PASSES",
    "DEFAULT_RESCALE_TILE",
    "DEFAULT_TILE",
    "ROBUST_JPEG_QUALITY",
    "ROBUST_RESIZE",
    "Box",
    "Extracted",
    "ModelInfo",
    "RescaleNote",
    "Rescaled",
    "Stego",
    "attack",
    "capacity",
    "check_attacks",
    "check_lossless_stego",
    "decode_image",
    "default_rescaler",
    "embed_file",
    "embed_file_robust",
    "embedding_spec",
    "extract_file",
    "fit_secret",
    "hide",
    "hiding_model_name",
    "letterbox",
    "load_hiding_model",
    "load_rescaler",
    "models",
    "read_image",
    "rescale_down",
    "rescale_up",
    "resolve_device",
    "reveal",
    "robust_capacity",
    "secrets_per_cover",
    "unfit_secret",
]


def read_image(
    source: str, role: str = "image", *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode ``source`` (a path, or ``-`` for stdin) to 8-bit RGB, refusing images over
    ``max_pixels`` from their header; ``.notices`` says what was converted."""
    return _read_image(source, role, max_pixels=max_pixels)


def decode_image(
    data: bytes, role: str = "image", *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode an image file's bytes (as :func:`read_image` does a file)."""
    return _decode_image(data, role, role, max_pixels=max_pixels)


# -- image in image ---------------------------------------------------------------------------


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


# -- any file in an image's colours ---------------------------------------------------------------


def embedding_spec(model: str | None) -> ModelSpec:
    """The registered embedding model ``model`` (default: the task's)."""
    if model == "":
        raise UsageError("--model is empty; give a model name (see `invsteg models`) or leave it out")
    spec = get_spec(model or default_model(Task.EMBED))
    if spec.task != Task.EMBED:
        raise ModelError(f"model {spec.name!r} does not embed files; see `invsteg models` (task embed)")
    return spec


def embed_file(
    cover: np.ndarray,
    data: bytes,
    *,
    file_name: str = "",
    passphrase: str | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    max_rounds: int = 8,
    image_format: str = "PNG",
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, EmbedReport]:
    """Hide ``data`` in ``cover``'s colours; the stego file's bytes (lossless ``image_format``)
    and the report of the verify-after-embed loop. Extracts bit-exact (:func:`extract_file`).
    ``progress`` is called after each steering round with ``(round, carriers still wrong)``."""
    from invsteg.pipelines import embedding

    if image_format not in LOSSLESS:
        raise UsageError(f"{image_format} is lossy and would destroy the hidden file; write PNG")
    spec = embedding_spec(model)
    net: ColourEmbedder = create_model(spec.name, weights=weights, task=Task.EMBED).to(resolve_device(device))
    stego, report = embedding.embed_file(
        cover,
        data,
        file_name=file_name,
        passphrase=passphrase,
        model=net,
        wire_id=spec.wire_id,
        settings=embedding.EmbedSettings(max_rounds=max_rounds),
        progress=progress,
    )
    return encode_image(stego, image_format), report


@dataclass(frozen=True)
class Extracted:
    """A file recovered bit-exact, and the model that found it."""

    unpacked: Unpacked
    model: str


def extract_file(
    stego: np.ndarray,
    *,
    passphrase: str | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    robust: bool = False,
    device: str = "cpu",
) -> Extracted:
    """The file ``embed-file`` hid in ``stego``. Without ``model``/``weights`` every shipped
    embedding model is tried, the default first (stegos of older defaults still extract),
    then the robust channel; ``robust``: only the robust channel."""
    from invsteg.pipelines import embedding, robust_files

    if robust:
        return Extracted(robust_files.extract_file(stego, passphrase=passphrase), ROBUST)
    if model is None and weights is None:
        try:
            unpacked, used = embedding.extract_file_any_model(
                stego, passphrase=passphrase, device=resolve_device(device)
            )
        except NoPayloadError as exc:
            try:
                return Extracted(robust_files.extract_file(stego, passphrase=passphrase), ROBUST)
            except NoPayloadError:
                raise NoPayloadError(f"{exc}, and the robust channel") from None
        return Extracted(unpacked, used)
    spec = embedding_spec(model)
    net = create_model(spec.name, weights=weights, task=Task.EMBED).to(resolve_device(device))
    unpacked = embedding.extract_file(stego, passphrase=passphrase, model=net)
    return Extracted(unpacked, str(weights) if weights else spec.name)


def capacity(
    cover: np.ndarray,
    *,
    model: str | None = None,
    weights: Path | str | None = None,
    file_name: str = "",
    encrypted: bool = True,
) -> list[tuple[str, Capacity]]:
    """``(model, capacity)`` for ``model`` (or the model in ``weights``), else for every
    registered embedding model, the default first. Only the architecture matters, so no
    shipped weights are read."""
    from invsteg.pipelines import embedding

    default = default_model(Task.EMBED)
    if model or weights:
        specs = [embedding_spec(model)]
    else:
        specs = sorted(list_models(Task.EMBED), key=lambda spec: spec.name != default)
    rows = []
    for spec in specs:
        net = create_model(spec.name, weights=weights, task=Task.EMBED, pretrained=weights is not None)
        info = embedding.capacity(cover, model=net, file_name=file_name, encrypted=encrypted)
        rows.append((str(weights) if weights else spec.name, info))
    return rows


# -- robust files --------------------------------------------------------------------------------

ROBUST_JPEG_OUTPUT_QUALITY = 90  # a JPEG stego is written at this quality, then verified


def embed_file_robust(
    cover: np.ndarray,
    data: bytes,
    *,
    file_name: str = "",
    passphrase: str | None = None,
    jpeg_quality: int = ROBUST_JPEG_QUALITY,
    resize: float = ROBUST_RESIZE,
    image_format: str = "PNG",
) -> tuple[bytes, RobustReport]:
    """Hide ``data`` in ``cover`` so that it survives JPEG at ``jpeg_quality``, a resize by
    ``resize`` (and both), and noise (:mod:`invsteg.pipelines.robust_files`); the stego
    file's bytes (PNG, BMP, TIFF or JPEG, which is verified as written) and the report of
    the verify loop."""
    from invsteg.pipelines import robust_files

    if image_format not in (*LOSSLESS, "JPEG"):
        raise UsageError(f"robust mode writes PNG, BMP, TIFF or JPEG, not {image_format}")
    jpeg = ROBUST_JPEG_OUTPUT_QUALITY if image_format == "JPEG" else None
    if not 0.1 <= resize <= 1:
        raise UsageError(f"--resize must be between 0.1 and 1 (the smallest scale to survive), got {resize}")
    settings = robust_files.RobustSettings(jpeg_quality=jpeg_quality, scales=(resize,))
    stego = robust_files.embed_file(
        cover, data, file_name=file_name, passphrase=passphrase, settings=settings, jpeg_output=jpeg
    )
    encoded = stego.jpeg if stego.jpeg is not None else encode_image(stego.pixels, image_format)
    return encoded, stego.report


def robust_capacity(cover: np.ndarray, *, file_name: str = "", encrypted: bool = True) -> int:
    """Net bytes the robust mode takes in ``cover`` (how much of it survives an attack
    depends on the photo: the verify loop of :func:`embed_file_robust` says)."""
    from invsteg.pipelines import robust_files

    height, width = cover.shape[:2]
    return robust_files.capacity_bytes(width, height, file_name=file_name, encrypted=encrypted)


# -- invertible rescaling ------------------------------------------------------------------------


def load_rescaler(
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    *,
    device: str = "cpu",
) -> Rescaler:
    """The rescaling model: ``model`` or the one in ``weights``, else the default for ``scale``
    (default x2), on ``device``; its scale must be ``scale`` when both are given."""
    if model is None and weights is None:
        model = default_rescaler(scale or 2)
    net = create_model(model, weights=weights, task=Task.RESCALE)
    if scale is not None and net.scale != scale:
        raise UsageError(f"{weights or model} rescales by {net.scale}, not by {scale}")
    return net.to(resolve_device(device))


@dataclass(frozen=True)
class Rescaled:
    """A rescaled image and the note that ties a small image to its upscale."""

    pixels: np.ndarray
    model: str  # the model's name, or its weights file's
    note: RescaleNote | None  # down: to store in the small PNG; up: the note it followed, if any
    padded: bool = False  # down: the input was padded to a multiple of the scale


def rescale_down(
    image: np.ndarray,
    *,
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    net: Rescaler | None = None,
    tile: int = DEFAULT_RESCALE_TILE,
    refine: int = DEFAULT_REFINE_PASSES,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> Rescaled:
    """``image`` made ``scale`` times smaller so that :func:`rescale_up` restores it.
    Sides that are not multiples of the scale are padded (the note keeps the true size).
    ``refine``: passes of the search over the small image's levels (0: the network's output,
    rounded; each pass costs about a forward and a backward pass); ``progress`` is called
    with ``(tiles done, tiles)``."""
    from invsteg.pipelines import rescaling

    net = net or load_rescaler(scale, model, weights, device=device)
    small = rescaling.downscale(image, net, tile=tile, refine=refine, progress=progress)
    name = _rescaler_name(net, model, weights)
    height, width = image.shape[:2]
    note = RescaleNote(name, net.scale, width, height, tile)
    return Rescaled(small, name, note, padded=bool(height % net.scale or width % net.scale))


def rescale_up(
    small: np.ndarray,
    *,
    note: RescaleNote | None = None,
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    net: Rescaler | None = None,
    tile: int | None = None,
    size: tuple[int, int] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
) -> Rescaled:
    """The large image restored from ``small``. A ``note`` (from :func:`rescale_down`'s
    PNG) supplies the model, scale, tile grid and original size unless they are given."""
    from invsteg.pipelines import rescaling

    if note is not None and model is None and weights is None and net is None and scale in (None, note.scale):
        if note.model not in {spec.name for spec in list_models(Task.RESCALE)}:
            raise UsageError(f"this image was made with weights {note.model!r}: pass them as `weights`")
        model = note.model
    net = net or load_rescaler(scale, model, weights, device=device)
    if note is not None and note.scale != net.scale:
        raise UsageError(f"this image was made {note.scale}x smaller; it cannot be upscaled {net.scale}x")
    size = size or ((note.width, note.height) if note else None)
    tile = tile or (note.tile if note else DEFAULT_RESCALE_TILE)
    large = rescaling.upscale(small, net, tile=tile, size=size, temperature=temperature, seed=seed)
    return Rescaled(large, _rescaler_name(net, model, weights), note)


def _rescaler_name(net: Rescaler, model: str | None, weights: Path | str | None) -> str:
    return Path(weights).name if weights is not None else model or default_rescaler(net.scale)


# -- models and channels ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    name: str
    task: str
    parameters: int
    weights: str
    quality: str
    description: str
    default: bool = field(default=False)


def models() -> list[ModelInfo]:
    """Every registered model with its size; building them costs a second or two."""
    from invsteg.zoo import parameter_count

    defaults = {default_model(task) for task in Task}
    return [
        ModelInfo(
            spec.name,
            spec.task.value,
            parameter_count(spec.name),
            spec.weights or "none shipped",
            spec.quality,
            spec.description,
            spec.name in defaults,
        )
        for spec in list_models()
    ]
