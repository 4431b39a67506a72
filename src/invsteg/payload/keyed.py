"""The keyed container of payload formats 2 and 3: a file's bytes, sealed under keys that
one message's salt derives (see :mod:`invsteg.payload.sealed` and :mod:`invsteg.payload.parity`
for where those come from and where the container goes).

Header (magic, format version, wire id, flags, body length) and body (AES-256-GCM of the
inner record with the header as associated data, or the inner record and an 8-byte SHA-256
prefix), all whitened with the message's own keystream: as format 1's container, but keyed
per message, so nothing in it repeats between messages.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from invsteg.payload.container import (
    _INNER_FIXED,
    DIGEST_LEN,
    FLAG_COMPRESSED,
    FLAG_ENCRYPTED,
    HEADER,
    HEADER_LEN,
    MAGIC,
    MAX_DATA_LEN,
    TAG_LEN,
    Unpacked,
    _parse_inner,
    _stored_name,
    compress,
    decrypt,
    verified_inner,
)
from invsteg.payload.errors import PayloadCorruptedError, PayloadTooLargeError, UnsupportedVersionError

FORMAT_VERSION_2 = 2
_LENGTH = struct.Struct(">I")
_ENC_OVERHEAD = TAG_LEN  # the nonce comes from the message keys
_PLAIN_OVERHEAD = DIGEST_LEN


@dataclass(frozen=True)
class MessageKeys:
    """Everything one message's salt keys (see the module docstring)."""

    order: bytes
    whitening: bytes
    cipher: bytes
    nonce: bytes
    length_mask: bytes

    @classmethod
    def derive(cls, locator: bytes, salt: bytes, info: bytes = b"invsteg/v2/message") -> MessageKeys:
        sizes = (32, 32, 32, 12, _LENGTH.size)
        hkdf = HKDF(algorithm=hashes.SHA256(), length=sum(sizes), salt=salt, info=info)
        out = hkdf.derive(locator)
        parts, start = [], 0
        for size in sizes:
            parts.append(out[start : start + size])
            start += size
        return cls(*parts)

    def whiten(self, data: bytes) -> bytes:
        """XOR with this message's AES-CTR keystream (its own inverse)."""
        stream = Cipher(algorithms.AES(self.whitening), modes.CTR(bytes(16))).encryptor()
        mask = stream.update(bytes(len(data)))
        return (np.frombuffer(data, np.uint8) ^ np.frombuffer(mask, np.uint8)).tobytes()


def overhead_bytes(file_name: str, *, encrypted: bool) -> int:
    """Container bytes beyond the data itself, without compression."""
    body = _ENC_OVERHEAD if encrypted else _PLAIN_OVERHEAD
    return HEADER_LEN + _INNER_FIXED + len(_stored_name(file_name)) + body


def pack_v2(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    keys: MessageKeys,
    encrypted: bool,
    version: int = FORMAT_VERSION_2,
) -> bytes:
    """The whitened container of formats 2 and 3: header (magic, ``version``, wire id, flags,
    body length) and body (AES-256-GCM of the inner record with the header as associated
    data, or the inner record and an 8-byte SHA-256 prefix), as in version 1 but keyed per
    message."""
    if not 0 <= wire_id <= 255:
        raise ValueError(f"wire_id must be 0..255, got {wire_id}")
    if len(data) > MAX_DATA_LEN:
        raise PayloadTooLargeError(f"the file is {len(data)} bytes; the format holds at most {MAX_DATA_LEN}")
    content, compressed = compress(bytes(data))
    flags = (FLAG_COMPRESSED if compressed else 0) | (FLAG_ENCRYPTED if encrypted else 0)
    name = _stored_name(file_name)
    inner = bytes([len(name)]) + name + _LENGTH.pack(len(data)) + content
    fixed = _ENC_OVERHEAD if encrypted else _PLAIN_OVERHEAD
    header = HEADER.pack(MAGIC, version, wire_id, flags, len(inner) + fixed)
    if encrypted:
        body = AESGCM(keys.cipher).encrypt(keys.nonce, inner, header)
    else:
        body = inner + hashlib.sha256(header + inner).digest()[:DIGEST_LEN]
    return keys.whiten(header + body)


def unpack_v2(
    blob: bytes, *, keys: MessageKeys, encrypted: bool, version: int = FORMAT_VERSION_2
) -> Unpacked:
    """Inverse of :func:`pack_v2`. Raises PayloadCorruptedError, PayloadTamperedError or
    UnsupportedVersionError; never returns wrong data."""
    plain = keys.whiten(blob)
    if len(plain) < HEADER_LEN:
        raise PayloadCorruptedError("payload is corrupted: too short for a header")
    magic, found_version, wire_id, flags, body_len = HEADER.unpack(plain[:HEADER_LEN])
    if magic != MAGIC:
        raise PayloadCorruptedError("payload is corrupted: bad header")
    if found_version != version:
        raise UnsupportedVersionError(
            f"payload format version {found_version} is not supported; upgrade invsteg"
        )
    if flags & ~(FLAG_ENCRYPTED | FLAG_COMPRESSED) or bool(flags & FLAG_ENCRYPTED) != encrypted:
        raise PayloadCorruptedError(f"payload is corrupted: header flags 0x{flags:02x}")
    header, body = plain[:HEADER_LEN], plain[HEADER_LEN:]
    fixed = _ENC_OVERHEAD if encrypted else _PLAIN_OVERHEAD
    if body_len != len(body) or body_len < fixed + _INNER_FIXED:
        raise PayloadCorruptedError(f"payload is corrupted: body length {body_len}")
    inner = decrypt(keys.cipher, keys.nonce, body, header) if encrypted else verified_inner(header, body)
    return _parse_inner(inner, wire_id=wire_id, flags=flags)


def xor_bytes(a: bytes, b: bytes) -> bytes:
    """``a`` XOR ``b``, of equal lengths (a length masked by a message key)."""
    return bytes(x ^ y for x, y in zip(a, b, strict=True))
