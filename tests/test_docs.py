"""docs/cli.md is generated from the app; it must say what the commands do today."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["invsteg.cli", "utils", "docs", "--name", "invsteg", "--title", "invsteg command line"]
REGENERATE = shlex.join(["python", "-m", "typer", *ARGS, "--output", "docs/cli.md"])


def test_cli_reference_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    command = [sys.executable, "-m", "typer", *ARGS, "--output", str(fresh)]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    assert fresh.read_text() == (ROOT / "docs" / "cli.md").read_text(), f"docs/cli.md is stale: {REGENERATE}"
