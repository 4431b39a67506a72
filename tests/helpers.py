"""What tests share: run ``python -m invsteg`` and check what it did; reference maths."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# The tests never read the user's weights folder, passphrase or debug setting.
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("INVSTEG_WEIGHTS_DIR", "INVSTEG_PASSPHRASE", "INVSTEG_DEBUG")
}


@dataclass
class Run:
    rc: int
    out: bytes
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def invsteg(cwd: Path, *args: object, stdin: bytes = b"", env: dict | None = None) -> Run:
    """``python -m invsteg ARGS`` in ``cwd``; stdin gets ``stdin``; ``env`` adds to ENV."""
    proc = subprocess.run(
        [sys.executable, "-m", "invsteg", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**ENV, **(env or {})},
        timeout=180,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


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
