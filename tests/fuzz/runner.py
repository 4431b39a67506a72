"""Running a fuzz case (in-process or as a real process) and the oracles it must pass."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .cases import (
    ADDRESS_CAP,
    ALLOWED_EXIT,
    INTERNAL_EXIT,
    MARKER,
    ORACLES,
    RSS_LIMIT_MB,
    TRACEBACK,
    Case,
    Fixtures,
    Outcome,
    Result,
)

# -- running a case ----------------------------------------------------------------------------


class _CaseTimeout(BaseException):
    """Raised by SIGALRM in an in-process case; a BaseException so no ``except Exception`` eats it."""


def _timeout(signum: int, frame: object) -> None:
    raise _CaseTimeout


@contextlib.contextmanager
def _redirected(cwd: Path, env: dict[str, str], stdin: bytes) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """stdin/stdout/stderr, working directory, environment and SIGINT handler, restored after."""
    saved = (
        sys.stdin,
        sys.stdout,
        sys.stderr,
        os.getcwd(),
        dict(os.environ),
        signal.getsignal(signal.SIGINT),
    )
    out, err = io.BytesIO(), io.BytesIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    # Python's own choices for a non-terminal: strict stdout, backslash-escaping stderr.
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    os.chdir(cwd)
    os.environ.update(env)
    try:
        yield out, err
    finally:
        wrappers = (sys.stdin, sys.stdout, sys.stderr)
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        for wrapper in wrappers:
            with contextlib.suppress(ValueError):  # a command may have closed one
                wrapper.flush()
                wrapper.detach()  # a collected TextIOWrapper would close the buffer we read
        os.chdir(saved[3])
        os.environ.clear()
        os.environ.update(saved[4])
        signal.signal(signal.SIGINT, saved[5])


def run_in_process(argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes, timeout: float) -> Outcome:
    """``invsteg.cli.main(argv)`` as the console script would run it; a traceback is printed
    to the captured stderr and exits 1, as the interpreter does."""
    from invsteg.cli import main

    start, rc, timed_out = time.perf_counter(), 0, False
    previous = signal.signal(signal.SIGALRM, _timeout)
    with _redirected(cwd, env, stdin) as (out, err):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except _CaseTimeout:
            rc, timed_out = -signal.SIGALRM, True
        except Exception:
            traceback.print_exc()
            rc = 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    stderr = err.getvalue().decode("utf-8", "replace")
    return Outcome(rc, out.getvalue(), stderr, time.perf_counter() - start, "in-process", timed_out=timed_out)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_CAP, ADDRESS_CAP))


def run_subprocess(
    case: Case, argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes | str
) -> Outcome:
    """``python -m invsteg ARGV``: exit code, output, and this child's own peak RSS (wait4)."""
    full_env = {k: v for k, v in os.environ.items() if k != "INVSTEG_PASSPHRASE"} | env
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(tempfile.TemporaryFile())
        err = stack.enter_context(tempfile.TemporaryFile())
        if isinstance(stdin, str):
            source = stack.enter_context(open(stdin, "rb"))
        else:
            source = stack.enter_context(tempfile.TemporaryFile())
            source.write(stdin)
            source.seek(0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "invsteg", *map(os.fsencode, argv)],
            cwd=cwd,
            env=full_env,
            stdin=source,
            stdout=subprocess.PIPE if case.close_stdout else out,
            stderr=err,
            preexec_fn=_limit_memory,
        )
        if case.close_stdout and proc.stdout is not None:
            proc.stdout.close()
        status, usage, timed_out = _wait(proc, case.timeout, case.signal_after)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode("utf-8", "replace")
    rc = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return Outcome(rc, stdout, stderr, seconds, "subprocess", usage.ru_maxrss / 1024, timed_out)


def _wait(proc: subprocess.Popen, timeout: float, signal_after: float | None) -> tuple[int, Any, bool]:
    """Poll with ``wait4`` (its rusage is this child's alone); SIGINT or kill on schedule."""
    start, sent = time.monotonic(), False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, False
        elapsed = time.monotonic() - start
        if signal_after is not None and not sent and elapsed >= signal_after:
            proc.send_signal(signal.SIGINT)
            sent = True
        if elapsed > timeout:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, True
        time.sleep(0.01)


def _substitute(arg: str, case_dir: Path, fx: Fixtures) -> str:
    for token, path in (("@IN", case_dir / "in"), ("@OUT", case_dir / "out"), ("@FX", fx.root)):
        arg = arg.replace(token, str(path))
    return arg.replace("@CASE", str(case_dir))


def run_case(case: Case, fx: Fixtures, root: Path, *, keep: bool = False) -> Result:
    """Prepare the case folder, run the command, apply every oracle, clean up."""
    case_dir = root / f"case{case.index:05d}"
    shutil.rmtree(case_dir, ignore_errors=True)
    (case_dir / "in").mkdir(parents=True)
    (case_dir / "out").mkdir()
    if case.build:
        case.build(case_dir, fx, random.Random(case.seed))
    argv = [_substitute(a, case_dir, fx) for a in case.argv]
    stdin = _substitute(case.stdin, case_dir, fx) if isinstance(case.stdin, str) else case.stdin
    before = snapshot(case_dir)
    if case.subprocess:
        outcome = run_subprocess(case, argv, case_dir / "out", case.env, stdin)
    else:
        data = Path(stdin).read_bytes() if isinstance(stdin, str) else stdin
        outcome = run_in_process(argv, case_dir / "out", case.env, data, case.timeout)
    violations = check(case, outcome, before, snapshot(case_dir), case_dir, fx)
    if not keep or not violations:
        shutil.rmtree(case_dir, ignore_errors=True)
    return Result(case, outcome, violations)


# -- oracles -----------------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, str]]


def snapshot(folder: Path) -> Snapshot:
    """Every entry under ``folder``, links not followed: (kind, inode, content digest)."""
    entries: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                entries[rel] = ("link", info.st_ino, os.readlink(path))
            elif os.path.isdir(path):
                entries[rel] = ("dir", info.st_ino, "")
            else:
                entries[rel] = ("file", info.st_ino, _digest(path, info.st_size))
    return entries


def _digest(path: str, size: int) -> str:
    if size > 64 << 20:  # the sparse giants: size is enough
        return f"size {size}"
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _finished_before_signal(case: Case, outcome: Outcome) -> bool:
    """SIGINT that lands after the command finished (or during interpreter exit) kills the
    process by the signal, as an uncaught Ctrl-C should; the work was already complete."""
    killed = outcome.rc == -signal.SIGINT and case.signal_after is not None
    return killed and TRACEBACK not in outcome.stderr and "error:" not in outcome.stderr


def check(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> list[tuple[str, str]]:
    if _finished_before_signal(case, outcome):
        outcome = dataclasses.replace(outcome, rc=0)
    found = oracle_exit(outcome, case.may_time_out) + oracle_files(outcome, before, after)
    found += oracle_output(case, outcome, before, after, case_dir, fx)
    if (case_dir / MARKER).exists() or (case_dir / "out" / MARKER).exists():
        found.append(("d", "the marker file appeared: code from an input file ran"))
    if outcome.rss_mb is not None and outcome.rss_mb >= RSS_LIMIT_MB:
        found.append(("e", f"peak RSS {outcome.rss_mb:.0f} MB"))
    elif "MemoryError" in outcome.stderr or "not enough memory" in outcome.stderr:
        found.append(("e", "ran out of the address space the fuzzer allows (5 GiB)"))
    if not (case.close_stdout and outcome.rc == 1 and not outcome.stderr):  # silent EPIPE is fine
        found += oracle_message(outcome)
    return found


def oracle_exit(outcome: Outcome, may_time_out: bool = False) -> list[tuple[str, str]]:
    found = []
    if outcome.timed_out and not may_time_out:
        found.append(("a", f"timed out after {outcome.seconds:.0f} s"))
    if TRACEBACK in outcome.stderr:
        last = [line for line in outcome.stderr.splitlines() if line.strip()][-1]
        found.append(("a", f"traceback: {last[:200]}"))
    elif outcome.rc not in ALLOWED_EXIT and not outcome.timed_out:
        found.append(("a", f"exit code {outcome.rc}"))
    if outcome.rc == INTERNAL_EXIT:
        found.append(("g", first_lines(outcome.stderr)))
    return found


def oracle_files(outcome: Outcome, before: Snapshot, after: Snapshot) -> list[tuple[str, str]]:
    found = []
    changed = sorted(p for p in after if p.startswith("out") and after[p] != before.get(p))
    temps = [
        p for p in after if os.path.basename(p).startswith(".") and p.endswith(".tmp") and p not in before
    ]
    if outcome.rc != 0 and changed:
        found.append(("b", f"exit {outcome.rc} left {', '.join(map(repr, changed[:3]))}"))
    elif temps:
        found.append(("b", f"temp files left: {', '.join(map(repr, temps[:3]))}"))
    return found


def oracle_output(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> list[tuple[str, str]]:
    found = []
    touched = [p for p in set(before) | set(after) if after.get(p) != before.get(p)]
    outside = sorted(p for p in touched if not p.startswith("out" + os.sep) and p != MARKER)
    if outside:
        found.append(("c", f"modified outside the output folder: {', '.join(map(repr, outside[:3]))}"))
    if outcome.rc != 0:
        return found
    if case.expect_failure:
        found.append(("c", "exit 0 with a weights file that must be refused"))
    if case.expect_payload:
        problem = _wrong_extraction(case, outcome, before, after, case_dir, fx)
        if problem:
            found.append(("c", problem))
    return found


def _wrong_extraction(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> str | None:
    expected = fx.payload
    if case.output == "-":
        return (
            None
            if outcome.stdout == expected
            else f"exit 0 wrote {len(outcome.stdout)} wrong bytes to stdout"
        )
    if case.output == "*":
        new = [p for p in after if p not in before and after[p][0] == "file"]
        if len(new) != 1:
            return f"exit 0 but {len(new)} new files: {new[:3]}"
        name = os.path.basename(new[0])
        if name.startswith(("-", ".")) or not name.isprintable():
            return f"extracted under an unsafe name {name!r}"
        rel = new[0]
    else:
        rel = os.path.join("out", case.output or "")
    path = case_dir / rel
    if not path.is_file():
        return f"exit 0 but no output at {rel}"
    return None if path.read_bytes() == expected else "exit 0 with bytes that differ from the embedded file"


def first_lines(text: str, count: int = 2) -> str:
    return " | ".join(text.strip().splitlines()[:count])[:240]


def oracle_message(outcome: Outcome) -> list[tuple[str, str]]:
    """A failure says exactly one ``error:`` line (``note:`` and ``warning:`` lines aside)."""
    if outcome.rc == 0 or outcome.timed_out or TRACEBACK in outcome.stderr:
        return []  # a traceback is already oracle a
    lines = [line for line in outcome.stderr.splitlines() if not line.startswith(("note:", "warning:"))]
    if len(lines) == 1 and lines[0].startswith("error: "):
        return []
    return [("f", f"{len(lines)} line(s): {first_lines(outcome.stderr, 3)!r}")]


# -- the run ---------------------------------------------------------------------------------


def prepare(root: Path) -> Fixtures:
    """Fixtures in ``root/fixtures``, with torch on one thread (the machine is shared)."""
    import torch

    torch.set_num_threads(1)
    os.environ.pop("INVSTEG_PASSPHRASE", None)
    return Fixtures(root / "fixtures")


def run_cases(cases: list[Case], root: Path, *, progress: bool = False, keep: bool = False) -> list[Result]:
    fx = prepare(root)
    results = []
    for case in cases:
        results.append(run_case(case, fx, root, keep=keep))
        if progress and results[-1].violations:
            print(f"VIOLATION {case.describe()}: {results[-1].violations}", file=sys.stderr, flush=True)
        elif progress and case.index % 50 == 0:
            print(f"{case.index}/{len(cases)}", file=sys.stderr, flush=True)
    return results


def format_violations(results: list[Result]) -> str:
    """One paragraph per violating case: what ran, what happened."""
    lines = []
    for result in results:
        for oracle, detail in result.violations:
            o = result.outcome
            lines.append(f"[{oracle}] {result.case.describe()} -> exit {o.rc} ({o.mode}): {detail}")
    return "\n".join(lines)


def summary_lines(results: list[Result], seconds: float) -> list[str]:
    per_command: dict[str, Counter] = defaultdict(Counter)
    per_oracle: Counter = Counter()
    for result in results:
        row = per_command[result.case.command]
        row["cases"] += 1
        row["subprocess"] += result.case.subprocess
        row["violating"] += bool(result.violations)
        for oracle in {o for o, _ in result.violations}:
            per_oracle[oracle] += 1
            row[oracle] += 1
    lines = [
        "| command | cases | as subprocess | violating | " + " | ".join(ORACLES) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(ORACLES),
    ]
    for command in sorted(per_command):
        row = per_command[command]
        cells = [str(row[o]) for o in ORACLES]
        lines.append(
            f"| {command} | {row['cases']} | {row['subprocess']} | {row['violating']} | {' | '.join(cells)} |"
        )
    lines += ["", "| oracle | what it checks | violating cases |", "|---|---|---:|"]
    lines += [f"| {o} | {text} | {per_oracle[o]} |" for o, text in ORACLES.items()]
    rss = [r.outcome.rss_mb for r in results if r.outcome.rss_mb is not None]
    lines += [
        "",
        f"{len(results)} cases in {seconds / 60:.1f} min; "
        f"largest subprocess peak RSS {max(rss, default=0):.0f} MB.",
    ]
    return lines


def violation_record(result: Result) -> dict[str, Any]:
    o = result.outcome
    return {
        "case": result.case.describe(),
        "command": result.case.command,
        "family": result.case.family,
        "mode": o.mode,
        "rc": o.rc,
        "rss_mb": o.rss_mb,
        "seconds": round(o.seconds, 2),
        "stderr": o.stderr[-2000:],
        "violations": result.violations,
    }
