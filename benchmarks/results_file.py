"""Each benchmark owns one marked section of ``benchmarks/results.md`` and rewrites only it."""

from __future__ import annotations

from pathlib import Path


def write_section(start_marker: str, end_marker: str, path: Path, section: str) -> None:
    """Replace the section between the markers (``section`` includes them); keep the rest."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start, end = text.find(start_marker), text.find(end_marker)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(end_marker) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def command_line(script: str) -> str:
    """How this benchmark was run, as README and results.md quote it."""
    import shlex
    import sys

    return shlex.join(["python", f"benchmarks/{Path(script).name}", *sys.argv[1:]])


def publish(start_marker: str, end_marker: str, path: Path, lines: list[str], *, write: bool = True) -> None:
    """Print ``lines`` (markers included) and, with ``write``, make them this benchmark's
    section of ``path`` (``--no-publish`` runs print only)."""
    section = "\n".join(lines)
    if write:
        write_section(start_marker, end_marker, path, section)
    print(section)
