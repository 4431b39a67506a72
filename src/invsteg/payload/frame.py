"""From a file to exactly ``num_latents`` bits and back: container + Reed-Solomon + interleaving.

Embedding fills *every* latent, so the extractor needs no length up front and the picture
carries no boundary where the payload stops:

1. ``blob = pack(...)`` (whitened container, see :mod:`invsteg.payload.container`);
2. pad ``blob`` with random bytes to the message capacity of the stream (``message_capacity``);
3. Reed-Solomon encode (255-byte codewords, last one shortened) -> ``coded_len`` bytes;
4. bits, then random bits for the ``num_latents - 8 * coded_len`` leftover latents;
5. keyed interleave over all ``num_latents`` positions.

Extraction inverts 5, decodes the *first* codeword to read the header's body length, then
decodes only the codewords that length needs: damage in the padding never matters.
"""

from __future__ import annotations

import os

import numpy as np

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
    interleave,
    interleave_seed,
)
from invsteg.payload.errors import NoPayloadError, PayloadCorruptedError, PayloadTooLargeError

# Parity bytes per 255-byte codeword: corrects 16 wrong bytes in each. Sized for a stream
# that the verify-after-embed loop has already made (nearly) exact; raise it for lossy use.
DEFAULT_NSYM = 32


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


def encode_bits(
    blob: bytes,
    num_latents: int,
    *,
    nsym: int,
    seed: bytes,
    random_bytes: RandomBytes = os.urandom,
) -> np.ndarray:
    """Pad, ECC-encode and interleave a container into exactly ``num_latents`` bits (uint8)."""
    msg_cap, coded_len = _layout(num_latents, nsym)
    if len(blob) > msg_cap:
        raise PayloadTooLargeError(
            f"the payload needs {len(blob)} bytes after packing but the image holds {msg_cap} "
            f"(with nsym={nsym}); use a larger cover, a smaller file or less error correction"
        )
    coded = ecc_encode(bytes(blob) + random_bytes(msg_cap - len(blob)), nsym)
    assert len(coded) == coded_len
    spare = num_latents - 8 * coded_len
    filler = bytes_to_bits(random_bytes(-(-spare // 8)))[:spare]  # uniform, like the rest
    bits = np.concatenate([bytes_to_bits(coded), filler]).astype(np.uint8)
    return interleave(bits, seed)


def decode_blob(bits: np.ndarray, *, nsym: int, seed: bytes) -> bytes:
    """Deinterleave and ECC-decode as much of ``bits`` as the header says; return the blob.

    Raises:
        NoPayloadError: no header under this seed (wrong passphrase, model, or no payload).
        PayloadCorruptedError: a header is there but the payload cannot be repaired.
        UnsupportedVersionError: from the header.
    """
    arr = np.asarray(bits).reshape(-1)
    msg_cap, coded_len = _layout(arr.size, nsym)
    if msg_cap < HEADER_LEN:
        raise NoPayloadError("no payload found: the image is too small to hold one")
    coded = bits_to_bytes(deinterleave(arr, seed)[: 8 * coded_len])
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


def embed_payload(
    data: bytes,
    *,
    file_name: str,
    wire_id: int,
    passphrase: str | None,
    num_latents: int,
    nsym: int = DEFAULT_NSYM,
    random_bytes: RandomBytes = os.urandom,
) -> np.ndarray:
    """The whole embedding side: file -> ``(num_latents,)`` uint8 bits, ready for the mapper."""
    blob = pack(data, file_name=file_name, wire_id=wire_id, passphrase=passphrase, random_bytes=random_bytes)
    return encode_bits(
        blob, num_latents, nsym=nsym, seed=interleave_seed(passphrase), random_bytes=random_bytes
    )


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
