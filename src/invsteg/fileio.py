"""Bytes in and out: ``-`` for stdin/stdout, clear errors, atomic no-clobber writes."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from invsteg.errors import InputFileError, OutputFileError, UsageError

STDIO = "-"


def read_bytes(source: str, role: str, *, allow_empty: bool = False) -> bytes:
    """The raw bytes of ``source`` (``-`` reads stdin), with clear errors.

    Empty input is an error unless ``allow_empty`` (a payload file may be empty; an image not).
    """
    if source == STDIO:
        data = sys.stdin.buffer.read()
        if not data and not allow_empty:
            raise InputFileError(f"{role} from stdin is empty")
        return data
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(f"{role} file not found: {source}") from None
    except IsADirectoryError:
        raise InputFileError(f"{role} is a directory, not a file: {source}") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {role} {source}: {exc.strerror or exc}") from None
    if not data and not allow_empty:
        raise InputFileError(f"{role} file is empty (0 bytes): {source}")
    return data


def check_output(destination: str, *, force: bool, inputs: tuple[str, ...] = ()) -> None:
    """Fail early, before any work, if ``destination`` cannot or must not be written."""
    if destination == STDIO:
        return
    path = Path(destination)
    for source in inputs:
        if source != STDIO and _same_file(Path(source), path):
            raise UsageError(f"output {destination} is also an input; choose another output path")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OutputFileError(f"output directory does not exist: {parent}")
    if path.is_dir():
        raise OutputFileError(f"output is a directory: {destination}")
    if path.exists() and not force:
        raise OutputFileError(f"output exists: {destination} (pass --force to overwrite)")
    if not os.access(parent, os.W_OK):
        raise OutputFileError(f"output directory is not writable: {parent}")


def _same_file(a: Path, b: Path) -> bool:
    """Same path, or the same file reached through a link."""
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def write_output(data: bytes, destination: str, *, force: bool) -> None:
    """Write ``data`` atomically: a temp file in the same directory, then a rename.

    Without ``force`` the final step is ``os.link``, which fails if the name exists,
    so a file that appeared meanwhile is never overwritten. Stdout gets the bytes as is.
    """
    if destination == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(destination)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as exc:
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path, destination)
    except OSError as exc:
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _link_no_clobber(tmp: str, path: Path, destination: str) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputFileError(f"output exists: {destination} (pass --force to overwrite)") from None
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise OutputFileError(f"output exists: {destination} (pass --force to overwrite)") from None
        os.replace(tmp, path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
