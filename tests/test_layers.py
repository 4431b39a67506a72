"""The package's layers (docs/design.md): a module imports only from its own layer or below.

Every ``import`` / ``from ... import`` of every module under ``src/invsteg`` counts: at the top,
inside functions, and under ``if TYPE_CHECKING:``. Also: the command line and the real attacks
start without torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "invsteg"

# Low -> high. A module may import from its own layer and any layer before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("ops", "payload"),
    ("io",),
    ("nn",),
    ("models",),
    ("zoo",),
    ("pipelines",),
    ("eval",),
    ("train",),
    ("api_hiding", "api_rescaling", "api"),
    ("cli", "__main__"),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer of ``invsteg.<part>...``; the bare package (its version only) is the lowest."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    if parts[1] not in RANK:
        raise AssertionError(f"{module} is in no layer: add invsteg.{parts[1]} to LAYERS")
    return RANK[parts[1]]


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` for every invsteg module that ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            if source == "invsteg":  # `from invsteg import api` imports the module invsteg.api
                found += [(node.lineno, _submodule_or_package(alias.name)) for alias in node.names]
            else:
                found.append((node.lineno, source))
    return [(line, module) for line, module in found if module.split(".")[0] == "invsteg"]


def _submodule_or_package(name: str) -> str:
    """``invsteg.<name>`` if that is a module (``from invsteg import api``), else ``invsteg``
    (``from invsteg import __version__``)."""
    is_module = (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()
    return f"invsteg.{name}" if is_module else "invsteg"


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = layer(module_name(path))
        for line, module in imported_modules(path):
            target = layer(module)
            if target > own:
                where = path.relative_to(PACKAGE.parent)
                found.append(
                    f"{where}:{line}: {module_name(path)} (layer {own}) imports {module} (layer {target})"
                )
    return found


def test_layer_helpers_resolve_imports() -> None:
    assert layer("invsteg") == 0 and layer("invsteg.errors") == 0
    assert layer("invsteg.ops.quantize") == layer("invsteg.payload.frame") < layer("invsteg.io.files")
    assert layer("invsteg.eval.metrics") < layer("invsteg.train.objectives") < layer("invsteg.api")
    assert layer("invsteg.cli") == layer("invsteg.cli._app") == len(LAYERS) - 1
    assert module_name(PACKAGE / "eval" / "__init__.py") == "invsteg.eval"
    assert module_name(PACKAGE / "ops" / "attacks.py") == "invsteg.ops.attacks"
    assert _submodule_or_package("api") == "invsteg.api"
    assert _submodule_or_package("__version__") == "invsteg"


def test_no_module_imports_from_a_higher_layer() -> None:
    found = violations()
    for line in found:
        print(line)
    assert not found, "upward imports:\n" + "\n".join(found)


ROOT = PACKAGE.parents[1]
# The zoo's own white-box test of its closed architecture table, which has no public face.
PRIVATE_ZOO_ALLOWED = {("tests/test_weights.py", "invsteg.zoo._architectures")}


def private_zoo_imports() -> list[str]:
    """``path:line: module`` for every import of ``invsteg.zoo._*`` outside the zoo."""
    found = []
    for folder in ("src", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where.startswith("src/invsteg/zoo/"):
                continue
            for node in ast.walk(ast.parse(path.read_text(), where)):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
                found += [
                    f"{where}:{node.lineno}: {name}"
                    for name in names
                    if name.startswith("invsteg.zoo._")
                    and not any(where == w and name.startswith(m) for w, m in PRIVATE_ZOO_ALLOWED)
                ]
    return found


def test_nothing_outside_the_zoo_imports_its_private_modules() -> None:
    found = private_zoo_imports()
    assert not found, "use the face of invsteg.zoo:\n" + "\n".join(found)


def test_the_zoo_face_names_resolve() -> None:
    from invsteg import zoo

    assert all(callable(getattr(zoo, name)) or name.isupper() for name in zoo.__all__)
    with pytest.raises(AttributeError):
        zoo.load_strict  # noqa: B018 (private to the loader)


@pytest.mark.parametrize("module", ["invsteg.cli", "invsteg.zoo", "invsteg.ops.distortions"])
def test_imports_without_torch(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:5])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", f"import {module} loads torch: {result.stdout}"
