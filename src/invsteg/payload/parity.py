"""Payload format 3: a sealed file in an image's 8-bit colour samples, read from their values
mod 2 and mod 3, written by syndrome-trellis codes.

No model is involved: a writer changes some samples by +-1 (which flips their parity) where a
cost function says the image hides a change best, and the reader only reads residues, so a
stego extracts bit-exact on any machine with integer arithmetic. The layout of an ``(H, W, 3)``
image's ``N = 3 H W`` samples (row-major, channels last):

1. **Public part.** ``salt_carriers(N)`` samples drawn under a public seed, from each
   segment (below) in proportion to its size, carry 17 bytes:
   a random 16-byte **salt** and a **cost byte** whose value mod 4 is the Argon2id level
   (:data:`KDF_LEVELS`; the writer draws the byte uniformly among those of its level). Both
   read as random bits in any image, stego or not.
2. ``locator = Argon2id(passphrase, salt, level)`` (a public constant without a passphrase):
   the salt is per stego, so one passphrase guess tests one stego, not all of them; the cost
   is in the stego, so a later release can raise it and old stegos still open.
3. ``keys = HKDF-SHA256(locator, salt)`` order each segment's other samples; the first of
   them, ``head_carriers`` in all in proportion to the segments, hold the **head**: the
   container's length XOR a key mask and a 4-byte key check, Reed-Solomon coded. A head
   that decodes with the right check says the passphrase is right, so a body that then
   fails is reported as damage.
4. The **body**: the container (format 2's, version byte 3: AES-256-GCM, whitened) coded with
   ``BODY_NSYM`` Reed-Solomon parity bytes per 255, split over the ``SEGMENTS`` segments
   (one per place in a 2x2 block, all three channels; what remains of each, in key order),
   in proportion to their sizes. Segments let a writer embed one after another and make each
   change agree with its neighbours' (docs/design.md, "embed-file format 3").

Every part is one :mod:`invsteg.payload.stc` message: the public part and the head binary, on
their samples' parities; the body ternary, on its samples' values mod 3 (the coded container's
bits as base-3 digits, 12 per 19 bits). The layout and each part's code follow from ``(H, W)``
and the decoded length alone.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from invsteg.errors import PayloadError
from invsteg.payload import stc
from invsteg.payload.container import RandomBytes, Unpacked, _passphrase_bytes
from invsteg.payload.ecc import (
    bits_to_bytes,
    bytes_to_bits,
    ecc_decode,
    ecc_encode,
    ecc_encoded_len,
    permutation,
)
from invsteg.payload.errors import (
    NoPayloadError,
    PassphraseNotExpectedError,
    PayloadCorruptedError,
    PayloadTooLargeError,
)
from invsteg.payload.keyed import MessageKeys, overhead_bytes, pack_v2, unpack_v2, xor_bytes

FORMAT_VERSION_3 = 3
WIRE_ID = 0  # the container's model id: none
# The public part and the head are binary codes on parities (h = 7); the body a ternary one
# on values mod 3 (h = 5): a +-1 change then carries up to log2(3) bits, and the distortion
# at the same payload fell 15-30 % (benchmarks/results.md, "Syndrome-trellis code").
BINARY_HEIGHT = 7
TERNARY_HEIGHT = 5
HEIGHTS = {2: BINARY_HEIGHT, 3: TERNARY_HEIGHT}
TRIT_GROUP_BITS, TRIT_GROUP = 19, 12  # 2^19 <= 3^12: 19 bits as 12 base-3 digits
SALT_LEN = 16
PUBLIC_BYTES = SALT_LEN + 1  # the salt and the cost byte
_LENGTH = struct.Struct(">I")
CHECK_LEN = 4
HEAD_NSYM = 8  # corrects 4 wrong bytes of the 16-byte head
HEAD_BITS = 8 * (_LENGTH.size + CHECK_LEN + HEAD_NSYM)
BODY_NSYM = 16
# Body base-3 digits per body sample, at most: 4 carriers per digit, so that even where every
# sample may move one way only (0 or 255) the trellis still reaches every message (tested).
MAX_RATE = 0.25
SEGMENTS = 4  # the places in a 2x2 block
# Argon2id (memory KiB, iterations) per level; 4 lanes. A hostile stego picks the level it
# names, so the largest must stay affordable for anyone who tries to extract one.
KDF_LEVELS = ((64 * 1024, 3), (128 * 1024, 5), (256 * 1024, 4), (512 * 1024, 3))
DEFAULT_KDF_LEVEL = 0
_PUBLIC_SEED = hashlib.sha256(b"invsteg/v3/public-order").digest()
_PUBLIC_LOCATOR = hashlib.sha256(b"invsteg/v3/public-locator").digest()
_KEY_INFO = b"invsteg/v3/message"


def salt_carriers(samples: int) -> int:
    """Samples of the public part: 64 per bit at most, a sixteenth of the image at most."""
    return min(samples // 16, 64 * 8 * PUBLIC_BYTES)


def head_carriers(samples: int) -> int:
    """Samples of the head, among those the public part leaves."""
    return min((samples - salt_carriers(samples)) // 16, 64 * HEAD_BITS)


def body_trits(blob_len: int) -> int:
    """Base-3 digits of a ``blob_len``-byte container after Reed-Solomon."""
    return TRIT_GROUP * -(-8 * ecc_encoded_len(blob_len, BODY_NSYM) // TRIT_GROUP_BITS)


def bits_to_trits(bits: np.ndarray) -> np.ndarray:
    """Bits (zero-padded to whole groups of 19) as base-3 digits, 12 per group."""
    groups = -(-bits.size // TRIT_GROUP_BITS)
    padded = np.zeros(groups * TRIT_GROUP_BITS, dtype=np.int64)
    padded[: bits.size] = bits
    values = padded.reshape(groups, TRIT_GROUP_BITS) @ (1 << np.arange(TRIT_GROUP_BITS - 1, -1, -1))
    digits = (values[:, None] // 3 ** np.arange(TRIT_GROUP - 1, -1, -1)) % 3
    return digits.reshape(-1).astype(np.uint8)


def trits_to_bits(trits: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bits_to_trits` (a group above 2^19 - 1, never written, keeps its
    low 19 bits)."""
    digits = np.asarray(trits, dtype=np.int64).reshape(-1, TRIT_GROUP)
    values = digits @ (3 ** np.arange(TRIT_GROUP - 1, -1, -1))
    bits = (values[:, None] >> np.arange(TRIT_GROUP_BITS - 1, -1, -1)) & 1
    return bits.reshape(-1).astype(np.uint8)


def locator_key(passphrase: str | None, salt: bytes, level: int) -> bytes:
    """32 bytes from which a message's keys follow: Argon2id of the NFC/UTF-8 passphrase
    under this stego's salt at ``KDF_LEVELS[level]``, or a public constant without one."""
    if passphrase is None:
        return _PUBLIC_LOCATOR
    memory, iterations = KDF_LEVELS[level]
    kdf = Argon2id(salt=salt, length=32, iterations=iterations, lanes=4, memory_cost=memory)
    return kdf.derive(_passphrase_bytes(passphrase))


@dataclass(frozen=True)
class Part:
    """One syndrome-trellis message: the flat sample indices ``(n,)`` whose values mod
    ``modulus`` carry ``symbols``."""

    positions: np.ndarray
    symbols: np.ndarray
    modulus: int


@dataclass(frozen=True)
class Layout:
    """Where a message lies in an image: the public part's samples, and (under one key) the
    head's and each body segment's, in reading order."""

    public: np.ndarray
    head: np.ndarray
    segments: tuple[np.ndarray, ...]


def segment_sizes(shape: tuple[int, int]) -> list[int]:
    """Samples per segment of an ``(H, W)`` image: segment ``l`` holds the R, G and B samples
    of the pixels at place ``l`` of each 2x2 block (row parity times 2 plus column parity)."""
    height, width = shape
    rows, cols = ((height + 1) // 2, height // 2), ((width + 1) // 2, width // 2)
    return [3 * rows[r] * cols[c] for r in (0, 1) for c in (0, 1)]


def segment_samples(shape: tuple[int, int], segment: int) -> np.ndarray:
    """The flat sample indices of one segment, row-major."""
    height, width = shape
    row, col = divmod(segment, 2)
    pixels = np.arange(row, height, 2)[:, None] * width + np.arange(col, width, 2)[None, :]
    index = np.int32 if 3 * height * width < 2**31 else np.int64  # half the memory on 12 MP
    return (pixels.reshape(-1, 1) * 3 + np.arange(3)).reshape(-1).astype(index)


def _shares(shape: tuple[int, int]) -> tuple[list[int], list[int]]:
    """Samples of each segment that the public part and the head take: in proportion to the
    segments' sizes, so that what remains for the body depends on ``(H, W)`` alone."""
    sizes = segment_sizes(shape)
    samples = sum(sizes)
    public = segment_bits(sizes, salt_carriers(samples))
    head = segment_bits([s - p for s, p in zip(sizes, public, strict=True)], head_carriers(samples))
    return public, head


def body_sizes(shape: tuple[int, int]) -> list[int]:
    """Samples of each body segment of an ``(H, W)`` image, whatever the key."""
    public, head = _shares(shape)
    return [s - p - h for s, p, h in zip(segment_sizes(shape), public, head, strict=True)]


def _segment_seed(seed: bytes, segment: int) -> bytes:
    return hashlib.sha256(seed + bytes([segment])).digest()


def _draw(seed: bytes, size: int, count: int) -> np.ndarray:
    """``count`` distinct indices below ``size`` in a keyed random order: AES-CTR words mod
    ``size``, repeats dropped (so the cost is ``count``, not ``size``)."""
    chosen = np.empty(0, dtype=np.int64)
    block = 0
    while chosen.size < count:
        want = 2 * (count - chosen.size) + 64
        counter = block.to_bytes(16, "big")
        stream = Cipher(algorithms.AES(seed), modes.CTR(counter)).encryptor().update(bytes(8 * want))
        block += want // 2 + 1
        draws = np.concatenate([chosen, (np.frombuffer(stream, "<u8") % np.uint64(size)).astype(np.int64)])
        _, first = np.unique(draws, return_index=True)
        chosen = draws[np.sort(first)]
    return chosen[:count]


def public_positions(shape: tuple[int, int]) -> np.ndarray:
    """The public part's samples in an ``(H, W)`` image, in reading order."""
    parts = [
        segment_samples(shape, segment)[_draw(_segment_seed(_PUBLIC_SEED, segment), size, share)]
        for segment, (size, share) in enumerate(zip(segment_sizes(shape), _shares(shape)[0], strict=True))
    ]
    return np.concatenate(parts)


def keyed_layout(shape: tuple[int, int], public: np.ndarray, keys: MessageKeys) -> Layout:
    """The head and the body segments under ``keys`` (see the module docstring): each
    segment's samples but the public ones, in a keyed order of their own; the first of them
    hold the head."""
    public_mask = np.zeros(3 * shape[0] * shape[1], dtype=bool)
    public_mask[public] = True
    heads, bodies = [], []
    for segment, share in enumerate(_shares(shape)[1]):
        samples = segment_samples(shape, segment)
        ordered = samples[permutation(samples.size, _segment_seed(keys.order, segment))]
        ordered = ordered[~public_mask[ordered]]
        heads.append(ordered[:share])
        bodies.append(ordered[share:])
    return Layout(public, np.concatenate(heads), tuple(bodies))


def segment_bits(sizes: list[int], total: int) -> list[int]:
    """``total`` bits shared over segments of ``sizes`` samples in proportion (the first
    segments take the remainder)."""
    whole = sum(sizes)
    shares = [total * size // whole for size in sizes]
    for index in range(total - sum(shares)):
        shares[index % len(shares)] += 1
    return shares


def _fits(sizes: list[int], trits: int) -> bool:
    shares = segment_bits(sizes, trits)
    return all(
        share == 0 or (share <= MAX_RATE * size and stc.plan(size, share) is not None)
        for size, share in zip(sizes, shares, strict=True)
    )


def max_blob_bytes(shape: tuple[int, int]) -> int:
    """The longest container an ``(H, W)`` image holds (0 if even the head does not fit)."""
    samples = 3 * shape[0] * shape[1]
    if stc.plan(salt_carriers(samples), 8 * PUBLIC_BYTES) is None:
        return 0
    if stc.plan(head_carriers(samples), HEAD_BITS) is None:
        return 0
    sizes = body_sizes(shape)
    if min(sizes) < 1:
        return 0
    low, high = 0, samples // 8
    while low < high:  # the largest blob whose coded length fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if _fits(sizes, body_trits(mid)) else (low, mid - 1)
    return low


def capacity_bytes(shape: tuple[int, int], *, file_name: str = "", encrypted: bool = True) -> int:
    """Net file bytes an ``(H, W)`` image holds in format 3, whatever the content."""
    return max(0, max_blob_bytes(shape) - overhead_bytes(file_name, encrypted=encrypted))


def _check(locator: bytes, salt: bytes) -> bytes:
    return hashlib.sha256(b"invsteg/v3/head-check" + locator + salt).digest()[:CHECK_LEN]


@dataclass(frozen=True)
class Sealed:
    """A message laid out for one image: its parts in writing order (public, head, then the
    body segments) and the container they carry."""

    parts: tuple[Part, ...]
    blob: bytes


def seal(
    data: bytes,
    *,
    shape: tuple[int, int],
    file_name: str = "",
    passphrase: str | None = None,
    kdf_level: int = DEFAULT_KDF_LEVEL,
    random_bytes: RandomBytes = os.urandom,
) -> Sealed:
    """Lay out ``data`` for an ``(H, W)`` image (see the module docstring).

    Raises:
        PayloadTooLargeError: it does not fit.
        ValueError: ``kdf_level`` is not one of ``KDF_LEVELS``.
    """
    if not 0 <= kdf_level < len(KDF_LEVELS):
        raise ValueError(f"kdf_level must be 0..{len(KDF_LEVELS) - 1}, got {kdf_level}")
    encrypted = passphrase is not None
    if encrypted:
        _passphrase_bytes(passphrase)  # reject "" before spending a KDF
    room = max_blob_bytes(shape)
    if room == 0:
        raise PayloadTooLargeError(f"a {shape[1]}x{shape[0]} image is too small to hold a file")
    public_bytes = random_bytes(PUBLIC_BYTES)
    if len(public_bytes) != PUBLIC_BYTES:
        raise ValueError("random_bytes returned the wrong number of bytes")
    salt = public_bytes[:SALT_LEN]
    cost_byte = (public_bytes[SALT_LEN] & ~3) | kdf_level
    locator = locator_key(passphrase, salt, kdf_level)
    keys = MessageKeys.derive(locator, salt, info=_KEY_INFO)
    blob = pack_v2(
        data, file_name=file_name, wire_id=WIRE_ID, keys=keys, encrypted=encrypted, version=FORMAT_VERSION_3
    )
    if len(blob) > room:
        raise PayloadTooLargeError(
            f"the payload needs {len(blob)} bytes after packing; there is room for {room}"
        )
    layout = keyed_layout(shape, public_positions(shape), keys)
    head = xor_bytes(_LENGTH.pack(len(blob)), keys.length_mask) + _check(locator, salt)
    body = bits_to_trits(bytes_to_bits(ecc_encode(blob, BODY_NSYM)))
    shares = segment_bits(body_sizes(shape), body.size)
    parts = [
        Part(layout.public, bytes_to_bits(salt + bytes([cost_byte])), 2),
        Part(layout.head, bytes_to_bits(ecc_encode(head, HEAD_NSYM)), 2),
    ]
    start = 0
    for positions, share in zip(layout.segments, shares, strict=True):
        parts.append(Part(positions, body[start : start + share], 3))
        start += share
    return Sealed(tuple(part for part in parts if part.symbols.size), blob)


def read_part(values: np.ndarray, positions: np.ndarray, count: int, modulus: int) -> np.ndarray:
    """The ``count`` message symbols that the samples ``values`` ``(N,)`` at ``positions``
    carry mod ``modulus``."""
    return stc.extract(values[positions] % modulus, count, HEIGHTS[modulus], modulus)


def write_part(values: np.ndarray, costs: np.ndarray, part: Part) -> np.ndarray:
    """How to move each of ``part``'s samples (``values`` ``(n,)`` of them) so that they carry
    its symbols, at the least total cost the code finds: ``(n,)`` uint8, 0 to stay, ``d`` to
    add ``d`` mod the part's modulus. ``costs``: ``(n,)`` per flip for a binary part, ``(n, 2)``
    for +1 and -1 for a ternary one."""
    modulus = part.modulus
    return stc.embed(values % modulus, costs, part.symbols, HEIGHTS[modulus], modulus)


def open_samples(samples: np.ndarray, *, passphrase: str | None) -> Unpacked:
    """The file that an ``(H, W, 3)`` uint8 image carries in format 3.

    Raises:
        NoPayloadError: no head under this passphrase (or none without one).
        PassphraseNotExpectedError: a passphrase was given for an unencrypted payload.
        PayloadCorruptedError: the head is right but the body is damaged (or tampered).
        UnsupportedVersionError: a container of another version.
    """
    samples = np.asarray(samples)
    shape = samples.shape[:2]
    values = samples.reshape(-1).astype(np.int64)
    room = max_blob_bytes(shape)
    if room == 0:
        raise NoPayloadError("no payload found: the image is too small to hold one")
    public = public_positions(shape)
    public_bytes = bits_to_bytes(read_part(values, public, 8 * PUBLIC_BYTES, 2))
    salt, level = bytes(public_bytes[:SALT_LEN]), public_bytes[SALT_LEN] & 3
    found = _read_head(values, shape, public, passphrase, salt, level)
    if found is None:
        if passphrase is not None and _read_head(values, shape, public, None, salt, level):
            raise PassphraseNotExpectedError(
                "the payload is not encrypted, but a passphrase was given; extract without one"
            )
        raise NoPayloadError(
            "no payload found, or wrong passphrase"
            if passphrase is not None
            else "no payload found (if it was embedded with a passphrase, give the passphrase)"
        )
    keys, layout, blob_len = found
    if blob_len > room:
        raise PayloadCorruptedError(f"payload is corrupted: the head announces {blob_len} bytes")
    shares = segment_bits(body_sizes(shape), body_trits(blob_len))
    pieces = [
        read_part(values, positions, share, 3)
        for positions, share in zip(layout.segments, shares, strict=True)
        if share
    ]
    coded_len = ecc_encoded_len(blob_len, BODY_NSYM)
    coded = bits_to_bytes(trits_to_bits(np.concatenate(pieces))[: 8 * coded_len])
    try:
        blob = bytes(ecc_decode(coded, BODY_NSYM))[:blob_len]
    except PayloadError:
        raise PayloadCorruptedError(
            "the stego is damaged: the passphrase is right, but the hidden file's error "
            "correction could not repair it (was the image edited or recompressed?)"
        ) from None
    return unpack_v2(blob, keys=keys, encrypted=passphrase is not None, version=FORMAT_VERSION_3)


def _read_head(
    values: np.ndarray,
    shape: tuple[int, int],
    public: np.ndarray,
    passphrase: str | None,
    salt: bytes,
    level: int,
) -> tuple[MessageKeys, Layout, int] | None:
    locator = locator_key(passphrase, salt, level)
    keys = MessageKeys.derive(locator, salt, info=_KEY_INFO)
    layout = keyed_layout(shape, public, keys)
    try:
        head = bytes(ecc_decode(bits_to_bytes(read_part(values, layout.head, HEAD_BITS, 2)), HEAD_NSYM))
    except PayloadError:
        return None
    if head[_LENGTH.size :] != _check(locator, salt):
        return None
    (blob_len,) = _LENGTH.unpack(xor_bytes(head[: _LENGTH.size], keys.length_mask))
    return keys, layout, blob_len
