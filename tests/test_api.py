"""The library surface: README's example runs as written, and results are typed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from invsteg import api
from invsteg.errors import ModelError, UsageError

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs(monkeypatch: pytest.MonkeyPatch, single_thread) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Library use") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})


def test_hide_reports_the_stego_as_written(single_thread) -> None:
    cover = api.read_image(str(ROOT / "examples/cover.png")).pixels[:64, :64]
    secret = api.read_image(str(ROOT / "examples/secret.png")).pixels[:64, :64]
    png = api.hide(cover, [secret])
    assert png.format == "PNG" and np.array_equal(api.decode_image(png.data).pixels, png.pixels)
    assert png.psnr_db > 30 and not png.fitted and png.secret_size == (64, 64)
    with pytest.raises(UsageError, match=r"only a robust model \(`robust=True`\) hides several"):
        api.hide(cover, [secret, secret])


def test_models_of_another_task_are_refused() -> None:
    with pytest.raises(ModelError, match="does not embed files"):
        api.embedding_spec("hinet-small")
    with pytest.raises(ModelError, match="is a 'embed' model"):
        api.load_hiding_model("stegcinn-detail")


def test_capacity_lists_the_default_first() -> None:
    rows = api.capacity(np.zeros((32, 48, 3), np.uint8))
    assert rows[0][0] == "stegcinn-detail" and {name for name, _ in rows} >= {"stegcinn-fast"}
    assert all(info.net_bytes >= 0 and info.width == 48 for _, info in rows)


def test_readme_demo_script_runs() -> None:
    """README's first set-up command ends in examples/demo.sh: it must keep working."""
    import os
    import subprocess
    import sys

    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(ROOT / "examples/demo.sh")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "revealed vs secret: PSNR" in run.stdout
