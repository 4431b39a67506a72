"""Syndrome-trellis codes (``invsteg.payload.trellis``): round trips, optimality, wet
carriers, error spread, and the pinned submatrices a stego's format depends on."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from invsteg.payload import matrix, trellis


def _case(bits: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = bits * width + 5  # carriers beyond the message are never touched
    return rng.integers(0, 2, n, dtype=np.uint8), np.abs(rng.standard_normal(n)), rng.integers(0, 2, bits)


def test_submatrices_are_pinned() -> None:
    """The format depends on them: a change would make every trellis stego unreadable."""
    assert trellis.HEIGHT == 7 and trellis.CHUNK == 4096
    assert trellis.submatrix(2).tolist() == [113, 105]
    assert trellis.submatrix(3).tolist() == [93, 89, 101]
    assert trellis.submatrix(4).tolist() == [73, 85, 105, 127]
    for width in range(1, trellis.MAX_WIDTH + 1):
        columns = trellis.submatrix(width)
        assert len(set(columns.tolist())) == width and np.all(columns & 1) and np.all(columns & 64)
    with pytest.raises(ValueError, match="width"):
        trellis.submatrix(trellis.MAX_WIDTH + 1)


@pytest.mark.parametrize(("bits", "width"), [(1, 2), (300, 2), (500, 3), (trellis.CHUNK + 37, 2), (900, 4)])
def test_the_message_reads_back_and_only_its_carriers_change(bits: int, width: int) -> None:
    signs, costs, message = _case(bits, width, seed=bits + width)
    flips = trellis.embed(signs, costs, message, width)
    assert np.array_equal(trellis.extract(signs ^ flips, bits, width), message)
    assert not flips[bits * width :].any()


def test_the_search_finds_the_cheapest_signs() -> None:
    """Against every sign vector of a small case (one chunk: the Viterbi search is exact)."""
    bits, width = 5, 2
    for seed in range(5):
        signs, costs, message = _case(bits, width, seed)
        n = bits * width
        best = min(
            float(costs[:n][np.array(y) != signs[:n]].sum())
            for y in itertools.product((0, 1), repeat=n)
            if np.array_equal(trellis.extract(np.array(y, dtype=np.uint8), bits, width), message)
        )
        flips = trellis.embed(signs, costs, message, width)
        assert float(costs[flips].sum()) == pytest.approx(best)


def test_it_costs_less_than_a_hamming_code_reading_as_many_carriers() -> None:
    """Rate 1/4 against the Hamming code of order 4 (3.75 carriers per bit), |z|-like costs."""
    bits = 2000
    signs, costs, message = _case(bits, 4, seed=1)
    stc = costs[trellis.embed(signs, costs, message, 4)].sum()
    hamming = costs[matrix.embed(signs, costs, message, 4)].sum()
    assert stc < 0.8 * hamming


def test_wet_carriers_never_change_and_an_all_wet_block_is_refused() -> None:
    bits, width = 400, 3
    signs, costs, message = _case(bits, width, seed=3)
    wet = np.random.default_rng(4).random(costs.size) < 0.3
    flips = trellis.embed(signs, np.where(wet, np.inf, costs), message, width)
    assert not (flips & wet).any()
    assert np.array_equal(trellis.extract(signs ^ flips, bits, width), message)
    with pytest.raises(ValueError, match="must not change"):
        trellis.embed(signs, np.full(costs.size, np.inf), 1 - trellis.extract(signs, bits, width), width)


def test_a_wrong_sign_corrupts_at_most_height_consecutive_bits() -> None:
    bits, width = 600, 2
    signs, costs, message = _case(bits, width, seed=5)
    stego = signs ^ trellis.embed(signs, costs, message, width)
    for position in (0, 301, bits * width - 1):
        damaged = stego.copy()
        damaged[position] ^= 1
        wrong = np.flatnonzero(trellis.extract(damaged, bits, width) != message)
        assert wrong.size >= 1 and wrong.max() - wrong.min() < trellis.HEIGHT
        assert wrong.min() == position // width


def test_too_few_carriers_is_an_error() -> None:
    with pytest.raises(ValueError, match="need 20 carriers"):
        trellis.extract(np.zeros(19, dtype=np.uint8), 10, 2)


def test_chunks_searched_side_by_side_equal_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trellis, "CHUNK", 64)
    monkeypatch.setattr(trellis, "GROUP", 3)
    bits, width = 64 * 7 + 5, 3
    signs, costs, message = _case(bits, width, seed=6)
    flips = trellis.embed(signs, costs, message, width)
    assert np.array_equal(trellis.extract(signs ^ flips, bits, width), message)
    for start in range(0, bits, 64):
        size = min(64, bits - start)
        span = slice(start * width, (start + size) * width)
        alone = trellis._viterbi(
            signs[None, span], costs[None, span], message[None, start : start + size], width
        )
        assert np.array_equal(flips[span], alone[0])
