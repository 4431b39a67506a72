"""The library's parameters in the command line's words: the one map between them.

The library names what was wrong in its own terms, a parameter in backticks, with its
value if it matters (`` `device='cuda:9'` ``, `` `allow_lossy=True` ``, `` `max_pixels` ``);
where the CLI prints a message, :func:`as_flags` turns those into its flags (``--device
cuda:9``, ``--allow-lossy``, ``--max-pixels``). Backticked text that is not one of these
parameters (`` `invsteg models` ``) is left as it is.
"""

from __future__ import annotations

import re

# library parameter -> the option that sets it, on every command that has it
FLAGS = {
    "allow_lossy": "--allow-lossy",
    "blur": "--blur",
    "cost": "--cost",
    "device": "--device",
    "force": "--force",
    "jpeg": "--jpeg",
    "jpeg_quality": "--jpeg",
    "kdf_level": "--kdf-level",
    "max_pixels": "--max-pixels",
    "max_rounds": "--max-rounds",
    "model": "--model",
    "no_passphrase": "--no-passphrase",
    "noise": "--noise",
    "passphrase_file": "--passphrase-file",
    "precision": "--precision",
    "quality": "--quality",
    "refine": "--refine",
    "resize": "--resize",
    "robust": "--robust",
    "scale": "--scale",
    "secret_size": "--size",
    "seed": "--seed",
    "size": "--size",
    "temperature": "--temperature",
    "tile": "--tile",
    "weights": "--weights",
}

_PARAMETER = re.compile(r"`(?P<name>[a-z_]+)(?:=(?P<value>[^`]*))?`")
_PLAIN = re.compile(r"'[^'\s\\]+'")  # a quoted value a shell needs no quotes for


def as_flags(message: str) -> str:
    """``message`` with each backticked library parameter written as its flag."""

    def flag(match: re.Match[str]) -> str:
        name, value = match["name"], match["value"]
        if name not in FLAGS:
            return match[0]
        if value is None or value == "True":
            return FLAGS[name]
        return f"{FLAGS[name]} {value[1:-1] if _PLAIN.fullmatch(value) else value}"

    return _PARAMETER.sub(flag, message)
