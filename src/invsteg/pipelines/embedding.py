"""embed-file as a library: any bytes hidden in an image's colours, recovered bit-exact.

Images are ``(H, W, 3)`` uint8 numpy arrays, any size from about 40x40. The pipeline
(Steg-cINN, Ren et al. 2022; see docs/design.md, "embed-file: payload format 2 and stealth")::

    cover -(latents.read_latents)-> z (its own latents) -(signs, |z| as costs)->
    file -(sealed.seal)-> head + body message bits -(matrix coding)-> signs to flip
         -(steering.steer: 8-bit pixel edits until the stego's latents read them)-> stego

    stego -(latents.read_latents)-> z' -(signs)-> sealed.open_signs -> file

Only the signs the message needs change, and they change by edits of single 8-bit levels,
so a small file leaves most of the cover bit-identical. Embedding ends with a verify on the
rounded stego exactly as extraction will read it: what it promises is measured, not
assumed. Stegos of format 1 (before this design) still extract. torch is imported inside
functions, so importing this module is cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from invsteg.errors import InputFileError
from invsteg.models.contracts import ColourEmbedder
from invsteg.ops.quantize import psnr
from invsteg.payload import PayloadTooLargeError, Unpacked, extract_payload
from invsteg.payload import sealed as format2
from invsteg.payload.container import RandomBytes
from invsteg.payload.errors import EmbeddingFailedError, NoPayloadError
from invsteg.pipelines.embed_capacity import capacity, default_embed_model, safe_bytes
from invsteg.pipelines.embed_types import Capacity, EmbedReport, EmbedSettings
from invsteg.pipelines.latents import carrier_mask, read_latents
from invsteg.pipelines.steering import Steering, steer
from invsteg.zoo import Task, create_model, get_spec, list_models

if TYPE_CHECKING:
    import torch

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


# -- embedding ---------------------------------------------------------------------------------


def _carrier_values(z, mask: np.ndarray) -> np.ndarray:
    """Latents ``(1, C, h, w)`` -> the carriers' values ``(carriers,)`` float, carrier order."""
    return z[0].float().cpu().numpy()[mask]


def _latent_map(values: np.ndarray, mask: np.ndarray, like):
    """Carrier-order values ``(carriers,)`` -> ``(1, C, h, w)`` tensor (False/0 off carriers)."""
    import torch

    full = np.zeros(mask.shape, dtype=values.dtype)
    full[mask] = values
    return torch.from_numpy(full)[None].to(like.device)


FROZEN_COST = 1e6


class _Pass(NamedTuple):
    """The best pass so far: its correction share, stego, read signs and wrong carriers."""

    correction: float
    stego: np.ndarray
    signs: np.ndarray
    accepted: bool
    wrong: int


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
    random_bytes: RandomBytes = os.urandom,
    locator: bytes | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, EmbedReport]:
    """Hide ``data`` in the colours of ``cover``; return the stego and a report.

    Args:
        cover: ``(H, W, 3)`` uint8, about 40x40 or larger (odd sizes are fine).
        data: the file content, up to ``capacity(...).net_bytes`` (more if it compresses).
        file_name: stored with the data (base name only); extraction suggests it.
        passphrase: encrypt (AES-256-GCM) and hide where the message lies (Argon2id);
            None: anyone with invsteg can read it.
        model: a Steg-cINN (any weights); None loads the default one.
        wire_id: written into the header; default the default embedding model's.
        settings: margins, rounds and the acceptance rule.
        channels: carrier latent channels, None for all. Extraction must use the same.
        random_bytes: source of the message salt (injectable for tests).
        locator: :func:`~invsteg.payload.sealed.locator_key` of ``passphrase`` if already
            derived (it costs ~0.5 s).
        progress: called with ``(steering round, carriers still wrong)``.

    Returns:
        ``(stego, report)``: stego ``(H, W, 3)`` uint8 (save it losslessly), and
        :class:`EmbedReport`.

    The cover's own latents give each carrier's sign and cost (``|z|``: how far it is from
    flipping); matrix coding picks the cheapest signs to flip, and
    :func:`~invsteg.pipelines.steering.steer` edits pixels until the stego reads them. Each
    pass ends with a real read of the 8-bit stego; carriers that would not settle are frozen
    and the code routes around them in the next pass. Accepted when the worst codeword uses
    at most ``settings.accept_share`` of its correction; otherwise the best pass is returned
    if it still extracts.

    Raises:
        PayloadTooLargeError: the file does not fit (the message says how many bytes do).
        EmbeddingFailedError: the cover could not be made to carry the payload.
    """
    _check_image(cover, "cover")
    model = model if model is not None else load_embedding_model()
    wire_id = get_spec(default_embed_model()).wire_id if wire_id is None else wire_id
    height, width = cover.shape[:2]
    mask = carrier_mask(model, height, width, channels)
    carriers = int(mask.sum())
    room = format2.capacity_bytes(carriers, file_name=file_name, encrypted=passphrase is not None)
    locator = locator or format2.locator_key(passphrase)
    values = _carrier_values(read_latents(cover, model=model), mask)
    attempts: list[_Attempt] = []
    # The trellis layout changes the fewest signs; a cover that will not settle under it
    # (its cheapest flips are the latents nearest zero, which edits nearby knock back) is
    # embedded again from scratch under the sturdier Hamming layout. The reader tries both.
    for layout in format2.WRITE_LAYOUTS:
        try:
            message = format2.seal(
                data,
                file_name=file_name,
                wire_id=wire_id,
                passphrase=passphrase,
                carriers=carriers,
                locator=locator,
                random_bytes=random_bytes,
                layout=layout,
            )
        except PayloadTooLargeError:
            kind = "encrypted" if passphrase is not None else "unencrypted"
            raise PayloadTooLargeError(
                f"the file is {len(data)} bytes but this {width}x{height} cover holds at most {room} "
                f"bytes ({kind}, after header and error correction); use a larger cover or a smaller file"
            ) from None
        attempts.append(_steer_message(cover, values, message, mask, model, settings, progress))
        if attempts[-1].best.accepted:
            break
    attempt = min(attempts, key=lambda a: (not a.best.accepted, a.best.correction))
    best, used = attempt.best, attempt.used
    stego, accepted = best.stego, best.accepted
    if not _extracts(best.signs, passphrase, locator):
        raise EmbeddingFailedError(
            "this cover cannot carry the file reliably (carriers still read back wrong after the "
            "verify rounds, beyond what error correction repairs); try a larger `max_rounds`, a larger "
            "or less dark/bright cover, or a smaller file"
        )
    return stego, EmbedReport(
        width=width,
        height=height,
        carriers=carriers,
        capacity_bytes=room,
        safe_bytes=safe_bytes(width, height, room),
        payload_bytes=len(data),
        used_carriers=int(used.sum()),
        flips=attempt.flips,
        changed_samples=int((stego != cover).sum()),
        rounds=len(attempt.wrong_carriers),
        steer_rounds=sum(a.steer_rounds for a in attempts),
        wrong_carriers=attempt.wrong_carriers,
        correction_used=attempt.correction_used,
        accepted=accepted,
        exact=best.wrong == 0,
        psnr_db=psnr(stego, cover),
    )


class _Attempt(NamedTuple):
    """One message's verify passes: its best pass and what they took."""

    best: _Pass
    used: np.ndarray
    flips: int
    steer_rounds: int
    wrong_carriers: tuple[int, ...]
    correction_used: tuple[float, ...]


def _steer_message(
    cover: np.ndarray,
    values: np.ndarray,
    message: format2.Sealed,
    mask: np.ndarray,
    model: ColourEmbedder,
    settings: EmbedSettings,
    progress: Callable[[int, int], None] | None,
) -> _Attempt:
    """Steer ``cover`` (whose carriers read ``values``) until ``message`` reads back, in up
    to ``settings.max_rounds`` verify passes."""
    param = next(model.parameters())
    carriers = values.size
    signs = (values > 0).astype(np.uint8)
    costs = np.abs(values).astype(np.float64)  # levels of change a flip needs, roughly
    used = np.zeros(carriers, dtype=bool)
    used[message.used] = True
    used_map = _latent_map(used, mask, param)
    steering = Steering(margin=settings.margin, aim=settings.aim, max_rounds=settings.steer_rounds)
    # The first pass leaves the carriers that will not settle to be routed around, so it
    # stops as soon as progress slows; later passes steer what is left to the end.
    first_steering = replace(steering, patience=2, stall=0.9)
    wet = np.zeros(carriers, dtype=bool)
    stego, best, flips = cover, None, 0
    wrong_carriers: list[int] = []
    correction: list[float] = []
    steered = 0
    for index in range(settings.max_rounds):
        # frozen carriers cost more than any other choice, not infinitely: a block whose
        # every choice is frozen must still carry its bits
        flipped = message.flips(signs, np.where(wet, costs + FROZEN_COST, costs))
        if index == 0:
            flips = int(flipped.sum())  # the message's own changes, from the cover
        target = signs ^ flipped
        stego, history = steer(
            stego,
            _latent_map(target.astype(bool), mask, param),
            used_map,
            model=model,
            settings=first_steering if index == 0 else steering,
            progress=progress,
        )
        steered += len(history)
        read = _carrier_values(read_latents(stego, model=model), mask)
        signs = (read > 0).astype(np.uint8)
        weak = np.abs(read) < settings.margin
        bad = used & ((signs != target) | weak)
        wrong_carriers.append(int(bad.sum()))
        worst = message.correction_used(signs ^ weak)  # weak ones may read either way elsewhere
        correction.append(worst)
        accepted = worst <= settings.accept_share
        if best is None or worst <= best.correction:
            best = _Pass(worst, stego, signs, accepted, int(bad.sum()))
        if accepted:  # error correction repairs the rest, with half of it to spare
            break
        wet |= bad  # would not settle: the next pass routes around them
        costs = np.abs(read).astype(np.float64)
    assert best is not None  # max_rounds >= 1
    return _Attempt(best, used, flips, steered, tuple(wrong_carriers), tuple(correction))


def _extracts(signs: np.ndarray, passphrase: str | None, locator: bytes) -> bool:
    """Whether extraction from these read signs gives a file back (the right one: the
    head's salt and the authentication make any other outcome an error)."""
    from invsteg.errors import PayloadError

    try:
        format2.open_signs(signs, passphrase=passphrase, locator=locator)
    except PayloadError:
        return False
    return True


# -- extraction --------------------------------------------------------------------------------


def _open(
    stego: np.ndarray,
    model: ColourEmbedder,
    channels: Sequence[int] | None,
    passphrase: str | None,
    locator: bytes | None,
) -> Unpacked:
    """Format 2, then format 1 (stegos made before it) from one read of the latents."""
    mask = carrier_mask(model, stego.shape[0], stego.shape[1], channels)
    signs = (_carrier_values(read_latents(stego, model=model), mask) > 0).astype(np.uint8)
    try:
        return format2.open_signs(signs, passphrase=passphrase, locator=locator)
    except NoPayloadError as exc:
        try:
            return extract_payload(signs, passphrase=passphrase)
        except NoPayloadError:
            raise exc from None


def extract_file(
    stego: np.ndarray,
    *,
    passphrase: str | None = None,
    model: ColourEmbedder | None = None,
    channels: Sequence[int] | None = None,
    locator: bytes | None = None,
) -> Unpacked:
    """The file hidden in ``stego`` ``(H, W, 3)`` uint8 by :func:`embed_file` (or by a
    release before format 2).

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
    return _open(stego, model, channels, passphrase, locator)


def extract_file_any_model(
    stego: np.ndarray, *, passphrase: str | None = None, device: str | torch.device = "cpu"
) -> tuple[Unpacked, str]:
    """:func:`extract_file` with each registered embedding model whose weights are present,
    the default first, until one finds a payload; returns it and that model's name.

    A stego does not say which model wrote it (its model id sits inside the payload), and
    the default has changed before (stegcinn-fast, then stegcinn-detail): a stego from an
    older default must still extract without naming its model. Only "no payload found" moves on
    to the next model; any other failure (wrong passphrase, damage) is final. Each model
    tried costs one read of the stego; the passphrase's key is derived once.

    Raises:
        NoPayloadError: no model finds a payload (or the passphrase is wrong).
        WeightsError: the default model's weights are missing.
    """
    from invsteg.errors import WeightsError

    _check_image(stego, "stego")
    default = default_embed_model()
    names = sorted((spec.name for spec in list_models("embed")), key=lambda name: name != default)
    locator = format2.locator_key(passphrase)
    tried: list[str] = []
    first_error: NoPayloadError | None = None
    for name in names:
        try:
            model = load_embedding_model(name).to(device)
        except WeightsError:
            if name == default:
                raise
            continue  # not installed: nothing it could have written here
        tried.append(name)
        try:
            return _open(stego, model, None, passphrase, locator), name
        except NoPayloadError as exc:
            first_error = first_error or exc
    assert first_error is not None  # the default was tried
    raise NoPayloadError(f"{first_error} (tried the models {', '.join(tried)})")
