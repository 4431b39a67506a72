"""The Typer app, its shared options, and what every command does the same way:
messages on stderr (one line each, names escaped), ``--json`` on stdout, output checks."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

import invsteg
from invsteg.errors import UsageError
from invsteg.zoo import DEFAULT_MODEL

if TYPE_CHECKING:
    from invsteg.io.images import LoadedImage

DEBUG_ENV = "INVSTEG_DEBUG"
# Same value as io.images.DEFAULT_MAX_PIXELS, written out so that --help stays instant.
DEFAULT_MAX_PIXELS = 100_000_000
# embed-file keeps latents, bit bookkeeping and the interleaver's order for the whole image:
# 40 MP keeps its peak under 3 GB (benchmarks/results.md, memory); --max-pixels raises it.
EMBED_MAX_PIXELS = 40_000_000

app = typer.Typer(
    name="invsteg",
    help="Hide images and files in images with invertible neural networks.\n\n"
    "Every --json object carries its schema number, now 2. Since schema 2, embed-file, "
    "extract-file and capacity say how a file is hidden in `method` (adaptive, steg-cinn or "
    "robust-file), and `model` names only a registered model or weights file (null for a "
    "method without one); schema 1 gave the file channel of --robust the `model` robust, "
    "the name of a hiding model.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def printable(text: str) -> str:
    """Control characters and undecodable bytes of file names shown escaped: a name with a
    newline must not forge a second message line, and surrogates cannot be printed at all."""
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode() for c in text
    )


# -1 quiet, 0, 1 verbose: set by the root options for the command being run, as click
# keeps its current context (main() resets it for every run).
VERBOSITY: ContextVar[int] = ContextVar("invsteg_verbosity", default=0)
JSON_SCHEMA = 2  # the version of every --json object; bumped when a key changes meaning


def verbosity() -> int:
    return VERBOSITY.get()


def error(message: str) -> None:
    """An error line on stderr, whatever --quiet says."""
    stderr().print(printable(message), markup=False)


def say(message: str) -> None:
    """A message on stderr (a result, a note, a warning), silenced by --quiet."""
    if verbosity() >= 0:
        error(message)


def detail(message: str) -> None:
    """A message on stderr for --verbose only."""
    if verbosity() > 0:
        error(message)


def notes(*images: LoadedImage) -> None:
    for image in images:
        for notice in image.notices:
            say(f"note: {notice}")


def emit_json(data: dict[str, Any]) -> None:
    """A command's result on stdout, tagged with the schema version."""
    sys.stdout.write(json.dumps({"schema": JSON_SCHEMA, **data}, indent=2) + "\n")


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None  # inf is not JSON


ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help=f"Registered model (default: {DEFAULT_MODEL}; see `invsteg models`)."),
]
WeightsOption = Annotated[
    Path | None,
    typer.Option(
        "--weights", help="A weights file (converted or self-trained); its architecture is read from it."
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        "-f",
        help="Overwrite an existing output file; never an input, and in a folder run never "
        "another image's output (two inputs of one output name are refused before any work).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print a machine-readable result on stdout.")]
TileOption = Annotated[int, typer.Option("--tile", min=64, help="Tile size in pixels; bounds memory.")]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="auto (CUDA when present, else CPU), cpu, cuda, cuda:N or mps."),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="auto (bf16 where the CPU or GPU computes it natively, about 2x faster), fp32 or bf16.",
    ),
]
MaxPixelsOption = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Refuse input images with more pixels than this (decompression bombs, memory).",
    ),
]


_MADE_FOLDERS: list[Path] = []  # made by this command for its outputs (cli.batch)


def remove_when_left_empty(folder: Path) -> None:
    """Remove ``folder`` when the command ends, however it ends, if nothing is in it: a run
    whose every image failed leaves no empty output folder behind."""
    _MADE_FOLDERS.append(folder)


def _remove_folders_left_empty() -> None:
    while _MADE_FOLDERS:
        with contextlib.suppress(OSError):  # rmdir refuses a folder with anything in it
            _MADE_FOLDERS.pop().rmdir()


def _version_callback(value: bool) -> None:
    if value:
        print(f"invsteg {invsteg.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    context: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help=f"Show the traceback of an internal error (or set {DEBUG_ENV}=1)."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also print what took how long.")] = False,
) -> None:
    """Hide images and files in images with invertible neural networks."""
    # --debug is read by main() from the command line itself: it acts outside this call.
    if quiet and verbose:
        raise UsageError("--quiet and --verbose contradict each other; give one")
    VERBOSITY.set(-1 if quiet else int(verbose))
    context.call_on_close(_remove_folders_left_empty)
    if verbose:
        start = time.perf_counter()
        context.call_on_close(lambda: detail(f"done in {time.perf_counter() - start:.2f} s"))


MAX_SIDE = 65535  # PNG and most decoders cap a side here; --size beyond it cannot be written


def default_output(source: str, suffix: str) -> str:
    stem = "image" if source == "-" else Path(source).stem
    return f"{stem}.{suffix}.png"


def check_stdio(inputs: list[str], output: str, as_json: bool) -> None:
    # Path("") is ".", the current directory: say what is wrong instead of "is a directory".
    if "" in inputs:
        raise UsageError("an input is an empty file name (''); give a path, or - for stdin")
    if not output:
        raise UsageError("the output is an empty file name (''); give a path, or - for stdout")
    if inputs.count("-") > 1:
        raise UsageError("only one input can come from stdin ('-')")
    if output == "-" and as_json:
        raise UsageError("--json prints to stdout, so the image cannot go there too; give -o a file")


def check_terminal_output(output: str, *, force: bool) -> None:
    """Raw file bytes on a terminal garble it (and may hold escape sequences): ask for intent."""
    if output == "-" and sys.stdout.isatty() and not force:
        raise UsageError(
            "stdout is a terminal: redirect it (> FILE), give -o FILE, or pass --force to print the file"
        )


def parse_size(size: str | None, max_pixels: int) -> tuple[int, int] | None:
    """``--size WxH`` as ``(w, h)``, checked against the sides PNG can hold and ``max_pixels``."""
    if size is None:
        return None
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size must look like 640x480, got {size!r}") from None
    if width < 1 or height < 1:
        raise UsageError(f"--size must be positive, got {size!r}")
    # The secret is resized to this before it is written: a typo must not allocate terabytes.
    if width > MAX_SIDE or height > MAX_SIDE:
        raise UsageError(f"--size {size}: each side must be at most {MAX_SIDE} pixels")
    if width * height > max_pixels:
        raise UsageError(
            f"--size {size} is {width * height:,} pixels, more than --max-pixels {max_pixels:,}; "
            "raise --max-pixels if it is right"
        )
    return width, height


def check_model(model: str | None) -> None:
    """``--model ''`` (an unset shell variable, say) must not silently mean the default."""
    if model is not None and not model.strip():
        raise UsageError("--model is empty; give a model name (see `invsteg models`) or leave it out")


def check_file_model(*, robust: bool, model: str | None, weights: object) -> None:
    """The robust file channel uses no model, so ``--robust`` excludes ``--model`` and ``--weights``."""
    if robust and (model is not None or weights is not None):
        raise UsageError("--robust uses no model: leave out --model and --weights")


def inputs(*paths: str | Path | None) -> tuple[str, ...]:
    """Every file a command reads, for check_output: --force must never overwrite one."""
    return tuple(str(p) for p in paths if p is not None)


def prompt_passphrase(embedding: bool) -> str:
    """A hidden prompt (twice when embedding); end of input and an empty answer are refused."""
    without = "embed without encryption" if embedding else "extract a file embedded without one"
    try:
        answer = typer.prompt(
            "Passphrase",
            default="",  # so that an empty answer reaches the check below instead of re-asking
            show_default=False,
            hide_input=True,
            confirmation_prompt=embedding,
            err=True,
        )
    except typer.Abort:  # end of input (Ctrl-D); Ctrl-C raises Interrupted instead
        raise UsageError(
            f"no passphrase entered (end of input); to {without}, pass --no-passphrase"
        ) from None
    if not answer:
        raise UsageError(f"empty passphrase; to {without}, pass --no-passphrase")
    return answer


def get_passphrase(passphrase_file: Path | None, no_passphrase: bool, *, embedding: bool) -> Any:
    """The :class:`~invsteg.io.passphrase.Passphrase` to use; the prompt only on a terminal."""
    from invsteg.io.passphrase import resolve_passphrase

    prompt = prompt_passphrase if sys.stdin.isatty() else None
    return resolve_passphrase(passphrase_file, no_passphrase, embedding=embedding, prompt=prompt)
