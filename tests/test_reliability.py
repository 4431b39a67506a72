"""Reliability (issue #29): signals, hostile files and folder runs keep what the README promises.

A signal is never an image's failure; numbers read from a file are bounded before they size
work; outputs are invisible until complete; a folder we made and left empty is removed.
Signals are real ones (sent to this process or to a real ``python -m invsteg``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import ENV, Run, assert_error, save_noise
from invsteg.cli._main import Interrupted, _interrupt


def listing(directory: Path) -> list[str]:
    """Every entry under ``directory``, hidden temp files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@contextlib.contextmanager
def cli_signal_handlers() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted`, as under ``cli.main``; restored after."""
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in before:
        signal.signal(signum, _interrupt)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


# -- 1: a signal stops a folder run ---------------------------------------------------------------


def test_a_signal_during_a_folder_run_stops_it_and_is_no_images_failure(capsys) -> None:
    from invsteg.cli.batch import run_batch

    ran: list[str] = []

    def job(name: str, signum: int | None = None):
        def work() -> dict:
            ran.append(name)
            if signum is not None:
                os.kill(os.getpid(), signum)
                time.sleep(5)  # the handler raises before this ends
            return {}

        return work

    jobs = [("a.png", job("a")), ("b.png", job("b", signal.SIGTERM)), ("c.png", job("c"))]
    with cli_signal_handlers(), pytest.raises(Interrupted) as caught:
        run_batch("hide", jobs, as_json=False)
    assert caught.value.exit_code == 143
    assert ran == ["a", "b"]
    assert "error:" not in capsys.readouterr().err  # main prints the one error line


def _sigterm_caught(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_during_a_folder_hide_exits_143(tmp_path: Path, tiny_weights: Path) -> None:
    covers, secrets, out = tmp_path / "covers", tmp_path / "secrets", tmp_path / "out"
    covers.mkdir()
    secrets.mkdir()
    count = 40
    for i in range(count):
        save_noise(covers / f"c{i:02}.png", 160, 160, seed=i)
        save_noise(secrets / f"s{i:02}.png", 160, 160, seed=100 + i)
    args = ["hide", "covers", "secrets", "-o", "out", "--weights", tiny_weights]
    proc = subprocess.Popen(
        [sys.executable, "-m", "invsteg", *map(str, args)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("*.stego.png"))):
            time.sleep(0.02)
        assert _sigterm_caught(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_error(Run(proc.returncode, b"", err.decode()), 143, "error: terminated")
    written = listing(out)
    assert 0 < len(written) < count and all(name.endswith(".stego.png") for name in written)
