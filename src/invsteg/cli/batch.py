"""Directory mode: one model load and one torch import for every image of a folder.

A failure on one image is reported (one ``error:`` line naming it) and the rest go on;
the command then exits 1 after a summary. ``--json`` prints one record per image. A signal
is never an image's failure: Ctrl-C or SIGTERM stops the run (exit 130 or 143).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from invsteg.cli._app import emit_json, error, printable, remove_when_left_empty, say
from invsteg.cli._main import Interrupted
from invsteg.cli.flags import as_flags
from invsteg.cli.progress import count_progress
from invsteg.errors import InvstegError, OutputFileError, UsageError

Job = tuple[str, Callable[[], dict[str, Any]]]  # (input name, work returning its JSON record)


def is_folder(source: str) -> bool:
    """``source`` names an existing folder ('' and '-' never do; a name the file system
    refuses is left to the single-image path to report)."""
    if source in ("", "-"):
        return False
    try:
        return Path(source).is_dir()
    except OSError:
        return False


def output_folder(output: str | None, command: str) -> Path:
    """``-o`` of a directory-mode command: a folder, made if missing (its parent must exist).

    A folder made here and still empty when the command ends (every image failed, or the
    run stopped before its first output) is removed again.
    """
    if output is None or output == "-":
        raise UsageError(f"{command} of a folder needs -o OUT_FOLDER for its outputs")
    folder = Path(output)
    is_a_file = UsageError(f"-o {output}: a folder of inputs needs an output folder, and this is a file")
    if folder.exists() and not folder.is_dir():
        raise is_a_file
    if not folder.parent.is_dir():
        raise UsageError(f"-o {output}: its parent folder does not exist")
    try:
        folder.mkdir()
    except FileExistsError:
        if not folder.is_dir():  # a file appeared meanwhile
            raise is_a_file from None
    except OSError as exc:  # a read-only file system, no permission, ...
        raise OutputFileError(f"cannot make the output folder {output}: {exc.strerror or exc}") from None
    else:
        remove_when_left_empty(folder)
    return folder


def check_planned_outputs(planned: Sequence[tuple[str, str]], inputs: Sequence[str]) -> None:
    """Before any work, the (input, output) pairs of a folder run whose output names are known:
    two inputs that would write one file, or an output that is an input of the run, are one
    usage error, so that ``--force`` never loses a result or an input."""
    from invsteg.io import files

    by_output: dict[str, str] = {}
    for source, destination in sorted(planned):
        earlier = by_output.setdefault(os.path.abspath(destination), source)
        if earlier != source:
            raise UsageError(f"{earlier} and {source} would both write {destination}; rename one of them")
        files.check_not_input(destination, inputs)


class RunOutputs:
    """The outputs of a folder run whose names are known only as each image is done (the
    names stored in stegos): none is an input of the run, none is written twice."""

    def __init__(self, inputs: Sequence[str]) -> None:
        self.inputs = tuple(inputs)
        self._written: dict[str, str] = {}  # absolute path -> the input it was written for

    def write(self, data: bytes, destination: str, source: str, *, force: bool, mode: int) -> None:
        from invsteg.io import files

        earlier = self._written.get(os.path.abspath(destination))
        if earlier is not None:
            raise OutputFileError(
                f"{destination} was extracted from {earlier} in this run; extract {source} alone with -o"
            )
        files.check_output(destination, force=force, inputs=self.inputs)
        files.write_output(data, destination, force=force, mode=mode)
        self._written[os.path.abspath(destination)] = source


def run_batch(command: str, jobs: Sequence[Job], *, as_json: bool) -> None:
    """Run every job; report failures and go on; summary; exit 1 if any failed."""
    records: list[dict[str, Any]] = []
    with count_progress(len(jobs), command) as advance:
        for name, job in jobs:
            try:
                records.append({"input": name, "ok": True, **job()})
            except Interrupted:
                raise  # the user stops the run; main reports it once
            except InvstegError as exc:
                message = as_flags(str(exc))
                error(f"error: {printable(name)}: {message}")
                records.append({"input": name, "ok": False, "error": exc.kind, "message": message})
            advance()
    failed = sum(not record["ok"] for record in records)
    if as_json:
        emit_json({"results": records, "failed": failed})
    say(
        f"{command}: {len(records) - failed} of {len(records)} image(s) done"
        + (f", {failed} failed" if failed else "")
    )
    if failed:
        raise typer.Exit(1)
