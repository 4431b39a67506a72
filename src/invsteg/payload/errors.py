"""Payload errors: one subclass of :class:`invsteg.errors.PayloadError` per thing that can go wrong.

All of them exit with code 1 through the CLI. Each carries one human sentence as its message;
callers may catch the subclass to react (e.g. prompt for a passphrase on
:class:`PassphraseRequiredError`).
"""

from __future__ import annotations

from invsteg.errors import PayloadError


class NoPayloadError(PayloadError):
    """The bits hold no invsteg payload (bad magic): wrong image, wrong model or wrong passphrase."""


class UnsupportedVersionError(PayloadError):
    """The payload was written by a newer (or unknown) container format version."""


class PassphraseRequiredError(PayloadError):
    """The payload is encrypted and no passphrase was given."""


class PassphraseNotExpectedError(PayloadError):
    """A passphrase was given but the payload is not encrypted."""


class WrongPassphraseError(PayloadError):
    """The passphrase does not derive the key the payload was encrypted with."""


class PayloadCorruptedError(PayloadError):
    """The payload is damaged: integrity check failed, or error correction could not repair it."""


class PayloadTamperedError(PayloadCorruptedError):
    """The passphrase is right but the AES-GCM tag does not verify: the ciphertext was altered."""


class PayloadTooLargeError(PayloadError):
    """The payload does not fit in the available latents (or exceeds the format's size limit)."""


class EmbeddingFailedError(PayloadError):
    """The verify-after-embed loop could not make the stego carry the payload recoverably."""
