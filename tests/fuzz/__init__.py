"""The fuzz suite: the ``invsteg`` command line against malformed and malicious inputs.

Every case runs one CLI command, in-process (``invsteg.cli.main`` with stdin, stdout and
stderr redirected) or, for a sampled share and every memory- or signal-related case, as a
real ``python -m invsteg`` subprocess with a timeout, an address-space cap and its own
peak RSS (``os.wait4``). Oracles, per case:

- a: no Python traceback on stderr, exit code in {0, 1, 2, 70, 130}, no timeout (except on a
  real image at the pixel limit, whose work takes minutes here: there only memory is checked);
- b: no file left in the output directory after a non-zero exit, no ``.*.tmp`` ever;
- c: never a wrong output with exit 0 (an extracted file equals the embedded one, a
  corrupt weights file is not used, inputs are never modified, nothing is written outside
  the output directory);
- d: no code from an input file runs (malicious files try to create a marker file);
- e: subprocess peak RSS < 3 GiB;
- f: a failure prints exactly one ``error:`` line on stderr (``note:``/``warning:`` allowed);
- g: malformed input is the user's error (1 or 2), never an internal error (70).

The run is deterministic for a seed. ``tests/test_fuzz.py`` runs a quick subset in the
test suite; ``python -m benchmarks.fuzz --cases 3000`` (from the repository root) runs the
big campaign and writes its figures to ``benchmarks/results.md``.
"""

from .cases import ORACLES, Case, Fixtures, Outcome, Result
from .families import generate_cases
from .runner import format_violations, run_cases, summary_lines, violation_record

__all__ = [
    "ORACLES",
    "Case",
    "Fixtures",
    "Outcome",
    "Result",
    "format_violations",
    "generate_cases",
    "run_cases",
    "summary_lines",
    "violation_record",
]
