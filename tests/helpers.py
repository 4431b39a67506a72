"""What tests share: run the ``invsteg`` command line and check what it did; reference maths.

:func:`invsteg` runs the command in this process (through ``cli.main``, with byte stdio
like a shell), so a test pays no torch import and no interpreter start; :func:`invsteg_process`
runs ``python -m invsteg`` for what needs a real process (signals, the exit code of the
interpreter, pipes, a few end-to-end runs).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

# The tests never read the user's weights folder, passphrase or debug setting.
HIDDEN_ENV = ("INVSTEG_WEIGHTS_DIR", "INVSTEG_PASSPHRASE", "INVSTEG_DEBUG")
ENV = {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}


@dataclass
class Run:
    rc: int
    out: bytes
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def invsteg(cwd: Path, *args: object, stdin: bytes = b"", env: dict | None = None) -> Run:
    """``invsteg ARGS`` in ``cwd``, in this process; stdin gets ``stdin`` (a pipe, never a
    terminal); ``env`` adds to :data:`ENV` for the run."""
    from invsteg import cli

    out, err = io.BytesIO(), io.BytesIO()
    # the wrappers stay referenced here: a collected TextIOWrapper closes its buffer
    text_in = io.TextIOWrapper(io.BytesIO(stdin))
    text_out = io.TextIOWrapper(out, write_through=True)
    text_err = io.TextIOWrapper(err, write_through=True)
    with _process_state(cwd, env or {}):
        sys.stdin, sys.stdout, sys.stderr = text_in, text_out, text_err
        try:
            cli.main([str(a) for a in args])
            rc = 0
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        finally:
            text_out.flush()
            text_err.flush()
    return Run(rc, out.getvalue(), err.getvalue().decode(errors="replace"))


@contextmanager
def _process_state(cwd: Path, env: dict) -> Iterator[None]:
    """What ``cli.main`` changes in a process, restored afterwards: the working directory,
    the environment, stdio, the signal handlers, warnings' display and torch's threads."""
    saved_cwd, saved_env = os.getcwd(), dict(os.environ)
    saved_stdio = sys.stdin, sys.stdout, sys.stderr
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    showwarning, threads = warnings.showwarning, torch.get_num_threads()
    os.chdir(cwd)
    for key in HIDDEN_ENV:
        os.environ.pop(key, None)
    os.environ.update({os.fsdecode(k): os.fsdecode(v) for k, v in env.items()})  # bytes as a real process
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.stdin, sys.stdout, sys.stderr = saved_stdio
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        warnings.showwarning = showwarning
        torch.set_num_threads(threads)


def invsteg_process(
    cwd: Path, *args: object, stdin: bytes = b"", env: dict | None = None, timeout: float = 180
) -> Run:
    """``python -m invsteg ARGS`` in ``cwd``, a real process; otherwise as :func:`invsteg`."""
    proc = subprocess.run(
        [sys.executable, "-m", "invsteg", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**ENV, **(env or {})},
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


def cheap_kdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrypt and Argon2id at a token cost in this process (real processes keep the real
    one): for behaviour tests, where a real derivation costs 0.5-2 s and checks nothing the
    tests that pin the real costs do not."""
    from invsteg.payload import container, parity, sealed

    monkeypatch.setattr(container, "SCRYPT_N", 2**10)
    monkeypatch.setattr(sealed, "ARGON2_MEMORY_KIB", 64)
    monkeypatch.setattr(sealed, "ARGON2_ITERATIONS", 1)
    monkeypatch.setattr(parity, "KDF_LEVELS", tuple((64 << level, 1) for level in range(4)))


def assert_error(run: Run, rc: int, match: str | None = None) -> None:
    """Exit code ``rc``, exactly one ``error:`` line on stderr (holding ``match``), no traceback."""
    assert run.rc == rc, run.err
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error:"), run.err
    assert "Traceback" not in run.err
    if match is not None:
        assert match in run.err_lines[0], run.err


def assert_one_error(run: Run, match: str | None = None) -> None:
    """A usage or input error: exit 2 and one ``error:`` line."""
    assert_error(run, 2, match)


def save_noise(path: Path, width: int = 48, height: int = 40, seed: int = 0) -> Path:
    """A random RGB image, saved by extension (PNG unless told otherwise)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def photo_like(height: int = 360, width: int = 400, seed: int = 0) -> np.ndarray:
    """A photo-like cover: smooth colour gradients, soft blobs and fine texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([120 + 80 * x, 90 + 60 * y, 140 - 50 * x * y], axis=-1)
    for _ in range(12):
        cy, cx, r = rng.random(3)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (0.01 + 0.02 * r))
        base += blob[..., None] * rng.normal(0, 40, 3)
    base += rng.normal(0, 6, base.shape)
    return np.clip(np.rint(base), 0, 255).astype(np.uint8)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def official_irn_haar(x: torch.Tensor) -> torch.Tensor:
    """The official IRN code's HaarDownsampling.forward, restated from its description:
    four 2x2 filters of +1/-1, stride 2, divided by 4, bands outermost."""
    w = torch.ones(4, 1, 2, 2, dtype=x.dtype)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1
    w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1
    b, c, h, width = x.shape
    out = F.conv2d(x, torch.cat([w] * c), stride=2, groups=c) / 4.0
    return out.reshape(b, c, 4, h // 2, width // 2).transpose(1, 2).reshape(b, 4 * c, h // 2, width // 2)
