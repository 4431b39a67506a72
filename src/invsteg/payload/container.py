"""The payload container: header, optional compression, encryption or integrity, whitening.

Layout of a container ("blob"), format version 1. All integers big-endian. The *whole* blob,
header included, is XORed with a public keystream (see :func:`whiten`) before it is written,
so the magic never shows as a fixed bit pattern in the image and the bits the sign mapper
sees are balanced whatever the file is.

Header, 11 bytes (authenticated: associated data when encrypted, hashed when not)::

    off size field
    0   4    magic b"ISTG"
    4   1    format version (1)
    5   1    model wire id (0..255, from the registry)
    6   1    flags: bit 0 encrypted, bit 1 compressed, other bits must be 0
    7   4    body length L: number of bytes that follow the header

The *inner* record (plaintext, encrypted as a whole when a passphrase is given, so the file
name does not leak)::

    1    name length N (bytes, <= 255)
    N    original file name, UTF-8, base name only
    4    original data length D (before compression; bounds decompression)
    ...  content: the data, or zlib(data) when that is strictly smaller (flag bit 1)

Body without passphrase: ``inner || SHA-256(header || inner)[:8]``. The 8-byte hash prefix
catches accidental corruption (miss rate 2**-64); anyone can recompute it, so it is not
authentication.

Body with passphrase::

    16   salt (random)
    8    key check: bytes 32..40 of scrypt(passphrase, salt) output
    12   nonce (random)
    ...  AES-256-GCM(key = bytes 0..32 of the scrypt output, nonce, inner,
                     associated data = header || salt || key check || nonce), tag (16) at the end

The key check exists only to tell "wrong passphrase" from "tampered ciphertext"; it gives an
attacker nothing the GCM tag does not already give (each guess still costs one scrypt), since
scrypt's output blocks are independent. A damaged salt or key check therefore reads as
"wrong passphrase"; the Reed-Solomon layer below makes that rare.

Scrypt cost (fixed by format version 1, so an old image always decodes): n = 2**15, r = 8,
p = 1, i.e. 128 * n * r = 32 MiB of memory and about 0.1-0.2 s of one CPU core per derivation.
The passphrase is NFC-normalised before UTF-8 encoding so the same typed passphrase works
across operating systems that compose accents differently.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from invsteg.errors import UsageError
from invsteg.payload.errors import (
    NoPayloadError,
    PassphraseNotExpectedError,
    PassphraseRequiredError,
    PayloadCorruptedError,
    PayloadTamperedError,
    PayloadTooLargeError,
    UnsupportedVersionError,
    WrongPassphraseError,
)

MAGIC = b"ISTG"
FORMAT_VERSION = 1
HEADER = struct.Struct(">4sBBBI")  # magic, version, wire id, flags, body length
HEADER_LEN = HEADER.size  # 11

FLAG_ENCRYPTED = 0x01
FLAG_COMPRESSED = 0x02
_KNOWN_FLAGS = FLAG_ENCRYPTED | FLAG_COMPRESSED

SALT_LEN = 16
CHECK_LEN = 8
NONCE_LEN = 12
TAG_LEN = 16
DIGEST_LEN = 8
MAX_NAME_BYTES = 255
# Far above what any image can carry (a 16384^2 image has ~67 MB of ab signs); the limit
# exists so a crafted "original length" cannot make decompression allocate without bound.
MAX_DATA_LEN = 1 << 30
# zlib cannot expand more than ~1032:1; a claimed original length beyond that is a lie.
_ZLIB_MAX_RATIO = 1032

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
KEY_LEN = 32

# Public, fixed whitening key: AES-256-CTR with this key and a zero counter is just a
# deterministic pseudo-random stream. It makes bits uniform; it hides nothing, since the key
# is in this file. Secrecy comes only from the passphrase (AES-GCM).
_WHITEN_KEY = hashlib.sha256(b"invsteg/v1/public-whitening-key").digest()

RandomBytes = Callable[[int], bytes]

# Fixed-size parts of the encrypted and the plain body (inner record excluded).
_ENC_OVERHEAD = SALT_LEN + CHECK_LEN + NONCE_LEN + TAG_LEN
_PLAIN_OVERHEAD = DIGEST_LEN
_INNER_FIXED = 1 + 4  # name length byte + original data length


@dataclass(frozen=True)
class Unpacked:
    """What :func:`unpack` recovers.

    ``file_name`` is the name exactly as stored (untrusted; pass it through
    :func:`safe_file_name` before touching the file system).
    """

    data: bytes
    file_name: str
    wire_id: int
    encrypted: bool
    compressed: bool = False


def keystream(length: int, offset: int = 0) -> bytes:
    """``length`` bytes of the public whitening keystream, starting at byte ``offset``."""
    if length < 0 or offset < 0:
        raise ValueError("length and offset must be >= 0")
    block, skip = divmod(offset, 16)
    enc = Cipher(algorithms.AES(_WHITEN_KEY), modes.CTR(block.to_bytes(16, "big"))).encryptor()
    return enc.update(bytes(skip + length))[skip:]


def whiten(data: bytes, offset: int = 0) -> bytes:
    """XOR ``data`` with the public keystream (its own inverse). Not encryption: see module doc."""
    if not data:
        return b""
    ks = keystream(len(data), offset)
    return (int.from_bytes(data, "big") ^ int.from_bytes(ks, "big")).to_bytes(len(data), "big")


def _passphrase_bytes(passphrase: str) -> bytes:
    if not passphrase:
        raise UsageError("the passphrase is empty; give a non-empty passphrase or none at all")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def scrypt(passphrase: str, salt: bytes, length: int) -> bytes:
    """Scrypt (n=2**15, r=8, p=1: 32 MiB, ~0.1-0.2 s) of the NFC/UTF-8 passphrase."""
    kdf = Scrypt(salt=salt, length=length, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(_passphrase_bytes(passphrase))


def _stored_name(file_name: str) -> bytes:
    """Base name of ``file_name`` as UTF-8, cut to 255 bytes on a character boundary."""
    base = re.split(r"[\\/]", file_name)[-1]
    # "replace": names decoded with surrogateescape (undecodable bytes) still store as valid UTF-8.
    raw = base.encode("utf-8", "replace")
    if len(raw) > MAX_NAME_BYTES:
        # 'ignore' drops the partial multi-byte character left by the cut.
        raw = raw[:MAX_NAME_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return raw


def compress(data: bytes) -> tuple[bytes, bool]:
    """``(zlib level 9 of data, True)`` when that is strictly smaller (random data never is),
    else ``(data, False)``."""
    if data:
        squeezed = zlib.compress(data, 9)
        if len(squeezed) < len(data):
            return squeezed, True
    return data, False


def overhead_bytes(file_name: str, *, encrypted: bool) -> int:
    """Container bytes beyond the data itself, for this file name, without compression."""
    body = _ENC_OVERHEAD if encrypted else _PLAIN_OVERHEAD
    return HEADER_LEN + _INNER_FIXED + len(_stored_name(file_name)) + body


def pack(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    random_bytes: RandomBytes = os.urandom,
) -> bytes:
    """Build the whitened container for ``data``.

    Args:
        data: the file content, any length up to ``MAX_DATA_LEN``.
        file_name: original name; only its base name is stored (cut to 255 UTF-8 bytes).
        wire_id: the model's wire id (0..255), so extraction can check the model.
        passphrase: encrypt with AES-256-GCM under a scrypt key when given, else add a
            SHA-256 prefix for integrity. An empty string is a usage error.
        random_bytes: source of salt and nonce; injectable for golden tests only.

    Returns:
        The whitened blob, ``len == overhead_bytes(...) + len(content)``.
    """
    if not 0 <= wire_id <= 255:
        raise ValueError(f"wire_id must be 0..255, got {wire_id}")
    if len(data) > MAX_DATA_LEN:
        raise PayloadTooLargeError(
            f"the file is {len(data)} bytes; the payload format holds at most {MAX_DATA_LEN}"
        )
    content, compressed = compress(bytes(data))
    flags = FLAG_COMPRESSED if compressed else 0
    name = _stored_name(file_name)
    inner = bytes([len(name)]) + name + struct.pack(">I", len(data)) + content

    if passphrase is None:
        header = HEADER.pack(MAGIC, FORMAT_VERSION, wire_id, flags, len(inner) + DIGEST_LEN)
        digest = hashlib.sha256(header + inner).digest()[:DIGEST_LEN]
        return whiten(header + inner + digest)

    flags |= FLAG_ENCRYPTED
    _passphrase_bytes(passphrase)  # reject "" before drawing randomness or spending a scrypt
    salt = random_bytes(SALT_LEN)
    nonce = random_bytes(NONCE_LEN)
    if len(salt) != SALT_LEN or len(nonce) != NONCE_LEN:
        raise ValueError("random_bytes returned the wrong number of bytes")
    derived = scrypt(passphrase, salt, KEY_LEN + CHECK_LEN)
    key, check = derived[:KEY_LEN], derived[KEY_LEN:]
    header = HEADER.pack(MAGIC, FORMAT_VERSION, wire_id, flags, _ENC_OVERHEAD + len(inner))
    prefix = header + salt + check + nonce
    sealed = AESGCM(key).encrypt(nonce, inner, prefix)
    return whiten(prefix + sealed)


def _parse_header(plain_header: bytes) -> tuple[int, int, int]:
    """Validate an unwhitened header; return (wire_id, flags, body_length)."""
    if len(plain_header) < HEADER_LEN:
        raise NoPayloadError("no payload found: too few bytes for a header")
    magic, version, wire_id, flags, body_len = HEADER.unpack(plain_header[:HEADER_LEN])
    if magic != MAGIC:
        raise NoPayloadError(
            "no payload found (the image holds none, or it was made with another model or passphrase)"
        )
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"payload format version {version} is not supported (this invsteg reads version "
            f"{FORMAT_VERSION}); upgrade invsteg"
        )
    if flags & ~_KNOWN_FLAGS:
        raise PayloadCorruptedError(f"payload is corrupted: unknown header flags 0x{flags:02x}")
    fixed = _ENC_OVERHEAD if flags & FLAG_ENCRYPTED else _PLAIN_OVERHEAD
    if body_len < fixed + _INNER_FIXED:
        raise PayloadCorruptedError(f"payload is corrupted: body length {body_len} is too small")
    return wire_id, flags, body_len


def blob_length(prefix: bytes) -> int:
    """Total container length from its first ``HEADER_LEN`` (whitened) bytes.

    Lets a reader decode only as much of a longer (padded) stream as it needs. Raises the same
    :class:`NoPayloadError` / :class:`UnsupportedVersionError` / :class:`PayloadCorruptedError`
    as :func:`unpack` for a bad header.
    """
    _, _, body_len = _parse_header(whiten(bytes(prefix[:HEADER_LEN])))
    return HEADER_LEN + body_len


def unpack(blob: bytes, *, passphrase: str | None) -> Unpacked:
    """Parse, verify and decrypt a whitened container.

    Trailing bytes after the container (padding up to the ECC stream length) are ignored.
    Memory use is bounded by ``len(blob)`` plus, for compressed payloads, the stored original
    length, which is itself capped (``MAX_DATA_LEN`` and zlib's maximum ratio).

    Raises:
        NoPayloadError, UnsupportedVersionError, PassphraseRequiredError,
        PassphraseNotExpectedError, WrongPassphraseError, PayloadTamperedError,
        PayloadCorruptedError: one clear message each.
    """
    blob = bytes(blob)
    wire_id, flags, body_len = _parse_header(whiten(blob[:HEADER_LEN]))
    total = HEADER_LEN + body_len
    if total > len(blob):
        raise PayloadCorruptedError(
            f"payload is corrupted: header announces {total} bytes but only {len(blob)} are present"
        )
    plain = whiten(blob[:total])
    header, body = plain[:HEADER_LEN], plain[HEADER_LEN:]
    encrypted = bool(flags & FLAG_ENCRYPTED)

    if encrypted and passphrase is None:
        raise PassphraseRequiredError("the payload is encrypted: a passphrase is required")
    if not encrypted and passphrase is not None:
        raise PassphraseNotExpectedError(
            "the payload is not encrypted, but a passphrase was given; extract without one"
        )

    if encrypted:
        assert passphrase is not None
        salt = body[:SALT_LEN]
        check = body[SALT_LEN : SALT_LEN + CHECK_LEN]
        nonce = body[SALT_LEN + CHECK_LEN : SALT_LEN + CHECK_LEN + NONCE_LEN]
        sealed = body[SALT_LEN + CHECK_LEN + NONCE_LEN :]
        derived = scrypt(passphrase, salt, KEY_LEN + CHECK_LEN)
        if not hmac.compare_digest(derived[KEY_LEN:], check):
            raise WrongPassphraseError("wrong passphrase")
        aad = header + body[: SALT_LEN + CHECK_LEN + NONCE_LEN]
        inner = decrypt(derived[:KEY_LEN], nonce, sealed, aad)
    else:
        inner = verified_inner(header, body)

    return _parse_inner(inner, wire_id=wire_id, flags=flags)


def decrypt(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """AES-256-GCM open; a tag that does not verify is :class:`PayloadTamperedError`."""
    try:
        return AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise PayloadTamperedError(
            "payload is corrupted or was tampered with: the authentication tag does not verify"
        ) from None


def verified_inner(header: bytes, body: bytes) -> bytes:
    """The inner record of an unencrypted body (``inner || SHA-256(header || inner)[:8]``),
    checked; a mismatch is :class:`PayloadCorruptedError`."""
    inner, digest = body[:-DIGEST_LEN], body[-DIGEST_LEN:]
    if not hmac.compare_digest(hashlib.sha256(header + inner).digest()[:DIGEST_LEN], digest):
        raise PayloadCorruptedError("payload is corrupted: integrity check (SHA-256) failed")
    return inner


def _parse_inner(inner: bytes, *, wire_id: int, flags: int) -> Unpacked:
    # Integrity already passed, so failures here mean a crafted (or buggy) container.
    name_len = inner[0]
    if 1 + name_len + 4 > len(inner):
        raise PayloadCorruptedError("payload is corrupted: file name runs past the end")
    try:
        name = inner[1 : 1 + name_len].decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadCorruptedError("payload is corrupted: file name is not UTF-8") from None
    (data_len,) = struct.unpack(">I", inner[1 + name_len : 5 + name_len])
    content = inner[5 + name_len :]
    compressed = bool(flags & FLAG_COMPRESSED)
    if compressed:
        if data_len > MAX_DATA_LEN or data_len > _ZLIB_MAX_RATIO * len(content) + 64:
            raise PayloadCorruptedError(f"payload is corrupted: implausible original length {data_len}")
        dec = zlib.decompressobj()
        try:
            # max_length caps allocation at the claimed size (+1 to detect overlong streams).
            data = dec.decompress(content, data_len + 1)
        except zlib.error:
            raise PayloadCorruptedError("payload is corrupted: compressed data is invalid") from None
        if len(data) != data_len or not dec.eof or dec.unconsumed_tail or dec.unused_data:
            raise PayloadCorruptedError("payload is corrupted: compressed data has the wrong length")
    else:
        if len(content) != data_len:
            raise PayloadCorruptedError("payload is corrupted: data length does not match")
        data = content
    return Unpacked(
        data=data,
        file_name=name,
        wire_id=wire_id,
        encrypted=bool(flags & FLAG_ENCRYPTED),
        compressed=compressed,
    )


_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)] + [f"LPT{i}" for i in range(1, 10)]
)
DEFAULT_FILE_NAME = "payload.bin"


def safe_file_name(name: str) -> str:
    """Reduce an untrusted stored name to a harmless base name.

    Drops control/format/unassigned characters (incl. NUL, newlines and bidi overrides that can
    disguise an extension), keeps only the part after the last ``/`` or ``\\``, replaces
    characters Windows forbids, strips leading dots, dashes and spaces (no hidden files, no
    ``..``, nothing a shell tool reads as an option) and trailing dots/spaces, prefixes
    Windows device names, and cuts to 255 UTF-8 bytes keeping a short extension. Returns
    ``"payload.bin"`` when nothing is left.
    """
    # Categories C* (Cc control, Cf format, Cs surrogate, Co private, Cn unassigned), Zl, Zp.
    kept = "".join(
        ch
        for ch in name
        if not unicodedata.category(ch).startswith("C") and unicodedata.category(ch) not in ("Zl", "Zp")
    )
    base = re.split(r"[\\/]", kept)[-1]
    base = re.sub(r'[<>:"|?*]', "_", base)
    base = base.lstrip(" .-\t").rstrip(" .\t")
    if not base:
        return DEFAULT_FILE_NAME
    stem = base.split(".", 1)[0]
    if stem.upper() in _WINDOWS_RESERVED:
        base = "_" + base
    raw = base.encode("utf-8")
    if len(raw) > MAX_NAME_BYTES:
        dot = base.rfind(".")
        ext = base[dot:] if dot > 0 and len(base) - dot <= 16 else ""
        budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
        stem_raw = base[: len(base) - len(ext)].encode("utf-8")[:budget]
        base = stem_raw.decode("utf-8", "ignore") + ext
    return base
