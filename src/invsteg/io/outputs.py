"""Which file formats each kind of output may be written in: the one home of the "no
lossy output" rule.

A lossy format (JPEG, WebP) moves every 8-bit sample a little, and a plain stego's secret,
an embedded file or the detail a small image keeps for its upscale lives in exactly those
samples. Some outputs survive it (a robust stego is verified as written) and some are only
pictures (a revealed secret). A command names the kind of output it writes; this table
decides which formats it may have, and what to say when one is refused or risky.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from invsteg.errors import UsageError
from invsteg.io.files import STDIO
from invsteg.io.images import LOSSLESS_FORMATS, LOSSY_FORMATS

LOSSLESS = tuple(dict.fromkeys(LOSSLESS_FORMATS.values()))  # PNG, BMP, TIFF


@dataclass(frozen=True)
class OutputKind:
    """What an output holds, and so which lossy formats it may be written in."""

    refusal: str  # why a refused lossy format is refused, and what to do instead
    kept_lossy: frozenset[str] = frozenset()  # lossy formats that keep what it holds
    allow_lossy: bool = False  # whether ``allow_lossy=True`` lets the other lossy formats through
    warning: str = ""  # said when it does: what the output loses


STEGO = OutputKind(
    "is lossy and would destroy the hidden data; write PNG, or pass `allow_lossy=True` to write it anyway",
    allow_lossy=True,
    warning="the secret will not survive",
)
ROBUST_STEGO = OutputKind("", kept_lossy=frozenset(LOSSY_FORMATS.values()))
SECRET = OutputKind("", kept_lossy=frozenset(LOSSY_FORMATS.values()))
SMALL_IMAGE = OutputKind(
    "is lossy and would destroy the hidden data; write PNG, or pass `allow_lossy=True` to write it anyway",
    allow_lossy=True,
)
RESTORED_IMAGE = SMALL_IMAGE
ATTACKED = OutputKind(
    "would add a compression nobody asked for; write PNG, or give `jpeg` (a quality) to write that JPEG"
)
ATTACKED_AS_JPEG = OutputKind(ATTACKED.refusal, kept_lossy=frozenset({"JPEG"}))
FILE_STEGO = OutputKind(
    "is lossy and would destroy the hidden file; write PNG, or pass `robust=True` to write a JPEG "
    "that keeps it"
)
ROBUST_FILE_STEGO = OutputKind(
    "is lossy and would destroy the hidden file; write PNG, BMP, TIFF or JPEG", kept_lossy=frozenset({"JPEG"})
)


@dataclass(frozen=True)
class OutputFormat:
    """The Pillow format an output is written in, and a warning to give (or "")."""

    name: str
    warning: str = ""

    @property
    def lossy(self) -> bool:
        return self.name not in LOSSLESS


def output_format(destination: str, kind: OutputKind, *, allow_lossy: bool = False) -> OutputFormat:
    """The format for ``destination``'s extension (PNG for stdout, ``-``), if ``kind`` may
    be written in it.

    Raises:
        UsageError: an unknown extension, or a lossy format that would lose what ``kind``
            holds (the message says why and what to write instead).
    """
    if destination == STDIO:
        return OutputFormat("PNG")
    suffix = Path(destination).suffix.lower()
    if suffix in LOSSLESS_FORMATS:
        return OutputFormat(LOSSLESS_FORMATS[suffix])
    if suffix not in LOSSY_FORMATS:
        supported = ", ".join(sorted(LOSSLESS_FORMATS))
        raise UsageError(f"{destination}: unknown image extension; use one of {supported}")
    name = LOSSY_FORMATS[suffix]
    if name in kind.kept_lossy:
        return OutputFormat(name)
    if kind.allow_lossy and allow_lossy:
        return OutputFormat(name, f"{name} is lossy; {kind.warning} in {destination}" if kind.warning else "")
    raise UsageError(f"{destination}: {name} {kind.refusal}")
