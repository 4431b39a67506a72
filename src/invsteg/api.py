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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from invsteg.api_hiding import (
    DEVICES,
    ROBUST_ONE,
    Stego,
    check_lossless_stego,
    check_precision,
    hide,
    hiding_model_name,
    load_hiding_model,
    resolve_device,
    reveal,
    secrets_per_cover,
)
from invsteg.api_rescaling import ModelInfo, Rescaled, load_rescaler, models, rescale_down, rescale_up
from invsteg.errors import ModelError, UsageError
from invsteg.io.images import DEFAULT_MAX_PIXELS, LoadedImage, encode_image
from invsteg.io.images import decode_image as _decode_image
from invsteg.io.images import read_image as _read_image
from invsteg.io.outputs import LOSSLESS
from invsteg.ops.distortions import attack_image as attack  # resize, blur, noise, JPEG; checked first
from invsteg.ops.distortions import check_attacks
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
    from invsteg.models.contracts import ColourEmbedder
    from invsteg.payload import Unpacked
    from invsteg.pipelines.adaptive import AdaptiveReport
    from invsteg.pipelines.embedding import Capacity, EmbedReport
    from invsteg.pipelines.robust_files import RobustReport

# How embed-file hides a file (what extraction reports): payload format 3 (no model), a
# Steg-cINN model (format 2), or the robust file channel, which is no model either; it is
# named apart from the `robust` hiding model.
ADAPTIVE = "adaptive"
STEG_CINN = "steg-cinn"
ROBUST_FILE = "robust-file"

__all__ = [
    "ADAPTIVE",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MODEL",
    "DEFAULT_REFINE_PASSES",
    "DEFAULT_RESCALE_TILE",
    "DEFAULT_TILE",
    "DEVICES",
    "LOSSLESS",
    "ROBUST_FILE",
    "ROBUST_JPEG_QUALITY",
    "ROBUST_ONE",
    "ROBUST_RESIZE",
    "STEG_CINN",
    "AdaptiveCapacity",
    "Box",
    "Extracted",
    "ModelInfo",
    "RescaleNote",
    "Rescaled",
    "Stego",
    "adaptive_capacity",
    "attack",
    "capacity",
    "check_attacks",
    "check_lossless_stego",
    "check_precision",
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


# -- any file in an image's colours ---------------------------------------------------------------


def embedding_spec(model: str | None) -> ModelSpec:
    """The registered embedding model ``model`` (default: the task's)."""
    if model == "":
        raise UsageError("`model` is empty; give a model name (see `invsteg models`) or leave it out")
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
    cost: str | None = None,
    kdf_level: int | None = None,
    max_rounds: int = 8,
    image_format: str = "PNG",
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[bytes, EmbedReport | AdaptiveReport]:
    """Hide ``data`` in ``cover``'s colours; the stego file's bytes (lossless ``image_format``)
    and the embedder's report. Extracts bit-exact (:func:`extract_file`).

    Without ``model`` and ``weights``: payload format 3, +-1 changes of the colour samples
    chosen under ``cost`` (:mod:`invsteg.pipelines.adaptive`; ``kdf_level``: the passphrase's
    Argon2id cost, stored in the stego). With either: format 2 through that Steg-cINN model,
    ``max_rounds`` verify passes at most, ``progress`` called after each steering round with
    ``(round, carriers still wrong)``.
    """
    if image_format not in LOSSLESS:
        raise UsageError(
            f"`image_format={image_format!r}` is lossy and would destroy the hidden file; use PNG"
        )
    if model is None and weights is None:
        from invsteg.payload.parity import DEFAULT_KDF_LEVEL
        from invsteg.pipelines import adaptive

        stego, adaptive_report = adaptive.embed_file(
            cover,
            data,
            file_name=file_name,
            passphrase=passphrase,
            cost=cost or adaptive.DEFAULT_COST,
            kdf_level=DEFAULT_KDF_LEVEL if kdf_level is None else kdf_level,
        )
        return encode_image(stego, image_format), adaptive_report
    if cost is not None or kdf_level is not None:
        raise UsageError(
            "`cost` and `kdf_level` choose how format 3 embeds; a model writes format 2 without them"
        )
    from invsteg.pipelines import embedding

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
    """A file recovered bit-exact, how it was hidden (:data:`ADAPTIVE`, :data:`STEG_CINN`
    or :data:`ROBUST_FILE`) and, for a Steg-cINN stego, the model (or weights file) that
    read it."""

    unpacked: Unpacked
    method: str
    model: str | None = None


def extract_file(
    stego: np.ndarray,
    *,
    passphrase: str | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    robust: bool = False,
    device: str = "cpu",
) -> Extracted:
    """The file ``embed-file`` hid in ``stego``. Without ``model``/``weights``: payload format 3
    (no model, no torch), then every shipped embedding model, the default first (stegos of
    older releases still extract), then the robust channel; ``robust``: only the robust
    channel. Only "no payload found" moves on to the next: a wrong passphrase or damage
    found by one of them is final."""
    from invsteg.pipelines import adaptive, embedding, robust_files

    if robust:
        return Extracted(robust_files.extract_file(stego, passphrase=passphrase), ROBUST_FILE)
    if model is None and weights is None:
        try:
            return Extracted(adaptive.extract_file(stego, passphrase=passphrase), ADAPTIVE)
        except NoPayloadError:
            pass
        try:
            unpacked, used = embedding.extract_file_any_model(
                stego, passphrase=passphrase, device=resolve_device(device)
            )
        except NoPayloadError as exc:
            try:
                return Extracted(robust_files.extract_file(stego, passphrase=passphrase), ROBUST_FILE)
            except NoPayloadError:
                # format 3's salt is public and cannot carry redundancy (a steganalyst
                # could check it), so a few changed samples there read as no payload too
                raise NoPayloadError(
                    f"{exc}, format 3 and the robust channel; a stego changed since it was "
                    "written, even in a few samples, reads so too"
                ) from None
        return Extracted(unpacked, STEG_CINN, used)
    spec = embedding_spec(model)
    net = create_model(spec.name, weights=weights, task=Task.EMBED).to(resolve_device(device))
    unpacked = embedding.extract_file(stego, passphrase=passphrase, model=net)
    return Extracted(unpacked, STEG_CINN, str(weights) if weights else spec.name)


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


@dataclass(frozen=True)
class AdaptiveCapacity:
    """What a cover holds in payload format 3: ``net_bytes`` of file content at most (after
    header, encryption or integrity fields, the stored name and error correction; exact),
    ``bpp`` = ``8 net_bytes / (W H)``, and the ``safe_bytes`` beyond which the steganalysis
    benchmark tells stegos from photos more often."""

    width: int
    height: int
    net_bytes: int
    bpp: float
    safe_bytes: int
    encrypted: bool


def adaptive_capacity(cover: np.ndarray, *, file_name: str = "", encrypted: bool = True) -> AdaptiveCapacity:
    """:class:`AdaptiveCapacity` of ``cover`` (only its size matters)."""
    from invsteg.pipelines import adaptive

    height, width = cover.shape[:2]
    net = adaptive.capacity_bytes(width, height, file_name=file_name, encrypted=encrypted)
    return AdaptiveCapacity(
        width, height, net, 8 * net / (width * height), adaptive.safe_bytes(width, height, net), encrypted
    )


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
        raise UsageError(f"`resize={resize}` must be between 0.1 and 1 (the smallest scale to survive)")
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
