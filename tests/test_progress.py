"""Progress bars: on a terminal only, and for one job only once it has run a while."""

from __future__ import annotations

import pytest

from invsteg.cli import progress


@pytest.fixture
def terminal(monkeypatch) -> None:
    monkeypatch.setattr(progress, "_showing", lambda: True)


def test_a_long_job_gets_a_bar_once_it_has_run_long_enough(terminal, monkeypatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.long_work("hiding") as bar:
        assert bar is not None
        bar(1, 4, "tiles")
        bar(3, 4, "tiles")
        task = bar.progress.tasks[0]
        assert (task.completed, task.total, task.description) == (3, 4, "hiding: tiles")


def test_an_open_ended_job_shows_its_rounds(terminal, monkeypatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 0.0)
    with progress.long_work("embedding") as bar:
        assert bar is not None
        bar(5, None, "12 carriers still to settle")
        task = bar.progress.tasks[0]
        assert (task.completed, task.total) == (5, None)
        assert task.description == "embedding: 12 carriers still to settle"


def test_a_short_job_shows_nothing(terminal, monkeypatch) -> None:
    monkeypatch.setattr(progress, "SHOW_AFTER_S", 3600.0)
    with progress.long_work("hiding") as bar:
        assert bar is not None
        bar(4, 4, "tiles")
        assert bar.progress is None


def test_no_bar_off_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False, raising=False)
    with progress.long_work("hiding") as bar:
        assert bar is None
    with progress.count_progress(10, "hide") as advance:
        advance()  # a no-op, nothing drawn
