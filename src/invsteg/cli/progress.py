"""Progress on a terminal only (not with --quiet, never in a pipe): a bar over the images of
a folder, and a bar for one long job that appears once it has run ``SHOW_AFTER_S``."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from invsteg.cli._app import stderr, verbosity

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

SHOW_AFTER_S = 2.0  # shorter work finishes before a bar would help


def _showing() -> bool:
    return sys.stderr.isatty() and verbosity() >= 0


def _bar(label: str) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=stderr(), transient=True)


@contextmanager
def count_progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A bar over ``total`` items (the images of a folder); yields "one more done"."""
    if not _showing() or total < 2:
        yield lambda: None
        return
    with _bar(label) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


class _LateBar:
    """``(done, total, note)`` updates; the bar starts only once the work has run
    ``SHOW_AFTER_S`` (``total`` None: the end is not known in advance)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int | None, note: str = "") -> None:
        if self.progress is None:
            if time.monotonic() - self.started < SHOW_AFTER_S:
                return
            self.progress = _bar(self.label)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        assert self.task is not None
        description = f"{self.label}: {note}" if note else self.label
        self.progress.update(self.task, completed=done, total=total, description=description)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def long_work(label: str) -> Iterator[Callable[[int, int | None, str], None] | None]:
    """A progress callback ``(done, total, note)`` for one job, or None off a terminal."""
    if not _showing():
        yield None
        return
    bar = _LateBar(label)
    try:
        yield bar
    finally:
        bar.close()


def tile_progress(bar: Callable[[int, int | None, str], None] | None) -> Callable[[int, int], None] | None:
    """A tiler's ``(done, tiles)`` progress on a :func:`long_work` bar (None off a terminal)."""
    return None if bar is None else lambda done, total: bar(done, total, "tiles")
