"""embed-file as a library: any bytes hidden in an image's colours, recovered bit-exact.

Images are ``(H, W, 3)`` uint8 numpy arrays, any size >= 2x2. The pipeline (Steg-cINN,
Ren et al. 2022; see docs/design.md)::

    file --frame.frame_payload--> bits (one per carrier latent)
         --mapper.bits_to_latents--> z (1, latent_channels, H/2, W/2), sign = bit
         --latents.render: model.decode(z, L of the cover [, its colour]), Lab -> sRGB,
           clip, round--> stego (uint8)

    stego --latents.read_latents: sRGB -> Lab, model.encode(ab, L of the stego)--> z'
          --signs--> bits --frame.extract_payload--> file

Which latents carry bits and the tile grid are part of the format; both live in
:mod:`invsteg.pipelines.latents`. Embedding ends with a verify-after-embed loop on the
rounded stego exactly as extraction will see it, so what it promises is measured, not
assumed; see :func:`embed_file` and :class:`EmbedSettings`. torch is imported inside
functions, so importing this module is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from invsteg.errors import InputFileError, ModelError
from invsteg.models.contracts import ColourEmbedder
from invsteg.ops.quantize import psnr
from invsteg.payload import (
    DEFAULT_NSYM,
    PayloadTooLargeError,
    Unpacked,
    capacity_bytes,
    extract_payload,
    message_capacity,
    overhead_bytes,
)
from invsteg.payload.container import RandomBytes
from invsteg.payload.errors import EmbeddingFailedError
from invsteg.payload.frame import frame_payload
from invsteg.pipelines.embed_types import Capacity, EmbedReport, EmbedSettings
from invsteg.pipelines.latents import (
    carrier_mask,
    check_channels,
    lightness,
    pad_even,
    parameter,
    read_bits,
    read_latents,
    render,
)
from invsteg.zoo import DEFAULT_EMBED_MODEL, Task, create_model, get_spec, list_models

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "Capacity",
    "EmbedReport",
    "EmbedSettings",
    "capacity",
    "default_embed_model",
    "embed_file",
    "extract_file",
    "extract_file_any_model",
    "load_embedding_model",
]


# -- the model ---------------------------------------------------------------------------------


def default_embed_model() -> str:
    """Name of the default embedding model: ``registry.DEFAULT_EMBED_MODEL``.

    stegcinn-detail: its stegos keep the cover's colour per 2x2 block, where stegcinn-fast
    and stegcinn-small re-draw all of the colour and, trained for minutes, draw it grey
    and speckled (docs/embed_figure.png against docs/embed_figure_fast.png). It costs a
    quarter of the capacity (~0.74 bpp net against ~0.99) at the same speed, and on the
    val split it is as dependable (benchmarks/results.md).
    """
    if get_spec(DEFAULT_EMBED_MODEL).task != "embed" or not list_models("embed"):
        raise ModelError("no embedding model is registered")
    return DEFAULT_EMBED_MODEL


def load_embedding_model(model: str | None = None, weights: Path | None = None) -> ColourEmbedder:
    """The model to embed with: ``weights`` (architecture from its metadata) or the
    registered ``model`` (default :func:`default_embed_model`) with its shipped,
    sha256-verified weights.

    Raises:
        ModelError: unknown name, or a model that does not embed files.
        WeightsError: the weights are missing (none shipped yet), corrupt or do not fit.
    """
    return create_model(model or default_embed_model(), weights=weights, task=Task.EMBED)


def _check_image(pixels: np.ndarray, role: str) -> None:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise TypeError(f"{role} must be a uint8 numpy array")
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"{role} must have shape (H, W, 3), got {pixels.shape}")
    if min(pixels.shape[:2]) < 2:
        raise InputFileError(
            f"{role} is {pixels.shape[1]}x{pixels.shape[0]}; embed-file needs at least 2x2 pixels"
        )


# -- capacity ----------------------------------------------------------------------------------


def capacity(
    cover: np.ndarray,
    *,
    model: ColourEmbedder | None = None,
    passphrase: str | None = None,
    file_name: str = "",
    channels: Sequence[int] | None = None,
    nsym: int = DEFAULT_NSYM,
    encrypted: bool | None = None,
) -> Capacity:
    """How many bytes of file content ``cover`` ``(H, W, 3)`` uint8 holds.

    Only the size of the cover and the model's latent layout matter (not its weights), so
    ``model=None`` uses the registered embedding model's architecture without loading
    weights. The figure is exact: a file of ``net_bytes`` bytes named ``file_name`` embeds
    (with encryption iff ``passphrase`` is given, or as ``encrypted`` says when given) and
    extracts; one byte more does not fit unless it compresses. ``channels``: the carrier
    latent channels, None for all.
    """
    if model is None:
        from invsteg.zoo._pretrained import random_model

        model = random_model(get_spec(default_embed_model()))
    height, width = cover.shape[:2]
    mask = carrier_mask(model, height, width, channels)
    carriers = int(mask.sum())
    if encrypted is None:
        encrypted = passphrase is not None
    net = capacity_bytes(carriers, nsym, file_name=file_name, encrypted=encrypted)
    return Capacity(
        width=width,
        height=height,
        latents=int(mask.size),
        carriers=carriers,
        channels=check_channels(model, channels),
        nsym=nsym,
        encrypted=encrypted,
        # what the stored name costs: the overhead beyond that of an empty name
        file_name_bytes=overhead_bytes(file_name, encrypted=False) - overhead_bytes("", encrypted=False),
        container_bytes=message_capacity(carriers, nsym),
        net_bytes=net,
        bpp=8 * net / (width * height),
    )


# -- embedding ---------------------------------------------------------------------------------


class _Pass(NamedTuple):
    """The pass :func:`embed_file` would return so far."""

    worst: int
    index: int
    stego: np.ndarray
    bits: np.ndarray
    clipped: int
    lifted: int


def _lift(lightness: Tensor, fails: Tensor, bad: Tensor, settings: EmbedSettings) -> Tensor:
    """Pull L ``(1, 1, H, W)`` of the pixels of bad blocks ``(1, 1, H/2, W/2)`` that failed
    ``lift_after`` times or more into ``[lift_dark k, 100 - lift_bright k]``, k the number of
    failures beyond that."""
    import torch
    import torch.nn.functional as F

    level = ((fails - settings.lift_after + 1).clamp(min=0) * bad).to(lightness.dtype)
    level = F.interpolate(level, scale_factor=2, mode="nearest")  # blocks -> pixels
    lifted = torch.minimum(
        torch.maximum(lightness, settings.lift_dark * level), 100 - settings.lift_bright * level
    )
    return torch.where(level > 0, lifted, lightness)


def embed_file(
    cover: np.ndarray,
    data: bytes,
    *,
    file_name: str = "",
    passphrase: str | None = None,
    model: ColourEmbedder | None = None,
    wire_id: int | None = None,
    settings: EmbedSettings = EmbedSettings(),
    channels: Sequence[int] | None = None,
    seed: int | None = None,
    random_bytes: RandomBytes = os.urandom,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, EmbedReport]:
    """Hide ``data`` in the colours of ``cover``; return the stego and a report.

    Args:
        cover: ``(H, W, 3)`` uint8, any size >= 2x2 (odd sizes are edge-padded inside and
            cropped back).
        data: the file content, any length up to ``capacity(...).net_bytes`` (more if it
            compresses).
        file_name: stored with the data (base name only); extraction suggests it.
        passphrase: encrypt (AES-256-GCM, scrypt key) and key the bit interleaving; None
            whitens only.
        model: a Steg-cINN (any weights); None loads the default one.
        wire_id: written into the header; default the default embedding model's.
        settings: the mapper's band, the verify loop's rules and ``nsym`` (which extraction
            must use too).
        channels: carrier latent channels, None for all. Extraction must use the same.
        seed: seeds the latent draws (random by default); for reproducible benchmarks.
        random_bytes: source of padding, salt and nonce (injectable for tests).
        progress: called with ``(round, worst codeword's wrong bytes)`` after each pass.

    Returns:
        ``(stego, report)``: stego ``(H, W, 3)`` uint8 (save it losslessly), and
        :class:`EmbedReport`.

    The verify loop: render the stego (8-bit, cropped), read it back with
    :func:`~invsteg.pipelines.latents.read_latents` and extract the container from the
    bits, as extraction will. Accept it when that gives the container back and the worst
    codeword uses at most ``settings.accept_share`` of its correction capacity. Otherwise
    repair: for each 2x2 block with a carrier that reads back wrong or weak, if the block's
    colour was clipped to the sRGB gamut, shrink its latents toward the margin; otherwise
    the flip came from 8-bit rounding, so :func:`~invsteg.pipelines.mapper.strengthen` the
    wrong latents. A block that keeps failing gets its L lifted off black or white.
    Re-render and check again. If no pass is accepted within ``settings.max_rounds``, the
    pass with the fewest wrong bytes in its worst codeword is returned if it still extracts.

    Raises:
        PayloadTooLargeError: the file does not fit (the message says how many bytes do).
        EmbeddingFailedError: the cover could not be made to carry the payload.
    """
    import torch
    import torch.nn.functional as F

    from invsteg.pipelines.mapper import draw_latents, latents_to_bits, shrink, strengthen

    _check_image(cover, "cover")
    model = model if model is not None else load_embedding_model()
    wire_id = get_spec(default_embed_model()).wire_id if wire_id is None else wire_id
    nsym = settings.nsym
    height, width = cover.shape[:2]
    mask = carrier_mask(model, height, width, channels)
    carriers = int(mask.sum())
    room = capacity_bytes(carriers, nsym, file_name=file_name, encrypted=passphrase is not None)
    try:
        framed = frame_payload(
            data,
            file_name=file_name,
            wire_id=wire_id,
            passphrase=passphrase,
            num_latents=carriers,
            nsym=nsym,
            random_bytes=random_bytes,
        )
    except PayloadTooLargeError:
        kind = "encrypted" if passphrase is not None else "unencrypted"
        raise PayloadTooLargeError(
            f"the file is {len(data)} bytes but this {width}x{height} cover holds at most {room} "
            f"bytes ({kind}, after header and error correction); use a larger cover or a smaller file"
        ) from None

    param = parameter(model)
    generator = torch.Generator().manual_seed(
        seed if seed is not None else int.from_bytes(random_bytes(8), "big") >> 1
    )
    carrier_t = torch.from_numpy(mask)[None].to(param.device)
    z = draw_latents(
        framed.bits,
        mask,
        generator,
        param,
        alpha=settings.alpha,
        ceiling=settings.ceiling,
        chunk=settings.latent_chunk,
    )
    positive = z > 0  # the sign each carrier must read back with
    limit = int(settings.accept_share * (nsym // 2))
    margin = settings.read_margin

    bit_errors: list[int] = []
    weak_bits: list[int] = []
    codeword_errors: list[int] = []
    best: _Pass | None = None
    with torch.inference_mode():
        padded = pad_even(cover)
        cover_lightness = lightness(padded, param)
        light = cover_lightness
        cover_colour = padded if model.uses_cover_colour else None
        fails = torch.zeros((1, 1, *mask.shape[1:]), dtype=torch.int32, device=param.device)
        for index in range(settings.max_rounds):
            rendered, clipped_pixels = render(model, z, light, cover_colour)
            stego = rendered[:height, :width]
            read = read_latents(stego, model=model)
            # wrong: score <= 0, weak: score < margin, score = +-read by the wanted sign
            # (spelled out: no float copies of the latents)
            wrong = carrier_t & torch.where(positive, read <= 0, read >= 0)
            bit_errors.append(int(wrong.sum()))
            del wrong
            weak = carrier_t & torch.where(positive, read < margin, read > -margin)
            weak_bits.append(int(weak.sum()))
            # weak bits count as wrong here: the margin must hold on any machine
            pessimistic = framed.bits ^ weak[0].cpu().numpy()[mask].astype(np.uint8)
            worst = int(framed.codeword_errors(pessimistic).max(initial=0))
            codeword_errors.append(worst)
            if progress is not None:
                progress(index, worst)
            bits = latents_to_bits(read[0].cpu())[mask]
            del read, pessimistic  # not held while the next pass renders (~8 bytes per pixel)
            accepted = worst <= limit and framed.decodes(bits)
            if best is None or worst <= best.worst or accepted:
                best = _Pass(
                    worst,
                    index,
                    stego,
                    bits,
                    clipped=int(clipped_pixels[..., :height, :width].sum()),
                    lifted=int((light != cover_lightness)[..., :height, :width].sum()),
                )
            if accepted or index == settings.max_rounds - 1:
                break
            # Repair the blocks with a weak carrier, (1, 1, h, w): only those (repairing or
            # lifting their neighbours too made trained models worse, as the changed colours
            # spread through the network's context; benchmarks/results.md).
            failing = weak.any(dim=1, keepdim=True)
            clipped = F.max_pool2d(clipped_pixels.to(param.dtype), 2) > 0
            fails += failing.to(torch.int32)
            z = shrink(z, failing & clipped, carrier_t, settings.alpha, settings.shrink_factor)
            z = strengthen(
                z, weak & ~clipped, settings.strengthen_factor, max_abs=settings.strengthen_max_abs
            )
            light = _lift(light, fails, failing, settings)

    assert best is not None  # max_rounds >= 1
    if not accepted and not framed.decodes(best.bits):
        raise EmbeddingFailedError(
            "this cover cannot carry the file reliably (bits still read back wrong after the "
            "verify rounds, beyond what error correction repairs); try more --max-rounds, "
            "a larger or less dark/bright cover, or a smaller file"
        )
    chosen = best.index
    return best.stego, EmbedReport(
        width=width,
        height=height,
        carriers=carriers,
        capacity_bytes=room,
        payload_bytes=len(data),
        rounds=len(bit_errors),
        bit_errors=tuple(bit_errors),
        weak_bits=tuple(weak_bits),
        codeword_errors=tuple(codeword_errors),
        worst_codeword=codeword_errors[chosen],
        correctable=nsym // 2,
        accepted=accepted,
        bit_accuracy_first=1 - bit_errors[0] / carriers,
        bit_accuracy=1 - bit_errors[chosen] / carriers,
        exact=bit_errors[chosen] == 0,
        clipped_pixels=best.clipped,
        lifted_pixels=best.lifted,
        psnr_db=psnr(best.stego, cover),
    )


# -- extraction --------------------------------------------------------------------------------


def extract_file(
    stego: np.ndarray,
    *,
    passphrase: str | None = None,
    model: ColourEmbedder | None = None,
    channels: Sequence[int] | None = None,
    nsym: int = DEFAULT_NSYM,
) -> Unpacked:
    """The file hidden in ``stego`` ``(H, W, 3)`` uint8 by :func:`embed_file`.

    Returns:
        :class:`~invsteg.payload.Unpacked`: ``data``, ``file_name`` (untrusted: pass it
        through :func:`~invsteg.payload.safe_file_name`), ``wire_id``, ``encrypted``.

    Raises:
        NoPayloadError: none found (or wrong passphrase, model or channels).
        PassphraseRequiredError, PassphraseNotExpectedError, WrongPassphraseError,
        PayloadCorruptedError, PayloadTamperedError, UnsupportedVersionError: from the
        payload layer; never wrong data.
    """
    _check_image(stego, "stego")
    model = model if model is not None else load_embedding_model()
    return extract_payload(read_bits(stego, model=model, channels=channels), passphrase=passphrase, nsym=nsym)


def extract_file_any_model(stego: np.ndarray, *, passphrase: str | None = None) -> tuple[Unpacked, str]:
    """:func:`extract_file` with each registered embedding model whose weights are present,
    the default first, until one finds a payload; returns it and that model's name.

    A stego does not say which model wrote it (its model id sits inside the payload), and
    the default has changed before (stegcinn-fast, then stegcinn-detail): a stego from an
    older default must still extract without ``--model``. Only "no payload found" moves on
    to the next model; any other failure (wrong passphrase, damage) is final. Each model
    tried costs one read of the stego.

    Raises:
        NoPayloadError: no model finds a payload (or the passphrase is wrong).
        WeightsError: the default model's weights are missing.
    """
    from invsteg.errors import WeightsError
    from invsteg.payload.errors import NoPayloadError

    default = default_embed_model()
    names = sorted((spec.name for spec in list_models("embed")), key=lambda name: name != default)
    tried: list[str] = []
    first_error: NoPayloadError | None = None
    for name in names:
        try:
            model = load_embedding_model(name)
        except WeightsError:
            if name == default:
                raise
            continue  # not installed: nothing it could have written here
        tried.append(name)
        try:
            return extract_file(stego, passphrase=passphrase, model=model), name
        except NoPayloadError as exc:
            first_error = first_error or exc
    assert first_error is not None  # the default was tried
    raise NoPayloadError(f"{first_error} (tried the models {', '.join(tried)})")
