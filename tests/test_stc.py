"""The syndrome-trellis code of payload format 3: exact, optimal for its code, near the bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invsteg.payload import stc


def binary_bound(costs: np.ndarray, bits: int) -> float:
    """The least expected total cost of carrying ``bits`` bits by flips of these carriers
    (the payload-limited sender: flip probabilities ``1 / (1 + exp(lambda rho))``)."""

    def entropy_and_cost(lam: float) -> tuple[float, float]:
        p = 1 / (1 + np.exp(np.clip(lam * costs, -50, 50)))
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
        return float(np.nansum(h)), float((p * costs).sum())

    low, high = 1e-6, 1e6
    for _ in range(120):
        mid = np.sqrt(low * high)
        low, high = (mid, high) if entropy_and_cost(mid)[0] > bits else (low, mid)
    return entropy_and_cost(low)[1]


@settings(max_examples=60, deadline=None)
@given(
    carriers=st.integers(1, 3000),
    share=st.floats(0.001, 1.0),
    height=st.integers(2, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_message_that_fits_reads_back(carriers: int, share: float, height: int, seed: int) -> None:
    bits = max(1, int(share * carriers))
    if stc.plan(carriers, bits) is None:
        with pytest.raises(ValueError):
            stc.embed(np.zeros(carriers, np.uint8), np.ones(carriers), np.zeros(bits, np.uint8), height)
        return
    rng = np.random.default_rng(seed)
    cover = rng.integers(0, 2, carriers).astype(np.uint8)
    costs = rng.random(carriers) * 10
    message = rng.integers(0, 2, bits).astype(np.uint8)
    flips = stc.embed(cover, costs, message, height)
    assert np.array_equal(stc.extract(cover ^ flips, bits, height), message)
    assert not flips[stc.plan(carriers, bits).used :].any()  # unread carriers never change


def test_the_trellis_finds_the_cheapest_flips_its_code_allows() -> None:
    rng = np.random.default_rng(3)
    for _ in range(25):
        n = int(rng.integers(6, 14))
        k = int(rng.integers(1, 5))
        height = int(rng.integers(2, 5))
        cover = rng.integers(0, 2, n).astype(np.uint8)
        costs = rng.random(n)
        message = rng.integers(0, 2, k).astype(np.uint8)
        flips = stc.embed(cover, costs, message, height)
        best = min(
            costs[np.array(combo, bool)].sum()
            for combo in itertools.product((0, 1), repeat=n)
            if np.array_equal(stc.extract(cover ^ np.array(combo, np.uint8), k, height), message)
        )
        assert costs[flips].sum() == pytest.approx(best)


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.25])
def test_distortion_is_near_the_rate_distortion_bound(rate: float) -> None:
    rng = np.random.default_rng(0)
    n = 60_000
    costs = np.exp(rng.normal(0, 2, n))  # a heavy-tailed profile, like HILL on photos
    bits = int(rate * n)
    cover = rng.integers(0, 2, n).astype(np.uint8)
    message = rng.integers(0, 2, bits).astype(np.uint8)
    flips = stc.embed(cover, costs, message, 7)
    # measured 1.15-1.3 at h = 7 (benchmarks/results.md, "Syndrome-trellis code")
    assert costs[flips].sum() <= 1.4 * binary_bound(costs, bits)


def test_costs_keep_small_differences_beside_huge_costs() -> None:
    """Near-wet carriers (cost 1e6) must not drown the choice among cheap ones (float32)."""
    rng = np.random.default_rng(1)
    n = 20_000
    costs = np.where(rng.random(n) < 0.5, 1e6, rng.random(n) + 0.01)
    cover = rng.integers(0, 2, n).astype(np.uint8)
    message = rng.integers(0, 2, 500).astype(np.uint8)
    flips = stc.embed(cover, costs, message, 7)
    assert np.array_equal(stc.extract(cover ^ flips, 500, 7), message)
    assert costs[flips].max() < 1.1


def test_the_layout_is_a_function_of_the_sizes() -> None:
    assert stc.plan(10, 11) is None
    assert stc.plan(0, 1) is None
    p = stc.plan(3_000_000, 90_000)
    assert p is not None and p.group == 4 and p.used <= 3_000_000
    assert stc.submatrix(7, 8).tolist() == stc.submatrix(7, 8).tolist()
    assert all(column & 1 and column >> 6 for column in stc.submatrix(7, 16))
