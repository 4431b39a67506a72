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
    modulus=st.sampled_from(stc.MODULI),
    height=st.integers(2, 7),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_message_that_fits_reads_back(carriers, share, modulus, height, seed) -> None:
    height = min(height, 5) if modulus == 3 else height
    count = max(1, int(share * carriers))
    rng = np.random.default_rng(seed)
    cover = rng.integers(0, modulus, carriers).astype(np.uint8)
    costs = rng.random((carriers, modulus - 1)) * 10
    message = rng.integers(0, modulus, count).astype(np.uint8)
    if stc.plan(carriers, count) is None:
        with pytest.raises(ValueError):
            stc.embed(cover, costs, message, height, modulus)
        return
    moves = stc.embed(cover, costs, message, height, modulus)
    assert np.array_equal(stc.extract((cover + moves) % modulus, count, height, modulus), message)
    assert not moves[stc.plan(carriers, count).used :].any()  # unread carriers never change


def test_a_move_that_is_not_allowed_is_never_made() -> None:
    rng = np.random.default_rng(2)
    cover = rng.integers(0, 3, 5000)
    costs = rng.random((5000, 2))
    costs[::2, 0] = np.inf  # as at 255: no +1
    costs[1::2, 1] = np.inf  # as at 0: no -1
    message = rng.integers(0, 3, 1500)
    moves = stc.embed(cover, costs, message, 5, 3)
    assert np.array_equal(stc.extract((cover + moves) % 3, 1500, 5, 3), message)
    assert not (moves[::2] == 1).any() and not (moves[1::2] == 2).any()


@pytest.mark.parametrize("modulus", stc.MODULI)
def test_the_trellis_finds_the_cheapest_moves_its_code_allows(modulus: int) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(5, 13 if modulus == 2 else 8))
        k = int(rng.integers(1, 5))
        height = int(rng.integers(2, 5))
        cover = rng.integers(0, modulus, n)
        costs = rng.random((n, modulus - 1))
        message = rng.integers(0, modulus, k)

        def cost(moves: np.ndarray, costs: np.ndarray = costs) -> float:
            return float(sum(costs[i, m - 1] for i, m in enumerate(moves) if m))

        moves = stc.embed(cover, costs, message, height, modulus)
        best = min(
            cost(np.array(combo))
            for combo in itertools.product(range(modulus), repeat=n)
            if np.array_equal(stc.extract((cover + np.array(combo)) % modulus, k, height, modulus), message)
        )
        assert cost(moves) == pytest.approx(best, rel=1e-5)


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.25])
def test_distortion_is_near_the_rate_distortion_bound(rate: float) -> None:
    rng = np.random.default_rng(0)
    n = 60_000
    costs = np.exp(rng.normal(0, 2, n))  # a heavy-tailed profile, like HILL on photos
    bits = int(rate * n)
    cover = rng.integers(0, 2, n).astype(np.uint8)
    message = rng.integers(0, 2, bits).astype(np.uint8)
    flips = stc.embed(cover, costs, message, 7) != 0
    # measured 1.15-1.3 at h = 7 (benchmarks/results.md, "Syndrome-trellis code")
    assert costs[flips].sum() <= 1.4 * binary_bound(costs, bits)


def test_costs_keep_small_differences_beside_huge_costs() -> None:
    """Near-wet carriers (cost 1e6) must not drown the choice among cheap ones (float32)."""
    rng = np.random.default_rng(1)
    n = 20_000
    costs = np.where(rng.random(n) < 0.5, 1e6, rng.random(n) + 0.01)
    cover = rng.integers(0, 2, n).astype(np.uint8)
    message = rng.integers(0, 2, 500).astype(np.uint8)
    flips = stc.embed(cover, costs, message, 7) != 0
    assert np.array_equal(stc.extract(cover ^ flips, 500, 7), message)
    assert costs[flips].max() < 1.1


def test_the_layout_is_a_function_of_the_sizes() -> None:
    assert stc.plan(10, 11) is None
    assert stc.plan(0, 1) is None
    p = stc.plan(3_000_000, 90_000)
    assert p is not None and p.group == 4 and p.used <= 3_000_000
    for modulus, height in ((2, 7), (3, 5)):
        columns = stc.submatrix(height, 16, modulus)
        assert columns.shape == (16, height) and len({tuple(c) for c in columns}) == 16
        assert (columns[:, 0] != 0).all() and (columns[:, -1] != 0).all()


@pytest.mark.parametrize("modulus", stc.MODULI)
def test_threads_change_nothing_but_the_time(modulus: int) -> None:
    rng = np.random.default_rng(5)
    carriers, count = 40_000, 1_500  # 6 chunks: several groups for several workers
    cover = rng.integers(0, modulus, carriers).astype(np.uint8)
    costs = rng.random((carriers, modulus - 1))
    message = rng.integers(0, modulus, count).astype(np.uint8)
    alone = stc.embed(cover, costs, message, 5, modulus, workers=1)
    for workers in (2, 4):
        assert np.array_equal(stc.embed(cover, costs, message, 5, modulus, workers=workers), alone)
    assert np.array_equal(stc.extract((cover + alone) % modulus, count, 5, modulus), message)
