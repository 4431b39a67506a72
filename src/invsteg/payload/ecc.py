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
import reedsolo
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
    generator = _codec(nsym).gen[nsym]  # also builds reedsolo's GF(2^8) tables
    data = bytes(data)
    k = CODEWORD_LEN - nsym
    full = len(data) // k * k
    out = bytearray()
    if full:
        out += _encode_messages(np.frombuffer(data[:full], dtype=np.uint8).reshape(-1, k), generator)
    if full < len(data):  # the shortened last codeword
        out += _encode_messages(np.frombuffer(data[full:], dtype=np.uint8)[None], generator)
    return bytes(out)


def _encode_messages(messages: np.ndarray, generator: list[int]) -> bytes:
    """Systematic codewords of the rows of ``messages`` ``(B, m)``: each row followed by
    its remainder modulo the (monic) generator polynomial, as reedsolo's ``rs_encode_msg``
    computes it byte for byte, but as one shift register for all rows at once (numpy)
    instead of a Python loop per byte: ~3 ms per codeword before."""
    gf_exp = np.asarray(reedsolo.gf_exp, dtype=np.uint8)
    gf_log = np.asarray(reedsolo.gf_log, dtype=np.int32)
    log_generator = gf_log[np.asarray(generator[1:], dtype=np.uint8)]  # all nonzero
    remainder = np.zeros((messages.shape[0], len(generator) - 1), dtype=np.uint8)
    for column in messages.T:
        feedback = column ^ remainder[:, 0]
        remainder[:, :-1] = remainder[:, 1:]
        remainder[:, -1] = 0
        product = gf_exp[gf_log[feedback][:, None] + log_generator[None, :]]
        product[feedback == 0] = 0
        remainder ^= product
    return np.concatenate((messages, remainder), axis=1).tobytes()


def ecc_decode(data: bytes, nsym: int) -> bytes:
    """Correct and strip parity; inverse of :func:`ecc_encode`.

    Corrects up to ``nsym // 2`` wrong bytes per 255-byte codeword. Beyond that it raises
    :class:`PayloadCorruptedError` -- or, rarely, decodes to a wrong codeword, which the
    container's integrity check then catches.

    The same algorithm as ``reedsolo.RSCodec(nsym).decode`` (Berlekamp-Massey, Chien
    search, Forney; the result is byte for byte the same), except that the syndromes of all
    codewords are computed at once with numpy: in pure Python they are 85% of the time
    (nsym evaluations of a 255-term polynomial, twice per codeword), which made a 1 MP
    stego at capacity (~1000 codewords, most with a few wrong bytes) take ~20 s to decode.
    """
    _check_nsym(nsym)
    data = bytes(data)
    if nsym == 0 or not data:
        return data
    if len(data) % CODEWORD_LEN and len(data) % CODEWORD_LEN <= nsym:
        raise PayloadCorruptedError("payload is corrupted: error-correction stream is truncated")
    _codec(nsym)  # builds reedsolo's GF(2^8) tables (the same for every nsym)
    out = bytearray()
    full = len(data) // CODEWORD_LEN * CODEWORD_LEN
    try:
        if full:
            out += _decode_codewords(
                np.frombuffer(data[:full], dtype=np.uint8).reshape(-1, CODEWORD_LEN), nsym
            )
        if full < len(data):  # the shortened last codeword
            out += _decode_codewords(np.frombuffer(data[full:], dtype=np.uint8)[None], nsym)
    except ReedSolomonError:
        raise PayloadCorruptedError("payload is corrupted beyond what error correction can repair") from None
    return bytes(out)


@lru_cache(maxsize=4)
def _syndrome_exponents(length: int, nsym: int) -> np.ndarray:
    """``(nsym, length)`` int32: log of alpha^(j * degree of byte i), alpha = 2 (fcr 0)."""
    degree = length - 1 - np.arange(length)
    return (np.arange(nsym)[:, None] * degree[None, :]) % 255


def _syndromes(codewords: np.ndarray, nsym: int, chunk: int = 32) -> np.ndarray:
    """reedsolo's ``rs_calc_syndromes(cw, nsym)[1:]`` of every row of ``codewords``
    ``(B, n)`` uint8 -> ``(B, nsym)`` uint8: the codeword polynomial (first byte highest
    degree) evaluated at alpha^0 .. alpha^(nsym-1) in GF(2^8); all zero iff no error."""
    gf_exp = np.asarray(reedsolo.gf_exp, dtype=np.uint8)  # 510 entries: no mod needed below
    gf_log = np.asarray(reedsolo.gf_log, dtype=np.int32)
    exponents = _syndrome_exponents(codewords.shape[1], nsym)
    out = np.empty((codewords.shape[0], nsym), dtype=np.uint8)
    for start in range(0, codewords.shape[0], chunk):
        block = codewords[start : start + chunk]
        terms = gf_exp[gf_log[block][:, None, :] + exponents[None]]  # (b, nsym, n)
        terms[np.broadcast_to((block == 0)[:, None, :], terms.shape)] = 0
        out[start : start + chunk] = np.bitwise_xor.reduce(terms, axis=2)
    return out


def _find_errors(locator: list[int], length: int) -> list[int]:
    """reedsolo's ``rs_find_errors`` (Chien search by trial of every position), vectorised."""
    gf_exp = np.asarray(reedsolo.gf_exp, dtype=np.uint8)
    gf_log = np.asarray(reedsolo.gf_log, dtype=np.int32)
    coefficients = np.asarray(locator, dtype=np.uint8)
    degree = len(locator) - 1 - np.arange(len(locator))
    exponents = (np.arange(length)[:, None] * degree[None, :]) % 255  # (length, terms)
    terms = gf_exp[gf_log[coefficients][None, :] + exponents]
    terms[:, coefficients == 0] = 0
    roots = np.flatnonzero(np.bitwise_xor.reduce(terms, axis=1) == 0)
    if roots.size != len(locator) - 1:
        raise ReedSolomonError(
            "Too many (or few) errors found by Chien Search for the errata locator polynomial!"
        )
    return (length - 1 - roots).tolist()


def _decode_codewords(codewords: np.ndarray, nsym: int) -> bytearray:
    """Messages of the codewords (rows, same length), corrected as reedsolo's
    ``rs_correct_msg`` does; raises ``ReedSolomonError`` where it would."""
    length = codewords.shape[1]
    syndromes = _syndromes(codewords, nsym)
    out = bytearray()
    for codeword, syndrome in zip(codewords, syndromes, strict=True):
        if not syndrome.any():
            out += codeword[:-nsym].tobytes()
            continue
        synd = [0, *syndrome.tolist()]  # reedsolo's layout: a leading 0 coefficient
        error_locator = reedsolo.rs_find_error_locator(reedsolo.rs_forney_syndromes(synd, [], length), nsym)
        positions = _find_errors(error_locator[::-1], length)
        fixed = reedsolo.rs_correct_errata(bytearray(codeword.tobytes()), synd, positions)
        fixed_array = np.frombuffer(bytes(fixed), dtype=np.uint8)
        if _syndromes(fixed_array[None], nsym).any():
            raise ReedSolomonError("Could not correct message")
        out += fixed_array[:-nsym].tobytes()
    return out


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
