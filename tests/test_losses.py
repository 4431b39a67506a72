"""The visibility loss terms agree with the pattern measure and push where they should."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from invsteg.eval.pattern import pattern_strength
from invsteg.train import TrainConfig
from invsteg.train.losses import chroma, colour_parts, peak_amplitudes, spectral_peaks
from invsteg.train.objectives import RobustObjective, _visibility, _visibility_terms


def grating(size: int, period: float, amplitude_levels: float, channel: int) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64)
    wave = amplitude_levels / 255 * torch.cos(2 * math.pi * x / period)
    residual = torch.zeros(1, 3, size, size, dtype=torch.float64)
    residual[0, channel] = wave.expand(size, size)
    return residual


@pytest.mark.parametrize(("period", "channel"), [(8.0, 2), (16.0, 0), (5.0, 1)])
def test_peak_amplitude_is_the_pattern_measure(period, channel) -> None:
    residual = grating(80, period, 10.0, channel)
    cover = np.full((80, 80, 3), 100.0)
    stego = cover + residual[0].permute(1, 2, 0).numpy() * 255
    measured = pattern_strength(cover.astype(np.uint8), np.round(stego).astype(np.uint8))["worst"]
    trained = float(peak_amplitudes(residual, top=1).amax())
    assert trained == pytest.approx(measured, abs=0.3)  # the measure sees 8-bit rounding
    assert trained == pytest.approx(10.0, abs=0.05)


def test_noise_barely_registers_and_a_grating_does() -> None:
    noise = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0)) * 3 / 255
    striped = noise + grating(128, 8.0, 2.0, 2).float()
    assert float(peak_amplitudes(noise, top=1).amax()) < 0.3
    assert float(peak_amplitudes(striped, top=1).amax()) == pytest.approx(2.0, abs=0.3)
    assert float(spectral_peaks(striped)) > 2 * float(spectral_peaks(noise))


def test_periods_shorter_than_four_pixels_are_not_a_pattern() -> None:
    assert float(peak_amplitudes(grating(64, 2.0, 5.0, 0), top=1).amax()) < 1e-6


def test_chroma_counts_colour_not_grey() -> None:
    grey = torch.full((1, 3, 8, 8), 4 / 255)
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 4 / 255
    assert float(chroma(grey)) == pytest.approx(0.0, abs=1e-9)
    assert float(chroma(red)) == pytest.approx(16 / 2, rel=1e-5)  # R-G = 4, B-G = 0
    assert colour_parts(grey)[0, 0].mean().item() == pytest.approx(4.0, rel=1e-5)


def test_visibility_terms_only_when_weighted_and_they_have_gradients() -> None:
    config = TrainConfig()
    cover = torch.rand(2, 3, 32, 32)
    stego = (cover + grating(32, 8.0, 2.0, 1).float()).requires_grad_()
    assert _visibility_terms(stego, cover, config) == {}
    config.loss.pattern, config.loss.chroma = 1.0, 0.5
    terms = _visibility_terms(stego, cover, config)
    assert set(terms) == {"pattern", "chroma"}
    sum(terms.values()).backward()
    assert stego.grad is not None and float(stego.grad.abs().sum()) > 0


def test_validation_reports_the_pattern_in_levels() -> None:
    cover = torch.full((1, 3, 64, 64), 0.5)
    stego = cover + grating(64, 8.0, 4.0, 2).float()
    seen = _visibility(stego, cover)
    assert seen["pattern"][0] == pytest.approx(4.0, abs=0.05)
    assert seen["ssim_y"][0] < 1.0


def test_a_visible_pattern_lowers_the_robust_score() -> None:
    clean = {"val_stego_psnr": 38.0, "val_secret_psnr_clean": 30.0, "val_pattern": 0.8}
    assert RobustObjective.score(clean | {"val_pattern": 2.5}) == pytest.approx(
        RobustObjective.score(clean) - 4.5
    )
