"""A quick, fixed-seed subset of the fuzz suite (``tests/fuzz/``): malformed inputs for every
command.

The big campaign (``python -m benchmarks.fuzz --cases 3000``) takes many minutes; this one
checks the same oracles on ~70 cases, the slow ones (100 MP images, training runs) left out.
"""

from __future__ import annotations

import pytest

import fuzz
from helpers import cheap_kdfs

CASES = 70
SEED = 12


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[fuzz.Result]:
    """Real processes only where the case needs one (signals, pipes, memory; the campaign
    runs a share of the others so too); in this process keys are derived at a token cost (a
    damaged stego costs up to 5 real derivations, which no oracle looks at)."""
    cases = fuzz.generate_cases(CASES, SEED, quick=True, subprocess_share=0.0)
    with pytest.MonkeyPatch.context() as monkeypatch:
        cheap_kdfs(monkeypatch)
        return fuzz.run_cases(cases, tmp_path_factory.mktemp("fuzz"))


def test_generation_is_deterministic() -> None:
    first = [case.describe() for case in fuzz.generate_cases(30, SEED, quick=True)]
    assert first == [case.describe() for case in fuzz.generate_cases(30, SEED, quick=True)]


def test_cases_cover_every_command_family(results: list[fuzz.Result]) -> None:
    commands = {result.case.command for result in results}
    assert {"hide", "reveal", "embed-file", "extract-file", "attack"} <= commands
    assert any(result.case.subprocess for result in results)


def test_no_oracle_is_violated(results: list[fuzz.Result]) -> None:
    failing = [result for result in results if result.violations]
    assert not failing, f"{len(failing)} of {len(results)} cases fail:\n" + fuzz.format_violations(failing)
