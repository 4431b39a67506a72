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
    gf_exp, gf_log = _gf()[:2]
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

    Reedsolo's code (its field, generator and layout), decoded with numpy, every step
    batched over all codewords: syndromes, Berlekamp-Massey, Chien search, Forney. Within
    ``nsym // 2`` wrong bytes the result is the one codeword at that distance, the same as
    ``reedsolo.RSCodec(nsym).decode`` gives; a corrected codeword is accepted only if all
    its syndromes are then zero. reedsolo itself, in pure Python, took 20-40 ms per
    codeword with 16-30 wrong bytes: 20-40 s for a 1 MP stego at capacity (~1000 codewords).
    """
    _check_nsym(nsym)
    data = bytes(data)
    if nsym == 0 or not data:
        return data
    if len(data) % CODEWORD_LEN and len(data) % CODEWORD_LEN <= nsym:
        raise PayloadCorruptedError("payload is corrupted: error-correction stream is truncated")
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


@lru_cache(maxsize=1)
def _gf() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """GF(2^8) with reedsolo's field (primitive polynomial 0x11d, generator 2):
    ``(exp, log, mul, inv)``; ``exp`` has 510 entries so sums of two logs need no mod,
    ``mul`` is the 256x256 product table, ``inv[0]`` is 0 (never used)."""
    exp = np.zeros(510, dtype=np.uint8)
    log = np.zeros(256, dtype=np.int32)
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= 0x11D
    exp[255:] = exp[:255]
    mul = exp[log[:, None] + log[None, :]]
    mul[0, :] = mul[:, 0] = 0
    inv = np.zeros(256, dtype=np.uint8)
    inv[1:] = exp[255 - log[1:]]
    return exp, log, mul, inv


@lru_cache(maxsize=4)
def _syndrome_exponents(length: int, nsym: int) -> np.ndarray:
    """``(nsym, length)`` int32: log of alpha^(j * degree of byte i), alpha = 2 (fcr 0)."""
    degree = length - 1 - np.arange(length)
    return (np.arange(nsym)[:, None] * degree[None, :]) % 255


def _syndromes(codewords: np.ndarray, nsym: int, chunk: int = 32) -> np.ndarray:
    """reedsolo's ``rs_calc_syndromes(cw, nsym)[1:]`` of every row of ``codewords``
    ``(B, n)`` uint8 -> ``(B, nsym)`` uint8: the codeword polynomial (first byte highest
    degree) evaluated at alpha^0 .. alpha^(nsym-1) in GF(2^8); all zero iff no error."""
    gf_exp, gf_log = _gf()[:2]
    exponents = _syndrome_exponents(codewords.shape[1], nsym)
    out = np.empty((codewords.shape[0], nsym), dtype=np.uint8)
    for start in range(0, codewords.shape[0], chunk):
        block = codewords[start : start + chunk]
        terms = gf_exp[gf_log[block][:, None, :] + exponents[None]]  # (b, nsym, n)
        terms[np.broadcast_to((block == 0)[:, None, :], terms.shape)] = 0
        out[start : start + chunk] = np.bitwise_xor.reduce(terms, axis=2)
    return out


def _evaluate(poly: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """``poly`` ``(B, d)`` (coefficient k of x^k) at alpha^e for ``exponents`` ``(B, r)``
    (any integers) -> ``(B, r)`` uint8."""
    gf_exp, gf_log = _gf()[:2]
    powers = (exponents[:, :, None] * np.arange(poly.shape[1])[None, None, :]) % 255  # (B, r, d)
    terms = gf_exp[gf_log[poly][:, None, :] + powers]
    terms[np.broadcast_to((poly == 0)[:, None, :], terms.shape)] = 0
    return np.bitwise_xor.reduce(terms, axis=2)


def _berlekamp_massey(syndromes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error locators of every row of ``syndromes`` ``(B, N)``, all rows at once:
    ``(Lambda (B, N + 1), coefficient k of x^k with Lambda_0 = 1; L (B,), its length)``."""
    mul, inv = _gf()[2:]
    rows, count = syndromes.shape
    locator = np.zeros((rows, count + 1), dtype=np.uint8)
    locator[:, 0] = 1
    previous = locator.copy()
    length = np.zeros(rows, dtype=np.int64)
    shift = np.ones(rows, dtype=np.int64)
    last = np.ones(rows, dtype=np.uint8)  # the discrepancy when ``previous`` was saved
    columns = np.arange(count + 1)
    for n in range(count):
        # discrepancy: S_n + sum_{i=1..L} Lambda_i S_{n-i} (Lambda_i = 0 beyond L)
        discrepancy = np.bitwise_xor.reduce(mul[locator[:, : n + 1], syndromes[:, n::-1]], axis=1)
        nonzero = discrepancy != 0
        source = columns[None, :] - shift[:, None]
        shifted = np.where(source >= 0, np.take_along_axis(previous, np.maximum(source, 0), axis=1), 0)
        updated = locator ^ mul[mul[discrepancy, inv[last]][:, None], shifted]
        grow = nonzero & (2 * length <= n)
        previous = np.where(grow[:, None], locator, previous)
        last = np.where(grow, discrepancy, last)
        length = np.where(grow, n + 1 - length, length)
        locator = np.where(nonzero[:, None], updated, locator)
        shift = np.where(grow, 1, shift + 1)
    return locator, length


def _correct(codewords: np.ndarray, syndromes: np.ndarray, nsym: int) -> np.ndarray:
    """Corrected copies of the rows of ``codewords`` ``(B, n)`` (all with nonzero
    ``syndromes``): Berlekamp-Massey, Chien search, Forney, batched over the rows.
    Raises ``ReedSolomonError`` if any row has more errors than ``nsym // 2`` can fix."""
    exp, _, mul, inv = _gf()
    rows, length = codewords.shape
    locator, errors = _berlekamp_massey(syndromes)
    if (errors > nsym // 2).any():
        raise ReedSolomonError("Too many errors to correct")
    degree = int(errors.max())
    locator = locator[:, : degree + 1]
    # Chien search: byte i (degree p = n - 1 - i) is wrong iff Lambda(alpha^-p) = 0
    powers = np.arange(length)
    roots = _evaluate(locator, np.broadcast_to(-powers, (rows, length))) == 0
    if (roots.sum(axis=1) != errors).any():
        raise ReedSolomonError("the Chien search found another number of errors than the locator has")
    # the degrees p of each row's roots first (then non-roots, masked out by ``found``)
    order = np.argsort(~roots, axis=1, kind="stable")[:, :degree]
    found = np.take_along_axis(roots, order, axis=1)
    # Forney (first consecutive root 0): e = X Omega(X^-1) / Lambda'(X^-1), X = alpha^p,
    # Omega = S Lambda mod x^nsym, Lambda' keeps the odd-degree terms (characteristic 2)
    omega = np.zeros_like(syndromes)
    for k in range(degree + 1):
        omega[:, k:] ^= mul[locator[:, k : k + 1], syndromes[:, : nsym - k]]
    derivative = locator[:, 1:].copy()
    derivative[:, 1::2] = 0
    numerator = _evaluate(omega, -order)
    denominator = _evaluate(derivative, -order)
    if (found & (denominator == 0)).any():
        raise ReedSolomonError("Could not correct message")
    magnitude = mul[exp[order % 255], mul[numerator, inv[denominator]]]
    corrected = codewords.copy()
    row_index = np.broadcast_to(np.arange(rows)[:, None], order.shape)
    np.bitwise_xor.at(corrected, (row_index[found], (length - 1 - order)[found]), magnitude[found])
    if _syndromes(corrected, nsym).any():
        raise ReedSolomonError("Could not correct message")
    return corrected


def _decode_codewords(codewords: np.ndarray, nsym: int, chunk: int = 256) -> bytearray:
    """Messages of the codewords (rows, same length), corrected; raises
    ``ReedSolomonError`` if any has more wrong bytes than ``nsym // 2``."""
    syndromes = _syndromes(codewords, nsym)
    wrong = np.flatnonzero(syndromes.any(axis=1))
    if wrong.size:
        codewords = codewords.copy()
        for start in range(0, wrong.size, chunk):  # bounded temporaries
            rows = wrong[start : start + chunk]
            codewords[rows] = _correct(codewords[rows], syndromes[rows], nsym)
    return bytearray(codewords[:, :-nsym].tobytes())


def interleave_seed(passphrase: str | None) -> bytes:
    """32-byte interleaving key: public default, or scrypt of the passphrase with a fixed salt.

    The fixed salt means one scrypt per guess can test a passphrase against *many* images for
    "is there a payload here"; it still needs the real per-payload salt to decrypt anything.
    """
    if passphrase is None:
        return PUBLIC_INTERLEAVE_SEED
    return scrypt(passphrase, _INTERLEAVE_SALT, 32)


_KEY_CHUNK = 1 << 20  # sort keys generated this many at a time (8 MB)


def permutation(n: int, seed: bytes) -> np.ndarray:
    """Keyed permutation of ``range(n)``, shape ``(n,)``: int32 below 2^31 entries, else int64.

    Sort keys are AES-256-CTR output under ``seed`` (key ``i`` is bytes ``8i .. 8i + 8`` of
    the keystream, little-endian); the permutation is the stable argsort of the keys, ties
    (astronomically rare) broken by index. Built only from AES and sorting, not from
    ``numpy.random.Generator``, whose streams numpy does not promise to keep across
    versions: images must decode forever.

    Memory: 12 bytes per entry at peak (an argsort of the keys needs ~20, and its int64
    result 8 more to narrow): see :func:`_lean_permutation`.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if len(seed) != 32:
        raise ValueError("seed must be 32 bytes")
    if n >= 2**31:
        return np.argsort(_sort_keys(seed, 0, n), kind="stable")
    return _lean_permutation(n, seed, shift=max(1, (n - 1).bit_length()))


def _sort_keys(seed: bytes, start: int, stop: int) -> np.ndarray:
    """Keys ``start .. stop`` (``start`` even: whole AES blocks), ``(stop - start,)`` uint64."""
    counter = (start // 2).to_bytes(16, "big")
    enc = Cipher(algorithms.AES(bytes(seed)), modes.CTR(counter)).encryptor()
    return np.frombuffer(enc.update(bytes(8 * (stop - start))), dtype="<u8")


def _lean_permutation(n: int, seed: bytes, shift: int) -> np.ndarray:
    """:func:`permutation` for ``n <= 2**shift <= 2**31``, never holding the keys whole.

    Each key's top ``64 - shift`` bits and its index (the low ``shift`` bits) are packed
    into one uint64 and sorted in place: that orders by (truncated key, index). Entries
    whose truncated keys tie (about ``n**2 / 2**(65 - shift)`` pairs) are then put in the
    order of their full keys, recomputed from AES, so the result is exactly the stable
    argsort of the full keys.
    """
    low = np.uint64((1 << shift) - 1)
    packed = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _KEY_CHUNK):
        stop = min(start + _KEY_CHUNK, n)
        keys = _sort_keys(seed, start, stop) & ~low
        packed[start:stop] = keys | np.arange(start, stop, dtype=np.uint64)
    packed.sort()
    _order_ties(packed, seed, shift)
    out = np.empty(n, dtype=np.int32)
    for start in range(0, n, _KEY_CHUNK):
        out[start : start + _KEY_CHUNK] = packed[start : start + _KEY_CHUNK] & low
    return out


def _order_ties(packed: np.ndarray, seed: bytes, shift: int) -> None:
    """Reorder, in place, the runs of ``packed`` (sorted) whose truncated keys are equal by
    the full keys of their entries (index order kept among equal full keys)."""
    tied = []  # positions p whose truncated key equals that of p + 1
    for start in range(0, packed.size - 1, _KEY_CHUNK):
        head = packed[start : start + _KEY_CHUNK + 1] >> np.uint64(shift)
        tied.append(start + np.flatnonzero(head[1:] == head[:-1]))
    positions = np.concatenate(tied) if tied else np.empty(0, dtype=np.int64)
    if not positions.size:
        return
    # Every entry of a run: p and p + 1 for each tied p. Sorting them all together by full
    # key keeps each run in its own positions, as a lower truncated key means a lower key.
    members = np.union1d(positions, positions + 1)
    index = (packed[members] & np.uint64((1 << shift) - 1)).astype(np.int64)
    blocks = np.unique(index // 2)
    counters = np.zeros((blocks.size, 16), dtype=np.uint8)
    counters[:, 8:] = blocks.astype(">u8").view(np.uint8).reshape(-1, 8)
    ecb = Cipher(algorithms.AES(bytes(seed)), modes.ECB()).encryptor()
    stream = np.frombuffer(ecb.update(counters.tobytes()), dtype="<u8")
    full = stream[2 * np.searchsorted(blocks, index // 2) + index % 2]
    packed[members] = packed[members][np.lexsort((index, full))]


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
