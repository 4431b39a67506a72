"""Payload format version 2: a file -> message bits for a cover's latent signs, and back.

Version 1 (:mod:`invsteg.payload.frame`) wrote a bit into *every* carrier, keyed its
interleaver with a fixed salt and masked its header with a public keystream: stegos were
detectable without training, and two stegos made with one passphrase shared carriers. Version
2 writes only what the file needs, and nothing in it repeats between messages:

1. ``locator = Argon2id(passphrase, fixed salt)`` (a public constant without a passphrase),
   the one costly derivation per extraction. It orders all carriers (:func:`~invsteg.payload.
   ecc.permutation`); the first ``head_carriers(n)`` of that order hold the **head**.
2. The head: a random 16-byte **salt** and the container's length XOR a mask from the message
   keys, Reed-Solomon coded (``HEAD_NSYM`` parity bytes). Both parts are uniformly random
   bytes to anyone without the locator, whose order hides where they are.
3. ``keys = HKDF-SHA256(locator, salt)``: the AES-GCM key and nonce, the whitening keystream,
   the length mask and the order of the **body** carriers (the rest), all new per message.
4. The body: the container (:func:`pack_v2`, whitened as a whole) Reed-Solomon coded with
   ``BODY_NSYM`` parity bytes per codeword.

The head is written by cost-aware matrix embedding (:mod:`invsteg.payload.matrix`, order
p <= 4), the body by a syndrome-trellis code (:mod:`invsteg.payload.trellis`, 2-4 carriers
per bit) or, near capacity, a Hamming code: few signs change, and a small file reads few
carriers. The extractor recomputes the codes from the sizes (head: fixed; body: from the
decoded length), under each of ``LAYOUTS`` (stegos before 2026-11-29: Hamming codes of
order up to 16).

Why one costly KDF and not two: the locator must be derived before the salt can be read, so
it cannot use the per-message salt. The message keys then come from the locator and the salt
through HKDF, which is cheap and unique per message; a second memory-hard derivation would
double the cost of every guess for the user and the attacker alike. Argon2id's parameters are
fixed by the format version (``ARGON2_*``), so an old stego always decodes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from invsteg.errors import PayloadError
from invsteg.payload import matrix, trellis
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
from invsteg.payload.keyed import (
    _LENGTH,
    MessageKeys,
    overhead_bytes,
    pack_v2,
    unpack_v2,
    xor_bytes,
)

SALT_LEN = 16
HEAD_NSYM = 16  # corrects 8 wrong bytes of the 36-byte head
HEAD_PLAIN_LEN = SALT_LEN + _LENGTH.size  # the salt and the masked container length
HEAD_BITS = 8 * ecc_encoded_len(HEAD_PLAIN_LEN, HEAD_NSYM)  # 288
BODY_NSYM = 32  # corrects 16 wrong bytes per 255: the verify loop leaves none on this machine
MIN_CARRIERS = 8 * HEAD_BITS  # the head takes an eighth of the carriers at most


@dataclass(frozen=True)
class Layout:
    """How a message's codes are chosen: the head's Hamming order at most ``head_limit``;
    the body by a syndrome-trellis code (``trellis``) or a Hamming code of order at most
    ``body_limit``. A code that reads many carriers changes fewer signs per bit, but every
    carrier read near an edit may be knocked over and must be put back: at small payloads
    those repairs outnumbered the message's own flips (docs/design.md)."""

    head_limit: int
    body_limit: int
    trellis: bool


# Newest first: the reader tries each. The writer tries WRITE_LAYOUTS in turn, until the
# cover settles under one (the trellis code flips the fewest signs; the Hamming code's
# flips settle more surely on a hard cover).
LAYOUTS = (
    Layout(head_limit=4, body_limit=4, trellis=True),  # since 2026-11-29
    Layout(head_limit=4, body_limit=4, trellis=False),  # since 2026-11-29
    Layout(head_limit=matrix.MAX_ORDER, body_limit=matrix.MAX_ORDER, trellis=False),
)
WRITE_LAYOUTS = LAYOUTS[:2]
# Trellis widths (carriers per body bit) the body may use: as many carriers per bit as a
# Hamming code of order 4 reads at most, at least 2 (a width of 1 leaves no choice).
MIN_BODY_WIDTH, MAX_BODY_WIDTH = 2, 4

ARGON2_MEMORY_KIB = 128 * 1024
ARGON2_ITERATIONS = 5
ARGON2_LANES = 4
_LOCATOR_SALT = b"invsteg/v2/locat"  # 16 bytes; fixed: see the module docstring
PUBLIC_LOCATOR = hashlib.sha256(b"invsteg/v2/public-locator").digest()


def locator_key(passphrase: str | None) -> bytes:
    """32 bytes that order the carriers: Argon2id of the NFC/UTF-8 passphrase (128 MiB, about
    0.5 s), or :data:`PUBLIC_LOCATOR` without one."""
    if passphrase is None:
        return PUBLIC_LOCATOR
    kdf = Argon2id(
        salt=_LOCATOR_SALT,
        length=32,
        iterations=ARGON2_ITERATIONS,
        lanes=ARGON2_LANES,
        memory_cost=ARGON2_MEMORY_KIB,
    )
    return kdf.derive(_passphrase_bytes(passphrase))


# -- layout ------------------------------------------------------------------------------------


def head_carriers(carriers: int) -> int:
    """Carriers that hold the head: an eighth, at most 64 per head bit (p stays small)."""
    return min(carriers // 8, 64 * HEAD_BITS)


def body_order(carriers: int, bits: int, limit: int = matrix.MAX_ORDER) -> int:
    """The body's matrix-code order: the largest up to ``limit`` that fits in a quarter of
    the carriers (``1 / BODY_SPREAD``), else in all of them; 0 if none of at least
    ``MIN_BODY_ORDER`` fits. A code that touches every carrier changes the fewest signs on
    paper, but each edit also jostles near-zero latents nearby, and every used one of those
    must then be put back; and order 1 (a bit per carrier, half of them flipped) changed a
    third of the colour samples and left more carriers unsettled than error correction
    likes."""
    for share in (carriers // BODY_SPREAD, carriers):
        order = matrix.code_order(share, bits, limit)
        if order >= MIN_BODY_ORDER:
            return order
    return 0


BODY_SPREAD = 4
MIN_BODY_ORDER = 2


def body_bits(blob_len: int) -> int:
    """Bits of a ``blob_len``-byte container after Reed-Solomon."""
    return 8 * ecc_encoded_len(blob_len, BODY_NSYM)


def max_blob_bytes(carriers: int) -> int:
    """The longest container that fits ``carriers`` (0 if the head does not)."""
    if carriers < MIN_CARRIERS:
        return 0
    body = carriers - head_carriers(carriers)
    room = body // matrix.block_size(MIN_BODY_ORDER) * MIN_BODY_ORDER // 8
    low, high = 0, room
    while low < high:  # the largest blob whose coded length fits
        mid = (low + high + 1) // 2
        low, high = (mid, high) if ecc_encoded_len(mid, BODY_NSYM) <= room else (low, mid - 1)
    return low


def capacity_bytes(carriers: int, *, file_name: str = "", encrypted: bool = True) -> int:
    """Net file bytes that fit ``carriers`` signs in format 2, whatever the content."""
    return max(0, max_blob_bytes(carriers) - overhead_bytes(file_name, encrypted=encrypted))


@dataclass(frozen=True)
class Hamming:
    """Matrix embedding with a binary Hamming code of this order (:mod:`~invsteg.payload.matrix`)."""

    order: int

    def carriers_used(self, bits: int) -> int:
        return matrix.carriers_used(bits, self.order)

    def embed(self, signs: np.ndarray, costs: np.ndarray, message: np.ndarray) -> np.ndarray:
        return matrix.embed(signs, costs, message, self.order)

    def extract(self, signs: np.ndarray, bits: int) -> np.ndarray:
        return matrix.extract(signs, bits, self.order)


@dataclass(frozen=True)
class Trellis:
    """A syndrome-trellis code of this width (:mod:`~invsteg.payload.trellis`)."""

    width: int

    def carriers_used(self, bits: int) -> int:
        return trellis.carriers_used(bits, self.width)

    def embed(self, signs: np.ndarray, costs: np.ndarray, message: np.ndarray) -> np.ndarray:
        return trellis.embed(signs, costs, message, self.width)

    def extract(self, signs: np.ndarray, bits: int) -> np.ndarray:
        return trellis.extract(signs, bits, self.width)


Code = Hamming | Trellis


def body_code(carriers: int, bits: int, layout: Layout) -> Code | None:
    """The body's code for ``bits`` coded bits in ``carriers`` signs under ``layout``: a
    trellis of the widest width up to ``MAX_BODY_WIDTH`` that fits a quarter of the carriers
    (``MIN_BODY_WIDTH`` if only all of them hold that), else (near capacity) a Hamming code;
    None if nothing fits."""
    if layout.trellis:
        width = min(MAX_BODY_WIDTH, carriers // BODY_SPREAD // max(bits, 1))
        if width < MIN_BODY_WIDTH and MIN_BODY_WIDTH * bits <= carriers:
            width = MIN_BODY_WIDTH
        if width >= MIN_BODY_WIDTH:
            return Trellis(width)
    order = body_order(carriers, bits, layout.body_limit)
    return Hamming(order) if order else None


@dataclass(frozen=True)
class Segment:
    """Message ``bits`` for the carriers at ``positions`` (indices into the carrier vector),
    written by ``code``; only the first ``used`` positions matter."""

    positions: np.ndarray
    bits: np.ndarray
    code: Code

    @property
    def used(self) -> np.ndarray:
        return self.positions[: self.code.carriers_used(self.bits.size)]

    def flips(self, signs: np.ndarray, costs: np.ndarray) -> np.ndarray:
        """``(len(signs),)`` bool: which carrier signs to flip so this segment reads back."""
        out = np.zeros(signs.size, dtype=bool)
        local = self.code.embed(signs[self.positions], costs[self.positions], self.bits)
        out[self.positions[local]] = True
        return out

    def read(self, signs: np.ndarray) -> np.ndarray:
        return self.code.extract(signs[self.positions], self.bits.size)


@dataclass(frozen=True)
class Sealed:
    """A message laid out for ``carriers`` signs: its head and body segments and the blob."""

    head: Segment
    body: Segment
    blob: bytes

    @property
    def used(self) -> np.ndarray:
        """Carriers whose signs the extractor reads."""
        return np.concatenate([self.head.used, self.body.used])

    def flips(self, signs: np.ndarray, costs: np.ndarray) -> np.ndarray:
        return self.head.flips(signs, costs) | self.body.flips(signs, costs)

    def correction_used(self, signs: np.ndarray) -> float:
        """The largest share of its correction capacity that any Reed-Solomon codeword
        (head or body) would spend if ``signs`` were read: 1 or more fails."""
        head = wrong_bytes(self.head.read(signs), self.head.bits) / (HEAD_NSYM // 2)
        return max(head, wrong_bytes(self.body.read(signs), self.body.bits) / (BODY_NSYM // 2))


def wrong_bytes(read: np.ndarray, wanted: np.ndarray) -> int:
    """Wrong bytes in the worst 255-byte codeword."""
    got = np.frombuffer(bits_to_bytes(read), np.uint8) != np.frombuffer(bits_to_bytes(wanted), np.uint8)
    starts = np.arange(0, got.size, 255)
    return int(np.add.reduceat(got.astype(np.int64), starts).max(initial=0)) if starts.size else 0


def _head_layout(carriers: int, locator: bytes, layout: Layout) -> tuple[np.ndarray, Code, np.ndarray]:
    """(head positions, head code, the other carriers), in the locator's order: one function
    for the embedder and the extractor, so they cannot drift apart."""
    order = permutation(carriers, locator)
    split = head_carriers(carriers)
    return order[:split], Hamming(matrix.code_order(split, HEAD_BITS, layout.head_limit)), order[split:]


def _body_layout(
    rest: np.ndarray, keys: MessageKeys, blob_len: int, layout: Layout
) -> tuple[np.ndarray, Code | None]:
    """(body positions in the message's order, body code) for a ``blob_len``-byte container."""
    return rest[permutation(rest.size, keys.order)], body_code(rest.size, body_bits(blob_len), layout)


@dataclass(frozen=True)
class NewMessage:
    """A container packed under a fresh salt: what both channels' heads and bodies carry."""

    salt: bytes
    keys: MessageKeys
    blob: bytes

    @property
    def head(self) -> bytes:
        """The head's plain bytes: the salt and the container's masked length."""
        return self.salt + xor_bytes(_LENGTH.pack(len(self.blob)), self.keys.length_mask)


def new_message(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    locator: bytes | None,
    random_bytes: RandomBytes,
    room: int,
) -> tuple[bytes, NewMessage]:
    """``(locator, message)``: ``data`` packed under a fresh salt's keys.

    Raises:
        PayloadTooLargeError: the container is longer than ``room`` bytes.
    """
    encrypted = passphrase is not None
    if encrypted:
        _passphrase_bytes(passphrase)  # reject "" before spending a KDF
    locator = locator or locator_key(passphrase)
    salt = random_bytes(SALT_LEN)
    if len(salt) != SALT_LEN:
        raise ValueError("random_bytes returned the wrong number of bytes")
    keys = MessageKeys.derive(locator, salt)
    blob = pack_v2(data, file_name=file_name, wire_id=wire_id, keys=keys, encrypted=encrypted)
    if len(blob) > room:
        raise PayloadTooLargeError(
            f"the payload needs {len(blob)} bytes after packing; there is room for {room}"
        )
    return locator, NewMessage(salt, keys, blob)


def head_keys(head: bytes, locator: bytes) -> tuple[MessageKeys, int]:
    """Inverse of :attr:`NewMessage.head`: the message keys and the container's length."""
    keys = MessageKeys.derive(locator, bytes(head[:SALT_LEN]))
    (blob_len,) = _LENGTH.unpack(xor_bytes(bytes(head[SALT_LEN:]), keys.length_mask))
    return keys, blob_len


def seal(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    carriers: int,
    locator: bytes | None = None,
    random_bytes: RandomBytes = os.urandom,
    layout: Layout = LAYOUTS[0],
) -> Sealed:
    """Lay out ``data`` for ``carriers`` latent signs (see the module docstring).

    ``locator``: :func:`locator_key` of ``passphrase`` if already derived; ``layout``: one of
    ``LAYOUTS``.

    Raises:
        PayloadTooLargeError: it does not fit.
    """
    locator, message = new_message(
        data,
        file_name=file_name,
        wire_id=wire_id,
        passphrase=passphrase,
        locator=locator,
        random_bytes=random_bytes,
        room=max_blob_bytes(carriers),
    )
    head_positions, head_code, rest = _head_layout(carriers, locator, layout)
    head_bits = bytes_to_bits(ecc_encode(message.head, HEAD_NSYM))
    body_positions, code = _body_layout(rest, message.keys, len(message.blob), layout)
    assert code is not None  # max_blob_bytes fits
    return Sealed(
        head=Segment(head_positions, head_bits, head_code),
        body=Segment(body_positions, bytes_to_bits(ecc_encode(message.blob, BODY_NSYM)), code),
        blob=message.blob,
    )


def _read_head(
    signs: np.ndarray, locator: bytes, layout: Layout
) -> tuple[MessageKeys, int, np.ndarray] | None:
    """(keys, blob length, body-candidate positions) if a head is found under ``locator``."""
    head_positions, code, rest = _head_layout(signs.size, locator, layout)
    bits = code.extract(signs[head_positions], HEAD_BITS)
    try:
        head = ecc_decode(bits_to_bytes(bits), HEAD_NSYM)
    except PayloadError:
        return None
    keys, blob_len = head_keys(head, locator)
    return keys, blob_len, rest


def open_signs(signs: np.ndarray, *, passphrase: str | None, locator: bytes | None = None) -> Unpacked:
    """The file that ``signs`` ``(carriers,)`` 0/1 carry in format 2.

    Raises:
        NoPayloadError: no head under this passphrase (or none without one).
        PassphraseNotExpectedError: a passphrase was given for an unencrypted payload.
        PayloadCorruptedError, PayloadTamperedError, UnsupportedVersionError.
    """
    signs = np.asarray(signs, dtype=np.uint8).reshape(-1)
    if signs.size < MIN_CARRIERS:
        raise NoPayloadError("no payload found: the image is too small to hold one")
    encrypted = passphrase is not None
    locator = locator or locator_key(passphrase)
    failure: PayloadError | None = None
    for layout in LAYOUTS:
        found = _read_head(signs, locator, layout)
        if found is None:
            continue
        try:
            return _open_body(signs, found, layout, encrypted=encrypted)
        except PayloadCorruptedError as exc:  # tampered too
            # a head that two layouts read alike: the body says which one wrote it
            failure = failure or exc
    if failure is not None:
        raise failure
    if encrypted and any(_read_head(signs, PUBLIC_LOCATOR, layout) for layout in LAYOUTS):
        raise PassphraseNotExpectedError(
            "the payload is not encrypted, but a passphrase was given; extract without one"
        )
    raise NoPayloadError(
        "no payload found, or wrong passphrase"
        if encrypted
        else "no payload found (if it was embedded with a passphrase, give the passphrase; "
        "otherwise the image holds none or was made with another model)"
    )


def _open_body(
    signs: np.ndarray, found: tuple[MessageKeys, int, np.ndarray], layout: Layout, *, encrypted: bool
) -> Unpacked:
    keys, blob_len, rest = found
    if blob_len > max_blob_bytes(signs.size):
        raise PayloadCorruptedError(f"payload is corrupted: the head announces {blob_len} bytes")
    positions, code = _body_layout(rest, keys, blob_len, layout)
    if code is None:
        raise PayloadCorruptedError(f"payload is corrupted: the head announces {blob_len} bytes")
    coded = bits_to_bytes(code.extract(signs[positions], body_bits(blob_len)))
    blob = bytes(ecc_decode(coded, BODY_NSYM))[:blob_len]
    return unpack_v2(blob, keys=keys, encrypted=encrypted)
