"""The big fuzz campaign: every case family of the fuzz suite (``tests/fuzz/``), many cases.

Run from the repository root; it prints a summary and rewrites the ``## Fuzzing`` section
of ``benchmarks/results.md``::

    OMP_NUM_THREADS=1 python -m benchmarks.fuzz --cases 3000 --seed 0
    python -m benchmarks.fuzz --cases 100 --quick --json violations.json --no-publish
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # results_file, also under `python -m`
sys.path.insert(0, str(REPO / "tests"))  # the fuzz suite, as the tests import it
import fuzz  # noqa: E402
from results_file import command_line, publish  # noqa: E402

RESULTS = REPO / "benchmarks" / "results.md"
START, END = "<!-- fuzz:start -->", "<!-- fuzz:end -->"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="leave out the slow cases")
    parser.add_argument("--json", type=Path, help="write every violation here")
    parser.add_argument("--keep", action="store_true", help="keep the folders of violating cases")
    parser.add_argument("--no-publish", action="store_true", help="do not rewrite benchmarks/results.md")
    args = parser.parse_args(argv)
    cases = fuzz.generate_cases(args.cases, args.seed, quick=args.quick)
    start = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="invsteg-fuzz-"))
    try:
        results = fuzz.run_cases(cases, root, progress=True, keep=args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(fuzz.format_violations(results) or "no violations")
    if args.json:
        args.json.write_text(
            json.dumps([fuzz.violation_record(r) for r in results if r.violations], indent=1)
        )
    lines = [START, f"## Fuzzing ({date.today().isoformat()})", "", f"`{command_line(__file__)}`", ""]
    lines += [*fuzz.summary_lines(results, time.perf_counter() - start), END]
    publish(START, END, RESULTS, lines, write=not args.no_publish)
    return 1 if any(r.violations for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
