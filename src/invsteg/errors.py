"""Typed errors. The CLI maps each class to one exit code; nothing else does."""

from __future__ import annotations


class InvstegError(Exception):
    """Base class of every error invsteg raises on purpose.

    ``exit_code`` follows the CLI contract: 1 payload problem, 2 usage or bad input;
    ``kind`` names the class of error in the command line's JSON error objects.
    """

    exit_code = 2
    kind = "error"


class UsageError(InvstegError):
    """The command line asks for something inconsistent (e.g. output equals input)."""

    kind = "usage"


class InputFileError(InvstegError):
    """An input file is missing, unreadable, not an image, truncated or too small."""

    kind = "input_file"


class OutputFileError(InvstegError):
    """An output cannot be written (exists, missing directory, no permission)."""

    kind = "output_file"


class ModelError(InvstegError):
    """Unknown model name, or a model that cannot do what was asked."""

    kind = "model"


class WeightsError(InvstegError):
    """A weights file is missing, corrupt (sha256 mismatch) or does not fit its model."""

    kind = "weights"


class PayloadError(InvstegError):
    """No payload found, wrong passphrase, corrupted payload, or payload does not fit."""

    exit_code = 1
    kind = "payload"
