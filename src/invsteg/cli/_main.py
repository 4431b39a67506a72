"""The entry point and the one place where errors become exit codes.

0 ok, 1 payload problem, 2 usage or bad input (out of memory too), 70 internal error (a
bug: ``--debug`` or ``INVSTEG_DEBUG=1`` shows its traceback), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). Every error is one ``error:`` line and every Python warning one
``note:`` line on stderr; outputs are written atomically, so no exit leaves a partial file.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
import warnings
from typing import NoReturn

import typer

from invsteg.cli._app import DEBUG_ENV, JSON_SCHEMA, VERBOSITY, app, error, say
from invsteg.cli.flags import as_flags
from invsteg.errors import InvstegError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it; SIGTERM gives 128 + 15
EXIT_SOFTWARE = 70  # sysexits.h EX_SOFTWARE: an internal error, i.e. a bug
EXIT_OUT_OF_MEMORY = 2  # the input is too large for this machine: bad input, not a bug


class Interrupted(InvstegError):
    """Ctrl-C or SIGTERM. Raised from the signal handler (not KeyboardInterrupt) so click
    does not turn it into "Aborted!" and exit 1; exits 128 + the signal, as a shell reports."""

    kind = "interrupted"

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__("interrupted" if signum == signal.SIGINT else "terminated")
        self.exit_code = 128 + signum


def _interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _note_warning(message: Warning | str, category: type[Warning], *args: object, **kwargs: object) -> None:
    """A Python warning as one ``note:`` line, without the file and source line it came from."""
    say(f"note: {_one_line(str(message))}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> None:
    """Run the app on ``argv`` (default: the command line) and exit with its code."""
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    warnings.showwarning = _note_warning  # main exits afterwards: nothing to restore
    verbosity = VERBOSITY.set(0)
    try:
        # standalone_mode=False: click's usage errors come here, to be one line like ours.
        sys.exit(app(args=args, prog_name="invsteg", standalone_mode=False) or 0)
    except InvstegError as exc:
        _fail(args, exc.kind, str(exc), exc.exit_code)
    except typer.Abort:
        _fail(args, "interrupted", "aborted", EXIT_INTERRUPTED)
    except typer.exceptions.TyperException as exc:  # click's usage errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `invsteg`: typer printed its help
            _fail(args, "usage", "no command given; choose one of the commands above", exc.exit_code)
        message = f"{_one_line(exc.format_message())} (see invsteg {_command(args)}--help)"
        _fail(args, "usage", message, exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # not raised on purpose: out of memory, or a bug
        signalled = _interrupted_inside(exc)
        if signalled is not None:  # the signal landed where Python wraps exceptions
            _fail(args, signalled.kind, str(signalled), signalled.exit_code)
        if _out_of_memory(exc):
            message = "out of memory: the input is too large for this machine; try a smaller image or --tile"
            _fail(args, "out_of_memory", message, EXIT_OUT_OF_MEMORY)
        if _debug_requested(args):
            traceback.print_exc()
            sys.exit(EXIT_SOFTWARE)
        detail = f"{type(exc).__name__}: {_one_line(str(exc))[:500]}"
        _fail(
            args, "internal", f"internal error: {detail} (run with --debug for the traceback)", EXIT_SOFTWARE
        )
    finally:
        VERBOSITY.reset(verbosity)
        # The work is over: a signal during interpreter shutdown must not raise Interrupted
        # in a finaliser (a traceback after success); it just ends the process.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fail(args: list[str], kind: str, message: str, exit_code: int) -> NoReturn:
    """One ``error:`` line on stderr (whatever --quiet says); with ``--json`` also the error
    as a JSON object on stdout, so a script reading stdout always gets JSON. The library's
    parameters in ``message`` are written as this command line's flags."""
    message = as_flags(message)
    error(f"error: {message}")
    if _json_requested(args):
        sys.stdout.write(json.dumps({"schema": JSON_SCHEMA, "error": kind, "message": message}) + "\n")
    sys.exit(exit_code)


def _json_requested(args: list[str]) -> bool:
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _interrupted_inside(exc: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` that ``exc`` wraps, if any: a signal during class creation
    (e.g. a lazy import) surfaces as a RuntimeError caused by it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, Interrupted):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _debug_requested(args: list[str]) -> bool:
    """``--debug`` among the root options (before the command name), or ``$INVSTEG_DEBUG=1``."""
    if os.environ.get(DEBUG_ENV) == "1":
        return True
    root_options = []
    for arg in args:
        if not arg.startswith("-"):
            break
        root_options.append(arg)
    return "--debug" in root_options


def _command(args: list[str]) -> str:
    command = next((a for a in args if not a.startswith("-")), None)
    return f"{command} " if command in {c.name for c in typer.main.get_command(app).commands.values()} else ""


def _out_of_memory(exc: BaseException) -> bool:
    """MemoryError, or torch's allocator failing (a RuntimeError, CUDA's included)."""
    text = str(exc)
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)
    )
