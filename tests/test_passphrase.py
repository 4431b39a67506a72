"""Where a passphrase comes from: file, environment, prompt; empty and non-UTF-8 refused."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from invsteg.cli import _app
from invsteg.errors import UsageError


def _passphrase(passphrase_file: Path | None, no_passphrase: bool, *, embedding: bool) -> str | None:
    return _app.get_passphrase(passphrase_file, no_passphrase, embedding=embedding).value


def test_passphrase_sources(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("INVSTEG_PASSPHRASE", raising=False)
    (tmp_path / "p.txt").write_text("from file\nsecond line\n")
    assert _passphrase(tmp_path / "p.txt", False, embedding=True) == "from file"
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(UsageError, match="empty"):
        _passphrase(tmp_path / "empty.txt", False, embedding=True)
    monkeypatch.setenv("INVSTEG_PASSPHRASE", "from env")
    assert _passphrase(None, False, embedding=False) == "from env"
    assert _passphrase(None, True, embedding=True) is None  # --no-passphrase wins
    monkeypatch.delenv("INVSTEG_PASSPHRASE")

    # a terminal: a hidden prompt (twice when embedding); an empty answer is refused, like age
    prompts = []
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(_app.typer, "prompt", lambda text, **kw: prompts.append(kw) or "typed")
    assert _passphrase(None, False, embedding=True) == "typed"
    assert prompts[-1]["hide_input"] and prompts[-1]["confirmation_prompt"] and prompts[-1]["err"]
    monkeypatch.setattr(_app.typer, "prompt", lambda text, **kw: "")
    with pytest.raises(UsageError, match="--no-passphrase"):
        _passphrase(None, False, embedding=False)

    # no terminal: extraction tries without one, embedding needs --no-passphrase
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert _passphrase(None, False, embedding=False) is None
    with pytest.raises(UsageError, match="`no_passphrase`"):
        _passphrase(None, False, embedding=True)
