"""Reed-Solomon error correction, bit <-> byte conversion and a keyed bit interleaver.

Reed-Solomon (``reedsolo``) works on bytes over GF(2^8) with 255-byte codewords: each
codeword carries ``255 - nsym`` message bytes and ``nsym`` parity bytes and corrects up to
``nsym // 2`` wrong bytes anywhere in it. The message is cut into ``255 - nsym``-byte chunks;
the last codeword is shortened (``len(chunk) + nsym`` bytes).

A damaged image region flips a *contiguous* run of latents. Without interleaving that burst
lands in one codeword and exceeds its correction budget; a pseudo-random permutation of the
bit positions spreads it thinly over all codewords. The permutation is keyed: with a
passphrase, someone without it cannot even locate the header bits (this is hiding, not
encryption: AES-GCM in the container does the secrecy).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from reedsolo import ReedSolomonError, RSCodec

from invsteg.payload.container import scrypt
from invsteg.payload.errors import PayloadCorruptedError

CODEWORD_LEN = 255

# Public default interleaving key, used when there is no passphrase.
PUBLIC_INTERLEAVE_SEED = hashlib.sha256(b"invsteg/v1/public-interleave").digest()
_INTERLEAVE_SALT = b"invsteg/v1/interleave"


def bytes_to_bits(data: bytes) -> np.ndarray:
    """Bytes -> bits, most significant bit first. Shape ``(8 * len(data),)``, dtype uint8 in {0,1}."""
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Bits (1-D, length a multiple of 8, MSB first; nonzero counts as 1) -> bytes."""
    arr = np.asarray(bits).reshape(-1)
    if arr.size % 8:
        raise ValueError(f"bit count {arr.size} is not a multiple of 8")
    return np.packbits(arr != 0).tobytes()


def _check_nsym(nsym: int) -> None:
    if not 0 <= nsym < CODEWORD_LEN:
        raise ValueError(f"nsym must be in 0..{CODEWORD_LEN - 1}, got {nsym}")


@lru_cache(maxsize=16)
def _codec(nsym: int) -> RSCodec:
    # Building the generator polynomial is not free; codecs are stateless, so share them.
    return RSCodec(nsym, nsize=CODEWORD_LEN)


def ecc_encoded_len(msg_len: int, nsym: int) -> int:
    """Length in bytes of ``ecc_encode`` output for a ``msg_len``-byte message."""
    _check_nsym(nsym)
    if nsym == 0:
        return msg_len
    k = CODEWORD_LEN - nsym
    return msg_len + nsym * (-(-msg_len // k))


def ecc_encode(data: bytes, nsym: int) -> bytes:
    """Append ``nsym`` Reed-Solomon parity bytes to every ``255 - nsym`` data bytes.

    ``nsym = 0`` means no error correction (identity).
    """
    _check_nsym(nsym)
    if nsym == 0 or not data:
        return bytes(data)
    return bytes(_codec(nsym).encode(bytes(data)))


def ecc_decode(data: bytes, nsym: int) -> bytes:
    """Correct and strip parity; inverse of :func:`ecc_encode`.

    Corrects up to ``nsym // 2`` wrong bytes per 255-byte codeword. Beyond that it raises
    :class:`PayloadCorruptedError` -- or, rarely, decodes to a wrong codeword, which the
    container's integrity check then catches.
    """
    _check_nsym(nsym)
    data = bytes(data)
    if nsym == 0 or not data:
        return data
    if len(data) % CODEWORD_LEN and len(data) % CODEWORD_LEN <= nsym:
        raise PayloadCorruptedError("payload is corrupted: error-correction stream is truncated")
    try:
        return bytes(_codec(nsym).decode(data)[0])
    except ReedSolomonError:
        raise PayloadCorruptedError("payload is corrupted beyond what error correction can repair") from None


def interleave_seed(passphrase: str | None) -> bytes:
    """32-byte interleaving key: public default, or scrypt of the passphrase with a fixed salt.

    The fixed salt means one scrypt per guess can test a passphrase against *many* images for
    "is there a payload here"; it still needs the real per-payload salt to decrypt anything.
    """
    if passphrase is None:
        return PUBLIC_INTERLEAVE_SEED
    return scrypt(passphrase, _INTERLEAVE_SALT, 32)


def permutation(n: int, seed: bytes) -> np.ndarray:
    """Keyed permutation of ``range(n)``, shape ``(n,)``, int64.

    Sort keys are AES-256-CTR output under ``seed``; a stable argsort breaks (astronomically
    rare) ties by index. Built only from AES and sorting, not from ``numpy.random.Generator``,
    whose streams numpy does not promise to keep across versions: images must decode forever.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    enc = Cipher(algorithms.AES(bytes(seed)), modes.CTR(bytes(16))).encryptor()
    keys = np.frombuffer(enc.update(bytes(8 * n)), dtype="<u8")
    return np.argsort(keys, kind="stable")


def interleave(bits: np.ndarray, seed: bytes) -> np.ndarray:
    """Permute a 1-D array: ``out[i] = bits[perm[i]]``. Same shape and dtype."""
    arr = np.asarray(bits).reshape(-1)
    return arr[permutation(arr.size, seed)]


def deinterleave(bits: np.ndarray, seed: bytes) -> np.ndarray:
    """Inverse of :func:`interleave` for the same seed and length."""
    arr = np.asarray(bits).reshape(-1)
    out = np.empty_like(arr)
    out[permutation(arr.size, seed)] = arr
    return out
