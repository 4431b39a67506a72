"""Payload layer for embed-file, pure bytes and bits: container, error correction, interleaving.

Pipeline (embedding; extraction runs it backwards)::

    file bytes -(pack)-> whitened container -(pad, Reed-Solomon, interleave)-> bits

The bits become latent signs in :mod:`invsteg.pipelines.mapper`. Nothing here imports torch.
"""

from __future__ import annotations

from invsteg.payload.container import (
    FORMAT_VERSION,
    MAGIC,
    Unpacked,
    blob_length,
    overhead_bytes,
    pack,
    safe_file_name,
    unpack,
)
from invsteg.payload.ecc import (
    bits_to_bytes,
    bytes_to_bits,
    deinterleave,
    ecc_decode,
    ecc_encode,
    interleave,
    interleave_seed,
)
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
from invsteg.payload.frame import (
    DEFAULT_NSYM,
    capacity_bytes,
    decode_blob,
    extract_payload,
    message_capacity,
)

__all__ = [
    "DEFAULT_NSYM",
    "FORMAT_VERSION",
    "MAGIC",
    "NoPayloadError",
    "PassphraseNotExpectedError",
    "PassphraseRequiredError",
    "PayloadCorruptedError",
    "PayloadTamperedError",
    "PayloadTooLargeError",
    "Unpacked",
    "UnsupportedVersionError",
    "WrongPassphraseError",
    "bits_to_bytes",
    "blob_length",
    "bytes_to_bits",
    "capacity_bytes",
    "decode_blob",
    "deinterleave",
    "ecc_decode",
    "ecc_encode",
    "extract_payload",
    "interleave",
    "interleave_seed",
    "message_capacity",
    "overhead_bytes",
    "pack",
    "safe_file_name",
    "unpack",
]
