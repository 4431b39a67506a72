"""Bytes in and out: ``-`` for stdin/stdout, clear errors, atomic no-clobber writes."""

from __future__ import annotations

import errno
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from invsteg.errors import InputFileError, OutputFileError, UsageError

STDIO = "-"
MiB = 1 << 20
# A file system that cannot say its name limit (pathconf fails) is assumed to be the common one.
DEFAULT_NAME_MAX = 255
# Linux: a temp file without a name (see write_output); 0 where the platform has none.
_O_TMPFILE = getattr(os, "O_TMPFILE", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_PROC_FD = Path("/proc/self/fd")
_LINKS_UNNAMED: dict[int, bool] = {}  # st_dev -> whether O_TMPFILE + linkat works there


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


def check_not_input(destination: str, inputs: Sequence[str]) -> None:
    """:class:`UsageError` if ``destination`` is one of ``inputs`` (or a link to one)."""
    for source in inputs:
        if source and source != STDIO and _same_file(Path(source), Path(destination)):
            raise UsageError(f"output {destination} is also an input; choose another output path")


def _check_target(path: Path, destination: str, *, force: bool, inputs: tuple[str, ...]) -> None:
    check_not_input(destination, inputs)
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
    """Write ``data`` atomically: a temp file in the same directory, then a link or rename.

    Where the file system allows it the temp file has no name until it is complete
    (``O_TMPFILE``, then ``linkat`` through ``/proc/self/fd``), so not even SIGKILL leaves
    one behind; elsewhere it is a named ``.invsteg-*.tmp``, removed on any exception
    (Ctrl-C and SIGTERM included). Without ``force`` the final step is a link, which fails
    if the name exists, so a file that appeared meanwhile is never overwritten. Stdout gets
    the bytes as is. The file gets ``mode`` less the umask (0o600 keeps an extracted file private).
    """
    if destination == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(destination)
    try:
        if _links_unnamed_files(path.parent):
            _write_unnamed(data, path, destination, force=force, mode=mode)
        else:
            _write_named(data, path, destination, force=force, mode=mode)
        _fsync_directory(path.parent)
    except OSError as exc:
        raise OutputFileError(f"cannot write {destination}: {exc.strerror or exc}") from None


def _links_unnamed_files(directory: Path) -> bool:
    """Whether a file made in ``directory`` without a name (``O_TMPFILE``) can be named
    later (``linkat`` through ``/proc/self/fd``; some sandboxes refuse it with EXDEV).
    Asked once per file system, with an empty file."""
    if not _O_TMPFILE or not _PROC_FD.is_dir():
        return False
    try:
        device = os.stat(directory).st_dev
    except OSError:
        return False  # the named path says what is wrong
    if device not in _LINKS_UNNAMED:
        _LINKS_UNNAMED[device] = _try_linking_unnamed(directory)
    return _LINKS_UNNAMED[device]


def _try_linking_unnamed(directory: Path) -> bool:
    name: str | None = _temp_name(directory)
    try:
        fd = os.open(directory, _O_TMPFILE | os.O_WRONLY, 0o600)
    except OSError:  # EOPNOTSUPP, EISDIR, ...: this file system has no unnamed files
        return False
    try:
        os.link(f"{_PROC_FD}/{fd}", name)
    except FileExistsError:  # a 64-bit clash with another writer's name: not ours to remove
        name = None
        return False
    except OSError:
        return False
    finally:
        os.close(fd)
        if name is not None and os.path.lexists(name):
            os.unlink(name)
    return True


def _write_unnamed(data: bytes, path: Path, destination: str, *, force: bool, mode: int) -> None:
    fd = os.open(path.parent, _O_TMPFILE | os.O_WRONLY, 0o600)
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
            f.flush()
            os.fsync(fd)
        os.fchmod(fd, mode & ~_umask())
        source = f"{_PROC_FD}/{fd}"
        try:
            os.link(source, path)  # linkat(AT_SYMLINK_FOLLOW): fails if the name exists
        except FileExistsError:
            if not force:
                message = f"output exists: {destination} (pass `force=True` to overwrite)"
                raise OutputFileError(message) from None
            _replace_by_link(source, path)
    finally:  # an unnamed file vanishes with its last descriptor
        os.close(fd)


def _replace_by_link(source: str, path: Path) -> None:
    """``force`` over an existing file: a name beside it, then a rename over it (a link
    cannot replace a name); only SIGKILL between the two leaves that name behind."""
    tmp: str | None = _temp_name(path.parent)
    try:
        os.link(source, tmp)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def _write_named(data: bytes, path: Path, destination: str, *, force: bool, mode: int) -> None:
    # The name is chosen, and the clean-up below armed, before the file exists: a signal
    # that lands as it is created still has it removed.
    tmp: str | None = _temp_name(path.parent)
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o600)
        except FileExistsError:  # a 64-bit clash with another writer's: not ours to remove
            tmp = None
            raise
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        if force:
            os.replace(tmp, path)
        else:
            _link_no_clobber(tmp, path, destination)
    finally:  # also on Ctrl-C or any other exception: never leave a temp file behind
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)


def _temp_name(directory: Path) -> str:
    # The temp name does not grow with the output's, so any name the file system takes works.
    return str(directory / f".invsteg-{secrets.token_hex(8)}.tmp")


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
