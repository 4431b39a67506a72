"""From a file to exactly ``num_latents`` bits and back: container + Reed-Solomon + interleaving.

Embedding fills *every* latent, so the extractor needs no length up front and the picture
carries no boundary where the payload stops:

1. ``blob = pack(...)`` (whitened container, see :mod:`invsteg.payload.container`);
2. pad ``blob`` with random bytes to a whole number of codeword messages;
3. Reed-Solomon encode (255-byte codewords, the last one of the stream shortened);
4. random bytes up to ``coded_len``, the coded length of the whole stream (the codewords
   that carry no part of the blob are never decoded, so they need no parity: random bytes
   look the same to anyone without the interleaving key, and cost no encoding time);
5. bits, then random bits for the ``num_latents - 8 * coded_len`` leftover latents;
6. keyed interleave over all ``num_latents`` positions.

Extraction inverts 6, decodes the *first* codeword to read the header's body length, then
decodes only the codewords that length needs: damage in the padding never matters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from invsteg.errors import PayloadError
from invsteg.payload.container import (
    HEADER_LEN,
    MAGIC,
    RandomBytes,
    Unpacked,
    blob_length,
    overhead_bytes,
    pack,
    unpack,
    whiten,
)
from invsteg.payload.ecc import (
    CODEWORD_LEN,
    PUBLIC_INTERLEAVE_SEED,
    bits_to_bytes,
    bytes_to_bits,
    deinterleave,
    ecc_decode,
    ecc_encode,
    interleave_seed,
    permutation,
)
from invsteg.payload.errors import NoPayloadError, PayloadCorruptedError, PayloadTooLargeError

# Parity bytes per 255-byte codeword: corrects 64 wrong bytes in each (25%), so the
# payload takes half of the raw 2 bits per pixel of Steg-cINN (about 1 bit per pixel net,
# four times the 0.25 asked for). Fixed by the format: extraction knows it without side
# information. Measured with the trained stegcinn-fast on the val split at full capacity
# (benchmarks/results.md): the worst codeword of the first render had up to 30-33 wrong
# bytes on the darkest covers (lxqt_after-the-rain, lxqt_Valendas, lxqt_beam: bits in
# near-black and clipped colour), 2-13 on the others. With 64 correctable the verify loop
# (which wants at most half of them used) accepted 46 of 48 covers after one pass; with
# nsym 64 (16 accepted) about one cover in eight would need repair passes, with 32 (the
# old default; 8 accepted) most of the dark ones; 32 with the paper's |z| > 0.1 failed
# outright on 1 MP covers.
DEFAULT_NSYM = 128


def _check_frame_nsym(nsym: int) -> None:
    # The header must sit inside the first codeword's message part so it can be read alone.
    if not 0 <= nsym <= CODEWORD_LEN - HEADER_LEN:
        raise ValueError(f"nsym must be in 0..{CODEWORD_LEN - HEADER_LEN}, got {nsym}")


def _layout(num_latents: int, nsym: int) -> tuple[int, int]:
    """(message bytes, coded bytes) that fit in ``num_latents`` bits."""
    _check_frame_nsym(nsym)
    if num_latents < 0:
        raise ValueError("num_latents must be >= 0")
    budget = num_latents // 8
    if nsym == 0:
        return budget, budget
    full, rest = divmod(budget, CODEWORD_LEN)
    k = CODEWORD_LEN - nsym
    # A shortened last codeword is worth having only if it carries at least one message byte.
    last_msg = rest - nsym if rest > nsym else 0
    msg = full * k + last_msg
    coded = full * CODEWORD_LEN + (rest if last_msg else 0)
    return msg, coded


def message_capacity(num_latents: int, nsym: int) -> int:
    """Container bytes (header and tags included) that ``num_latents`` bits carry after ECC."""
    return _layout(num_latents, nsym)[0]


def capacity_bytes(
    num_latents: int,
    nsym: int = DEFAULT_NSYM,
    *,
    file_name: str = "",
    encrypted: bool = True,
) -> int:
    """Net bytes of file content that fit, whatever the content (no credit for compression).

    Args:
        num_latents: number of sign-carrying latents (one bit each).
        nsym: Reed-Solomon parity bytes per 255-byte codeword.
        file_name: the name that will be stored; it costs its UTF-8 length (base name only).
        encrypted: reserve room for salt, key check, nonce and GCM tag (44 bytes more than the
            unencrypted 8-byte hash). Default True: the larger, safe figure.

    Returns:
        Bytes >= 0. A file of exactly this many bytes packs and encodes into <= ``num_latents`` bits.
    """
    cap = message_capacity(num_latents, nsym) - overhead_bytes(file_name, encrypted=encrypted)
    return max(cap, 0)


def _used_coded_bytes(blob_len: int, num_latents: int, nsym: int) -> int:
    """Coded bytes that extraction decodes for a ``blob_len``-byte container: the whole
    codewords its message bytes fall in (the last of the stream may be shortened)."""
    coded_len = _layout(num_latents, nsym)[1]
    if nsym == 0:
        return blob_len
    blocks = max(1, -(-blob_len // (CODEWORD_LEN - nsym)))  # the header's codeword at least
    return min(blocks * CODEWORD_LEN, coded_len)


@dataclass(frozen=True)
class Framed:
    """A container framed for ``num_latents`` carriers, with what a verifier needs.

    ``bits`` is what the mapper embeds (carrier order); ``coded`` the Reed-Solomon stream
    before interleaving, of which extraction decodes the first ``used_bytes``; ``order`` the
    interleaving permutation (``bits[i] = coded bit order[i]``).
    """

    bits: np.ndarray
    blob: bytes
    coded: bytes
    used_bytes: int
    order: np.ndarray
    nsym: int

    def codeword_errors(self, read_bits: np.ndarray) -> np.ndarray:
        """Wrong bytes per codeword that extraction decodes, ``(codewords,)`` int, if
        ``read_bits`` (carrier order) is what the image gives back. Reed-Solomon corrects a
        codeword iff it has at most ``nsym // 2`` of them."""
        stream = np.empty_like(self.bits)
        stream[self.order] = np.asarray(read_bits, dtype=np.uint8).reshape(-1)
        read = np.frombuffer(bits_to_bytes(stream[: 8 * self.used_bytes]), dtype=np.uint8)
        wrong = read != np.frombuffer(self.coded[: self.used_bytes], dtype=np.uint8)
        starts = np.arange(0, self.used_bytes, CODEWORD_LEN)
        return np.add.reduceat(wrong.astype(np.int64), starts) if starts.size else starts

    def decodes(self, read_bits: np.ndarray) -> bool:
        """Whether extraction from ``read_bits`` gives back exactly this container: a real
        deinterleave and Reed-Solomon decode (no decryption needed: the same container
        unpacks to the same file)."""
        stream = np.empty_like(self.bits)
        stream[self.order] = np.asarray(read_bits, dtype=np.uint8).reshape(-1)
        try:
            return _decode_stream(stream, nsym=self.nsym) == self.blob
        except PayloadError:
            return False


def frame_bits(
    blob: bytes,
    num_latents: int,
    *,
    nsym: int,
    seed: bytes,
    random_bytes: RandomBytes = os.urandom,
) -> Framed:
    """Pad, ECC-encode and interleave a container into exactly ``num_latents`` bits."""
    msg_cap, coded_len = _layout(num_latents, nsym)
    if len(blob) > msg_cap:
        raise PayloadTooLargeError(
            f"the payload needs {len(blob)} bytes after packing but the image holds {msg_cap} "
            f"(with nsym={nsym}); use a larger cover, a smaller file or less error correction"
        )
    used = _used_coded_bytes(len(blob), num_latents, nsym)
    msg_len = used - nsym * (-(-used // CODEWORD_LEN)) if nsym else used
    coded = ecc_encode(bytes(blob) + random_bytes(msg_len - len(blob)), nsym)
    assert len(coded) == used
    coded += random_bytes(coded_len - used)  # never decoded: see the module docstring
    spare = num_latents - 8 * coded_len
    filler = bytes_to_bits(random_bytes(-(-spare // 8)))[:spare]  # uniform, like the rest
    stream = np.concatenate([bytes_to_bits(coded), filler]).astype(np.uint8)
    order = permutation(num_latents, seed)  # int32 (below 2^31 carriers): 4 bytes each
    return Framed(stream[order], bytes(blob), coded, used, order, nsym)


def decode_blob(bits: np.ndarray, *, nsym: int, seed: bytes) -> bytes:
    """Deinterleave and ECC-decode as much of ``bits`` as the header says; return the blob.

    Raises:
        NoPayloadError: no header under this seed (wrong passphrase, model, or no payload).
        PayloadCorruptedError: a header is there but the payload cannot be repaired.
        UnsupportedVersionError: from the header.
    """
    arr = np.asarray(bits).reshape(-1)
    if message_capacity(arr.size, nsym) < HEADER_LEN:
        raise NoPayloadError("no payload found: the image is too small to hold one")
    return _decode_stream(deinterleave(arr, seed), nsym=nsym)


def _decode_stream(stream: np.ndarray, *, nsym: int) -> bytes:
    """:func:`decode_blob` after deinterleaving: ``stream`` is the coded bit stream."""
    msg_cap, coded_len = _layout(stream.size, nsym)
    coded = bits_to_bytes(stream[: 8 * coded_len])
    k = CODEWORD_LEN - nsym if nsym else CODEWORD_LEN
    first = coded[:CODEWORD_LEN]
    try:
        head = ecc_decode(first, nsym)
    except PayloadCorruptedError:
        # Uncorrectable first codeword: a payload if its raw header still shows the magic.
        raw = whiten(first[:HEADER_LEN])
        if raw[: len(MAGIC)] == MAGIC:
            raise PayloadCorruptedError(
                "payload is corrupted beyond what error correction can repair (header block)"
            ) from None
        raise NoPayloadError(
            "no payload found (the image holds none, or it was made with another model or passphrase)"
        ) from None
    total = blob_length(head)
    if total > msg_cap:
        raise PayloadCorruptedError(
            f"payload is corrupted: header announces {total} bytes but the image holds {msg_cap}"
        )
    blocks = -(-total // k)
    rest = ecc_decode(coded[CODEWORD_LEN : blocks * CODEWORD_LEN], nsym) if blocks > 1 else b""
    return (head + rest)[:total]


def frame_payload(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    num_latents: int,
    nsym: int = DEFAULT_NSYM,
    random_bytes: RandomBytes = os.urandom,
) -> Framed:
    """The whole embedding side: file -> :class:`Framed`, whose ``bits`` ``(num_latents,)``
    uint8 go to the mapper, with what a verify-after-embed loop needs."""
    blob = pack(data, file_name=file_name, wire_id=wire_id, passphrase=passphrase, random_bytes=random_bytes)
    seed = interleave_seed(passphrase)
    return frame_bits(blob, num_latents, nsym=nsym, seed=seed, random_bytes=random_bytes)


def extract_payload(bits: np.ndarray, *, passphrase: str | None, nsym: int = DEFAULT_NSYM) -> Unpacked:
    """The whole extraction side: bits read from the latents -> :class:`Unpacked`.

    With a passphrase the interleaving is keyed, so a wrong passphrase finds no header and
    reads as :class:`NoPayloadError` ("no payload, or wrong passphrase"): that is the point of
    keying it. The public order is tried second, so a payload embedded *without* a
    passphrase is reported as such (:class:`PassphraseNotExpectedError`) instead.
    """
    seeds = [interleave_seed(passphrase)]
    if passphrase is not None:
        seeds.append(PUBLIC_INTERLEAVE_SEED)
    for seed in seeds:
        try:
            blob = decode_blob(bits, nsym=nsym, seed=seed)
        except NoPayloadError:
            continue
        return unpack(blob, passphrase=passphrase)
    if passphrase is None:
        raise NoPayloadError(
            "no payload found (if it was embedded with a passphrase, give the passphrase; "
            "otherwise the image holds none or was made with another model)"
        )
    raise NoPayloadError("no payload found, or wrong passphrase")
