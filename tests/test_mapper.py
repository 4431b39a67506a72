"""Steg-cINN sign mapper: bits <-> latents, and the verify loop's repairs of latents."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from invsteg.pipelines.mapper import (
    bits_to_latents,
    draw_latents,
    latents_to_bits,
    resample,
    shrink,
    strengthen,
)


def test_mapper_signs_round_trip_and_margin() -> None:
    gen = torch.Generator().manual_seed(0)
    bits = np.random.default_rng(4).integers(0, 2, size=(3, 50, 40), dtype=np.uint8)
    for alpha in (0.0, 0.1, 1.0):
        z = bits_to_latents(bits, alpha, gen)
        assert z.shape == bits.shape and z.dtype == torch.float32
        assert np.array_equal(latents_to_bits(z), bits)
        assert bool((z.abs() > alpha).all())


def test_mapper_far_tail_is_exact() -> None:
    gen = torch.Generator().manual_seed(1)
    z = bits_to_latents(np.ones(20_000, dtype=np.uint8), 5.0, gen, dtype=torch.float64)
    assert bool((z > 5.0).all()) and torch.isfinite(z).all()
    phi = math.exp(-12.5) / math.sqrt(2 * math.pi)
    expected_mean = phi / (0.5 * math.erfc(5 / math.sqrt(2)))  # E[Z | Z > 5] ~ 5.186
    assert abs(z.mean().item() - expected_mean) < 0.01


def test_mapper_marginal_is_truncated_standard_normal() -> None:
    alpha, n = 0.1, 100_000
    gen = torch.Generator().manual_seed(2)
    bits = np.random.default_rng(5).integers(0, 2, size=n, dtype=np.uint8)
    z = bits_to_latents(bits, alpha, gen, dtype=torch.float64)
    q = 0.5 * math.erfc(alpha / math.sqrt(2))
    phi = math.exp(-(alpha**2) / 2) / math.sqrt(2 * math.pi)
    std = math.sqrt(1 + alpha * phi / q)  # ~1.042: N(0,1) with |z| <= alpha removed
    assert abs(z.mean().item()) < 0.015
    assert abs(z.std().item() - std) < 0.01
    # Kolmogorov-Smirnov distance to the exact CDF; 1.63/sqrt(n) is the 1% critical value.
    zs = np.sort(z.numpy())
    normal_cdf = 0.5 * (1 + np.vectorize(math.erf)(zs / math.sqrt(2)))
    cdf = np.where(zs < 0, normal_cdf, normal_cdf - (1 - 2 * q)) / (2 * q)
    ecdf = np.arange(1, n + 1) / n
    assert np.abs(ecdf - cdf).max() < 1.63 / math.sqrt(n)


def test_mapper_band_is_standard_normal_between_alpha_and_ceiling() -> None:
    alpha, ceiling, n = 0.6, 1.6, 100_000
    gen = torch.Generator().manual_seed(7)
    bits = np.random.default_rng(8).integers(0, 2, size=n, dtype=np.uint8)
    z = bits_to_latents(bits, alpha, gen, dtype=torch.float64, ceiling=ceiling)
    assert np.array_equal(latents_to_bits(z), bits)
    assert bool((z.abs() > alpha).all() and (z.abs() <= ceiling).all())
    # Kolmogorov-Smirnov distance of |z| to N(0, 1) conditioned on alpha < |Z| < ceiling.
    mags = np.sort(z.abs().numpy())
    cdf = np.vectorize(lambda x: math.erf(x / math.sqrt(2)))
    lo, hi = cdf(alpha), cdf(ceiling)
    ecdf = np.arange(1, n + 1) / n
    assert np.abs(ecdf - (cdf(mags) - lo) / (hi - lo)).max() < 1.63 / math.sqrt(n)
    with pytest.raises(ValueError):
        bits_to_latents(bits, alpha, gen, ceiling=alpha)
    fresh = resample(z, np.ones(n, dtype=bool), alpha, gen, ceiling=ceiling)
    assert bool((fresh.abs() <= ceiling).all()) and np.array_equal(latents_to_bits(fresh), bits)


def test_mapper_rejects_bad_input() -> None:
    gen = torch.Generator()
    with pytest.raises(ValueError):
        bits_to_latents(np.array([0, 2]), 0.1, gen)
    with pytest.raises(ValueError):
        bits_to_latents(np.array([0, 1]), -0.1, gen)


def test_strengthen_and_resample() -> None:
    gen = torch.Generator().manual_seed(3)
    bits = np.random.default_rng(6).integers(0, 2, size=1000, dtype=np.uint8)
    z = bits_to_latents(bits, 0.1, gen)
    wrong = np.zeros(1000, dtype=bool)
    wrong[::10] = True
    out = strengthen(z, wrong, 2.0)
    assert torch.equal(out[~torch.from_numpy(wrong)], z[~torch.from_numpy(wrong)])
    assert torch.allclose(out[::10], z[::10] * 2)
    assert np.array_equal(latents_to_bits(out), bits)
    capped = strengthen(z, wrong, 100.0, max_abs=3.0)
    assert bool((capped.abs() <= torch.maximum(z.abs(), torch.tensor(3.0))).all())
    with pytest.raises(ValueError):
        strengthen(z, wrong, 0.5)
    fresh = resample(z, wrong, 0.1, gen)
    assert np.array_equal(latents_to_bits(fresh), bits)
    assert not torch.equal(fresh[::10], z[::10]) and torch.equal(fresh[1::10], z[1::10])
    assert bool((fresh.abs() > 0.1).all())


def test_draw_latents_and_shrink_keep_the_carriers_signs() -> None:
    mask = np.zeros((2, 5, 7), dtype=bool)
    mask[0, :4, :6] = True
    bits = np.random.default_rng(7).integers(0, 2, size=int(mask.sum()), dtype=np.uint8)
    gen = torch.Generator().manual_seed(1)
    z = draw_latents(bits, mask, gen, torch.zeros(1), alpha=0.6, ceiling=1.6, chunk=5)
    assert z.shape == (1, 2, 5, 7)
    assert np.array_equal(latents_to_bits(z[0])[mask], bits)
    assert bool((z[0][torch.from_numpy(mask)].abs() > 0.6).all())
    blocks = torch.zeros((1, 1, 5, 7), dtype=torch.bool)
    blocks[..., :2, :] = True
    carriers = torch.from_numpy(mask)[None]
    small = shrink(z, blocks, carriers, 0.6, 0.5)
    assert torch.equal(small[..., 2:, :], z[..., 2:, :])  # outside the blocks: untouched
    assert np.array_equal(latents_to_bits(small[0])[mask], bits)
    inside = blocks.expand_as(z)
    assert bool((small[carriers & inside].abs() > 0.6).all())
    assert torch.allclose(small[~carriers & inside], z[~carriers & inside] * 0.5)
    with pytest.raises(ValueError):
        shrink(z, blocks, carriers, 0.6, 1.5)
