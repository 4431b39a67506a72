"""docs/cli.md is generated from the app; it must say what the commands do today."""

from __future__ import annotations

import re
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


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP_FOLDERS = ("src", "tests", "docs", "benchmarks", "configs", "examples", "scripts", "weights")
# a repository path as the docs write it: from the root, in text or code
REPO_PATH = re.compile(rf"(?<![\w./-])((?:{'|'.join(TOP_FOLDERS)})/[\w./-]*[\w/])")
LINK = re.compile(r"\]\((?!https?:)([^)#\s]+)")  # a relative Markdown link
PACKAGES = ("api", "cli", "eval", "io", "models", "nn", "ops", "payload", "pipelines", "train", "zoo")
# invsteg.zoo.create_model, pipelines.hiding, benchmarks.fuzz
MODULE = re.compile(rf"(?<![\w./])((?:invsteg|benchmarks|{'|'.join(PACKAGES)})(?:\.[a-z_]\w*)+)")


def _names_in(path: Path) -> dict[str, Path]:
    """What ``path`` names (as written) and where that is: repository paths from the root,
    links from the document's folder."""
    text = path.read_text()
    named = {m: ROOT / m for m in REPO_PATH.findall(text) if "*" not in m and "{" not in m}
    return named | {link: path.parent / link for link in LINK.findall(text)}


FILE_SUFFIXES = ("py", "md", "json", "png", "sh", "safetensors")


def _module_exists(dotted: str) -> bool:
    """``invsteg.a.b.name``: the longest prefix that is a module, and the rest a name in it."""
    parts = dotted.split(".")
    if parts[0] in PACKAGES:
        parts = ["invsteg", *parts]
    base = ROOT / "src" if parts[0] == "invsteg" else ROOT
    for cut in range(len(parts), 0, -1):
        folder = base.joinpath(*parts[:cut])
        module = folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")
        if module.is_file():
            rest = parts[cut:]
            return not rest or re.search(rf"\b{rest[0]}\b", module.read_text()) is not None
    return False


def test_every_path_the_docs_name_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {name}"
        for doc in DOCS
        for name, target in _names_in(doc).items()
        if not target.exists()
    ]
    assert not missing, "\n".join(missing)


def test_every_module_the_docs_name_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {name}"
        for doc in DOCS
        for name in MODULE.findall(doc.read_text())
        if name.rsplit(".", 1)[-1] not in FILE_SUFFIXES and not _module_exists(name)
    ]
    assert not missing, "\n".join(missing)


def test_the_path_checks_can_fail(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("see `src/invsteg/embed.py` and [x](nowhere.md)")
    assert _names_in(doc) == {
        "src/invsteg/embed.py": ROOT / "src/invsteg/embed.py",
        "nowhere.md": tmp_path / "nowhere.md",
    }
    assert not _module_exists("invsteg.pipelines.mapper") and not _module_exists("pipelines.mapper")
    assert _module_exists("invsteg.zoo.create_model") and _module_exists("benchmarks.fuzz")
