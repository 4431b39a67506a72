"""Payload layer for embed-file: container, error correction, interleaving, sign mapper.

Pipeline (embedding; extraction runs it backwards)::

    file bytes --pack--> whitened container --pad, Reed-Solomon, interleave--> bits
         --bits_to_latents--> Gaussian latents z (sign = bit) --> colourisation INN

Everything except the mapper is pure Python/numpy; the mapper names (``bits_to_latents``,
``latents_to_bits``, ``strengthen``, ``resample``) are imported lazily so that importing this
package does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    embed_payload,
    encode_bits,
    extract_payload,
    message_capacity,
)

if TYPE_CHECKING:
    from invsteg.payload.mapper import bits_to_latents, latents_to_bits, resample, strengthen

_LAZY_MAPPER = ("bits_to_latents", "latents_to_bits", "resample", "strengthen")

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
    "bits_to_latents",
    "blob_length",
    "bytes_to_bits",
    "capacity_bytes",
    "decode_blob",
    "deinterleave",
    "ecc_decode",
    "ecc_encode",
    "embed_payload",
    "encode_bits",
    "extract_payload",
    "interleave",
    "interleave_seed",
    "latents_to_bits",
    "message_capacity",
    "overhead_bytes",
    "pack",
    "resample",
    "safe_file_name",
    "strengthen",
    "unpack",
]


def __getattr__(name: str) -> Any:
    # Lazy: torch costs seconds to import and only the mapper needs it.
    if name in _LAZY_MAPPER:
        from invsteg.payload import mapper

        return getattr(mapper, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
