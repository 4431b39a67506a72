"""Where a passphrase comes from: a file, ``$INVSTEG_PASSPHRASE`` or a prompt.

The prompt itself belongs to the command line (it is passed in as a function); the rules
live here: an empty passphrase is never silently "no encryption", and a passphrase that is
not UTF-8 text is refused without ever being echoed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from invsteg.errors import UsageError
from invsteg.io.files import STDIO, read_bytes

PASSPHRASE_ENV = "INVSTEG_PASSPHRASE"
FILE_LIMIT = 1 << 20  # a passphrase file is one line; anything near this is the wrong file


@dataclass(frozen=True)
class Passphrase:
    """A passphrase (``None``: none) and where it came from, for messages (never the value)."""

    value: str | None
    source: str = ""

    @property
    def from_environment(self) -> bool:
        return self.source == f"${PASSPHRASE_ENV}"


def resolve_passphrase(
    passphrase_file: Path | None,
    no_passphrase: bool,
    *,
    embedding: bool,
    prompt: Callable[[bool], str] | None,
) -> Passphrase:
    """The passphrase from the file, the environment, or ``prompt(embedding)`` (``None`` when
    there is no terminal to ask on).

    Without any of them, embedding needs an explicit ``no_passphrase`` (a script must not
    silently skip encryption); extraction just tries without one.
    """
    if no_passphrase:
        if passphrase_file is not None:
            raise UsageError("`no_passphrase` and `passphrase_file` contradict each other; give one")
        return Passphrase(None)
    if passphrase_file is not None:
        return Passphrase(read_passphrase_file(passphrase_file), f"`passphrase_file` {passphrase_file}")
    if value := os.environ.get(PASSPHRASE_ENV):
        return Passphrase(checked_passphrase(value, f"${PASSPHRASE_ENV}"), f"${PASSPHRASE_ENV}")
    if prompt is not None:
        return Passphrase(checked_passphrase(prompt(embedding), "the prompt"), "the prompt")
    if embedding:
        raise UsageError(
            f"no passphrase given: use `passphrase_file` or ${PASSPHRASE_ENV}, "
            "or `no_passphrase` to embed without encryption"
        )
    return Passphrase(None)


def read_passphrase_file(path: Path) -> str:
    """The first line of ``path``, UTF-8."""
    # "./-": a file named "-", as before; stdin may be an image or the payload.
    source = f"./{path}" if str(path) == STDIO else str(path)
    data = read_bytes(source, "passphrase", allow_empty=True, limit=FILE_LIMIT)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:  # the codec's message would quote bytes of the passphrase
        raise UsageError(f"passphrase file {path} is not UTF-8 text; save it as UTF-8") from None
    if not lines or not lines[0]:
        raise UsageError(f"passphrase file {path} is empty (the passphrase is its first line)")
    return lines[0]


def checked_passphrase(passphrase: str, where: str) -> str:
    """``passphrase`` if it is non-empty UTF-8 text (undecodable bytes arrive as surrogates).

    The payload layer derives its key from the UTF-8 passphrase, so such bytes have no key;
    guessing an encoding would make the same bytes open nothing elsewhere.
    """
    if not passphrase:
        raise UsageError(f"empty passphrase from {where}; to go without one, pass `no_passphrase`")
    try:
        passphrase.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(
            f"the passphrase in {where} is not valid UTF-8; use UTF-8 text (or `passphrase_file`)"
        ) from None
    return passphrase
