"""Payload format 2 on a noisy channel: file bytes -> quantised projections of cell means.

The robust channel (:mod:`invsteg.pipelines.robust_files`) gives ``cells`` real values per
image (luminance means of a grid of cells). Each coded bit owns a few cells, spread over the
whole image by a keyed order, and is read from one number: the projection of its cells'
means on keyed signs, quantised with a step and a keyed dither (spread-transform dither
modulation, Chen & Wornell 2001). The step is not stored: the embedder picks it from
:data:`STEPS`, the extractor tries each.

Framing, as in :mod:`invsteg.payload.sealed` but with much more redundancy:

1. ``locator = Argon2id(passphrase)`` (or the public one) keys the **head**: a random salt
   and the container's masked length, Reed-Solomon coded with ``HEAD_NSYM`` parity bytes,
   on the first ``head_cells`` cells of the locator's order for this grid.
2. ``keys = HKDF(locator, salt)`` key the body's cells, signs and dithers, the whitening and
   the cipher: nothing repeats between messages.
3. The **body**: the container (:func:`~invsteg.payload.keyed.pack_v2`) Reed-Solomon coded
   at rate 1/2 (``BODY_NSYM``), its bits dealt round-robin over all remaining cells, so a
   small file gets many cells per bit and survives more.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from invsteg.errors import PayloadError
from invsteg.payload.container import RandomBytes, Unpacked
from invsteg.payload.ecc import (
    bits_to_bytes,
    bytes_to_bits,
    ecc_decode,
    ecc_encode,
    ecc_encoded_len,
    permutation,
)
from invsteg.payload.errors import NoPayloadError, PayloadCorruptedError
from invsteg.payload.keyed import MessageKeys, unpack_v2
from invsteg.payload.sealed import HEAD_PLAIN_LEN, PUBLIC_LOCATOR, head_keys, new_message, wrong_bytes

HEAD_NSYM = 28  # corrects 14 wrong bytes of the 48-byte head
HEAD_BITS = 8 * ecc_encoded_len(HEAD_PLAIN_LEN, HEAD_NSYM)  # 384
BODY_NSYM = 128  # rate 1/2: corrects 64 wrong bytes per 255
HEAD_SHARE = 6  # the head takes a sixth of the cells, up to MAX_HEAD_SPREAD cells per bit
MIN_HEAD_SPREAD = 2
MAX_HEAD_SPREAD = 24
MIN_BODY_SPREAD = 1.5  # cells per body bit, on average, at least
LEVEL_ROOM = 2.0  # luminance levels a cell mean keeps from black and white
STEPS = tuple(round(2.0 * 1.2**j, 3) for j in range(16))  # quantiser steps, luminance levels


def head_cells(cells: int) -> int:
    """Cells that hold the head on a grid of ``cells``: a sixth, but at least
    ``MIN_HEAD_SPREAD`` per head bit while that leaves two thirds to the body."""
    floor = min(MIN_HEAD_SPREAD * HEAD_BITS, cells // 3)
    return min(max(cells // HEAD_SHARE, floor), MAX_HEAD_SPREAD * HEAD_BITS)


def body_bits(blob_len: int) -> int:
    """Coded bits of a ``blob_len``-byte container."""
    return 8 * ecc_encoded_len(blob_len, BODY_NSYM)


def max_blob_bytes(cells: int) -> int:
    """The longest container a grid of ``cells`` holds (0 if not even the head fits)."""
    if head_cells(cells) < MIN_HEAD_SPREAD * HEAD_BITS:
        return 0
    room = int((cells - head_cells(cells)) / MIN_BODY_SPREAD) // 8
    low, high = 0, room
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ecc_encoded_len(mid, BODY_NSYM) <= room else (low, mid - 1)
    return low


def _keystream(seed: bytes, label: bytes, length: int) -> np.ndarray:
    """``length`` keyed bytes (AES-256-CTR under SHA-256 of seed and label), uint8."""
    key = hashlib.sha256(seed + b"/" + label).digest()
    enc = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()
    return np.frombuffer(enc.update(bytes(length)), dtype=np.uint8)


@dataclass(frozen=True)
class Segment:
    """``bits`` coded bits on the cells ``cells`` (indices into the flat means): cell ``i``
    serves bit ``owner[i]`` with sign ``sign[i]``; bit ``k`` is quantised with dither
    ``dither[k]`` (a fraction of the step)."""

    cells: np.ndarray
    owner: np.ndarray
    sign: np.ndarray
    dither: np.ndarray

    @classmethod
    def keyed(cls, cells: np.ndarray, bits: int, seed: bytes) -> Segment:
        if bits < 1 or cells.size < bits:
            raise ValueError(f"{cells.size} cells cannot carry {bits} bits")
        signs = np.unpackbits(_keystream(seed, b"signs", -(-cells.size // 8)))[: cells.size]
        dither = _keystream(seed, b"dither", 2 * bits).view(">u2").astype(np.float64) / 65536.0
        return cls(cells, np.arange(cells.size) % bits, 1.0 - 2.0 * signs, dither)

    @property
    def bits(self) -> int:
        return self.dither.size

    def _spread(self) -> np.ndarray:
        return np.sqrt(np.bincount(self.owner, minlength=self.bits).astype(np.float64))

    def project(self, means: np.ndarray) -> np.ndarray:
        """``(bits,)``: each bit's projection of the flat ``means`` on its unit-norm signs."""
        sums = np.bincount(self.owner, self.sign * means[self.cells], minlength=self.bits)
        return sums / self._spread()

    def read(self, means: np.ndarray, step: float) -> np.ndarray:
        """``(bits,)`` uint8: the bits quantised at ``step`` from ``means``."""
        return (np.rint(2.0 * (self.project(means) / step - self.dither)) % 2).astype(np.uint8)

    def change(self, means: np.ndarray, bits: np.ndarray, step: float, weights: np.ndarray) -> np.ndarray:
        """``(cells,)``: the change of each of this segment's cells' means that makes ``bits``
        read back at the centre of their quantisation cells, shared among a bit's cells in
        proportion to ``weights`` (a flat array over all cells, > 0: where change hides)."""
        half = 2.0 * (self.project(means) / step - self.dither)  # in half steps
        below = np.floor(half)
        below = np.where(below % 2 != bits, below - 1.0, below)  # the right parity, below
        level = means[self.cells]
        options = []
        for target in (below, below + 2.0):
            needed = (target - half) * step / 2.0  # projection change per bit
            # a cell at black cannot go darker, nor one at white brighter: it gets no share
            rising = self.sign * np.sign(needed)[self.owner] > 0
            free = np.where(rising, level < 255.0 - LEVEL_ROOM, level > LEVEL_ROOM)
            weight = weights[self.cells] * free
            total = np.bincount(self.owner, weight, minlength=self.bits)
            scale = np.divide(needed * self._spread(), total, out=np.zeros(self.bits), where=total > 0)
            change = self.sign * weight * scale[self.owner]
            energy = np.bincount(self.owner, change * change, minlength=self.bits)
            options.append((change, np.where(total > 0, energy, np.inf)))
        (low, low_cost), (high, high_cost) = options
        return np.where((low_cost <= high_cost)[self.owner], low, high)


@dataclass(frozen=True)
class Message:
    """A container laid out on a grid: its head and body segments and their coded bits."""

    head: Segment
    head_bits: np.ndarray
    body: Segment
    body_bits: np.ndarray
    blob: bytes

    def change(self, means: np.ndarray, step: float, weights: np.ndarray) -> np.ndarray:
        """Flat ``(cells,)`` change of the means that writes the whole message."""
        out = np.zeros(means.size)
        for segment, bits in ((self.head, self.head_bits), (self.body, self.body_bits)):
            out[segment.cells] = segment.change(means, bits, step, weights)
        return out

    def correction_used(self, means: np.ndarray, step: float) -> float:
        """The largest share of its correction capacity any codeword would spend reading
        ``means`` at ``step``: 1 or more fails."""
        head = wrong_bytes(self.head.read(means, step), self.head_bits) / (HEAD_NSYM // 2)
        body = wrong_bytes(self.body.read(means, step), self.body_bits) / (BODY_NSYM // 2)
        return max(head, body)


def _head_layout(cells: int, locator: bytes, grid: bytes) -> tuple[Segment, np.ndarray]:
    """(the head segment, the remaining cells): one function for both directions."""
    seed = hashlib.sha256(locator + b"/robust/" + grid).digest()
    order = permutation(cells, seed)
    split = head_cells(cells)
    return Segment.keyed(order[:split], HEAD_BITS, seed), order[split:]


def _body_layout(rest: np.ndarray, keys: MessageKeys, blob_len: int) -> Segment:
    cells = rest[permutation(rest.size, keys.order)]
    return Segment.keyed(cells, body_bits(blob_len), keys.order)


def seal(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    cells: int,
    grid: bytes,
    locator: bytes | None = None,
    random_bytes: RandomBytes = os.urandom,
) -> Message:
    """Lay out ``data`` on a grid of ``cells`` named ``grid`` (bytes that key the head).

    Raises:
        PayloadTooLargeError: the container does not fit this grid.
    """
    locator, message = new_message(
        data,
        file_name=file_name,
        wire_id=wire_id,
        passphrase=passphrase,
        locator=locator,
        random_bytes=random_bytes,
        room=max_blob_bytes(cells),
    )
    head, rest = _head_layout(cells, locator, grid)
    return Message(
        head,
        bytes_to_bits(ecc_encode(message.head, HEAD_NSYM)),
        _body_layout(rest, message.keys, len(message.blob)),
        bytes_to_bits(ecc_encode(message.blob, BODY_NSYM)),
        message.blob,
    )


@dataclass(frozen=True)
class Found:
    """A head read under some step: what the body needs."""

    keys: MessageKeys
    blob_len: int
    body: Segment
    step: float


def find_heads(
    means: np.ndarray, *, locator: bytes, grid: bytes, steps: Sequence[float] = STEPS
) -> Iterator[Found]:
    """Each head found on ``means`` (flat, one grid), one per step that decodes one."""
    cells = means.size
    if max_blob_bytes(cells) == 0:
        return
    head, rest = _head_layout(cells, locator, grid)
    projections = head.project(means)
    for step in steps:
        bits = (np.rint(2.0 * (projections / step - head.dither)) % 2).astype(np.uint8)
        try:
            decoded = ecc_decode(bits_to_bytes(bits), HEAD_NSYM)
        except PayloadError:
            continue
        keys, blob_len = head_keys(decoded, locator)
        if 0 < blob_len <= max_blob_bytes(cells):
            yield Found(keys, blob_len, _body_layout(rest, keys, blob_len), step)


def open_found(means: np.ndarray, found: Found, *, encrypted: bool) -> Unpacked:
    """The file whose head was ``found`` on ``means``.

    Raises:
        PayloadCorruptedError, PayloadTamperedError, UnsupportedVersionError.
    """
    coded = bits_to_bytes(found.body.read(means, found.step))
    blob = bytes(ecc_decode(coded, BODY_NSYM))[: found.blob_len]
    return unpack_v2(blob, keys=found.keys, encrypted=encrypted)


def no_payload(encrypted: bool) -> NoPayloadError:
    return NoPayloadError(
        "no robust payload found, or wrong passphrase"
        if encrypted
        else "no robust payload found (if it was embedded with a passphrase, give the passphrase)"
    )


__all__ = [
    "BODY_NSYM",
    "HEAD_BITS",
    "HEAD_NSYM",
    "PUBLIC_LOCATOR",
    "STEPS",
    "Found",
    "Message",
    "PayloadCorruptedError",
    "Segment",
    "body_bits",
    "find_heads",
    "head_cells",
    "max_blob_bytes",
    "no_payload",
    "open_found",
    "seal",
]
