"""Bytes in and out: ``-`` for stdin/stdout, clear errors, atomic no-clobber writes."""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from invsteg.errors import InputFileError, OutputFileError, UsageError

STDIO = "-"
MiB = 1 << 20
# A file system that cannot say its name limit (pathconf fails) is assumed to be the common one.
DEFAULT_NAME_MAX = 255


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


def image_files(folder: str | Path, role: str = "folder") -> list[Path]:
    """The image files directly in ``folder`` (by extension, hidden files skipped), sorted
    by name; :class:`InputFileError` when there are none."""
    path = Path(folder)
    try:
        found = sorted(
            p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
    except OSError as exc:
        raise InputFileError(f"cannot list {role} {folder}: {exc.strerror or exc}") from None
    found = [p for p in found if p.is_file()]
    if not found:
        raise InputFileError(f"no images in {role} {folder}")
    return found


def image_byte_limit(max_pixels: int) -> int:
    """The most bytes an image file of at most ``max_pixels`` pixels is allowed to have.

    4 bytes per pixel holds an uncompressed 8-bit RGBA (or 16-bit grey+alpha) image, so no
    image within the pixel limit is refused for its size, while ``/dev/zero`` or a runaway
    pipe stops after a bounded read; 64 MiB at least, for metadata-heavy small images.
    """
    return max(64 * MiB, 4 * max_pixels)


def read_bytes(
    source: str, role: str, *, allow_empty: bool = False, limit: int | None = None, hint: str = ""
) -> bytes:
    """The raw bytes of ``source`` (``-`` reads stdin), with clear errors.

    Empty input is an error unless ``allow_empty`` (a payload file may be empty; an image not).
    More than ``limit`` bytes is an error, found after reading at most ``limit + 1`` bytes
    (so ``/dev/zero`` or an endless pipe ends); ``hint`` ends that message (what to do).
    """
    if not source:
        raise InputFileError(f"{role}: empty file name")
    if source == STDIO:
        data = _read_capped(sys.stdin.buffer, limit, f"{role} from stdin", hint)
        if not data and not allow_empty:
            raise InputFileError(f"{role} from stdin is empty")
        return data
    try:
        with open(source, "rb") as f:
            if limit is not None and os.fstat(f.fileno()).st_size > limit:
                raise _too_large(f"{role} {source}", limit, hint)
            data = _read_capped(f, limit, f"{role} {source}", hint)
    except FileNotFoundError:
        raise InputFileError(f"{role} file not found: {source}") from None
    except IsADirectoryError:
        raise InputFileError(f"{role} is a directory, not a file: {source}") from None
    except OSError as exc:
        raise InputFileError(f"cannot read {role} {source}: {exc.strerror or exc}") from None
    if not data and not allow_empty:
        raise InputFileError(f"{role} file is empty (0 bytes): {source}")
    return data


def _read_capped(stream: BinaryIO, limit: int | None, what: str, hint: str) -> bytes:
    # One byte past the limit tells "exactly at the limit" from "more", without reading the rest.
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise _too_large(what, limit, hint)
    return data


def _too_large(what: str, limit: int, hint: str) -> InputFileError:
    return InputFileError(
        f"{what} is larger than {limit:,} bytes; {hint or 'that is the most invsteg reads'}"
    )


def name_max(directory: Path) -> int:
    """The longest file name, in bytes, that ``directory``'s file system allows."""
    if not hasattr(os, "pathconf"):  # Windows: NTFS and FAT32 allow 255 characters
        return DEFAULT_NAME_MAX
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (OSError, ValueError):  # the directory is missing, or the limit is unknown
        return DEFAULT_NAME_MAX


def fit_name(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes on a character boundary, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    dot = name.rfind(".")
    ext = name[dot:] if dot > 0 and len(name) - dot <= 16 else ""
    budget = max(limit - len(ext.encode("utf-8")), 1)
    stem = name[: len(name) - len(ext)].encode("utf-8")[:budget]
    return stem.decode("utf-8", "ignore") + ext


def check_output(destination: str, *, force: bool, inputs: tuple[str, ...] = ()) -> None:
    """Fail early, before any work, if ``destination`` cannot or must not be written.

    ``inputs`` are every file the command reads (images, payload, weights, passphrase file),
    so that ``force`` never overwrites one of them.
    """
    if destination == STDIO:
        return
    if not destination:
        raise UsageError("output: empty file name")
    path = Path(destination)
    try:
        _check_name_length(path)
        _check_target(path, destination, force=force, inputs=inputs)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            size = len(os.fsencode(destination))
            raise OutputFileError(
                f"output path too long ({size} bytes); choose a shorter one with -o"
            ) from None
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None


def _check_name_length(path: Path) -> None:
    """Before any ``stat``, which fails with a bare ENAMETOOLONG on such names."""
    parent = path.parent
    limit = name_max(parent) if parent.is_dir() else DEFAULT_NAME_MAX
    size = len(os.fsencode(path.name))
    if size > limit:
        raise OutputFileError(
            f"output name too long ({size} bytes; the file system allows {limit}); "
            "choose a shorter one with -o"
        )


def _check_target(path: Path, destination: str, *, force: bool, inputs: tuple[str, ...]) -> None:
    for source in inputs:
        if source and source != STDIO and _same_file(Path(source), path):
            raise UsageError(f"output {destination} is also an input; choose another output path")
    parent = path.parent
    if not parent.is_dir():
        raise OutputFileError(f"output directory does not exist: {parent}")
    if path.is_dir():
        raise OutputFileError(f"output is a directory: {destination}")
    if path.exists() and not force:
        raise OutputFileError(f"output exists: {destination} (pass `force=True` to overwrite)")
    if not os.access(parent, os.W_OK):
        raise OutputFileError(f"output directory is not writable: {parent}")


def _same_file(a: Path, b: Path) -> bool:
    """Same path, or the same file reached through a link."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):  # a symlink loop, or a name too long to stat: not a file we'd clobber
        return False


def write_output(data: bytes, destination: str, *, force: bool, mode: int = 0o644) -> None:
    """Write ``data`` atomically: a temp file in the same directory, then a rename.

    Without ``force`` the final step is ``os.link``, which fails if the name exists,
    so a file that appeared meanwhile is never overwritten. Stdout gets the bytes as is.
    The file gets ``mode`` less the umask (0o600 keeps an extracted file private).
    """
    if destination == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(destination)
    try:
        # The temp name does not grow with the output's, so any name the file system takes works.
        fd, tmp = tempfile.mkstemp(prefix=".invsteg-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path, destination)
        _fsync_directory(path.parent)
    except OSError as exc:
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None
    finally:  # also on Ctrl-C or any other exception: never leave a temp file behind
        if os.path.exists(tmp):
            os.unlink(tmp)


def _link_no_clobber(tmp: str, path: Path, destination: str) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputFileError(f"output exists: {destination} (pass `force=True` to overwrite)") from None
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise OutputFileError(f"output exists: {destination} (pass `force=True` to overwrite)") from None
        os.replace(tmp, path)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; best effort (not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
