"""The arithmetic of ``benchmarks/hide_speed.py``: FLOPs counted, rates and shares of peak."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))  # after every package

import hide_speed


def test_flops_per_pixel_is_the_dense_blocks_multiply_adds() -> None:
    """hinet-small: 6 couplings of 3 dense blocks (12 -> growth 24 x4 -> 12, 3x3) on the
    half-size Haar bands, once to hide and once to reveal, 2 FLOPs per multiply-add."""
    net = hide_speed._load_net("hinet-small")
    block = 9 * (12 * 24 + 36 * 24 + 60 * 24 + 84 * 24 + 108 * 12)
    expected = 2 * block * 3 * 6 * 2 / 4
    assert hide_speed.flops_per_pixel(net, "fp32", tile=512, side=32) == pytest.approx(expected)


def test_rates_and_shares_of_peak() -> None:
    result = hide_speed.Result("m", 1000, 1000, "fp32", hide_s=1.0, reveal_s=3.0)
    assert result.gflops is None and result.share_of_peak("matmul") is None
    result.flops_per_pixel = 8e5  # 8e11 FLOPs in 4 s
    result.peak_gflops = {"matmul": 400.0}
    assert result.gflops == pytest.approx(200.0)
    assert result.share_of_peak("matmul") == pytest.approx(0.5)
    assert result.share_of_peak("conv3x3") is None
