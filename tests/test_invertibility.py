"""Every registered model is exactly invertible, walked from the registry."""

from __future__ import annotations

import pytest
import torch

from invsteg.registry import list_models
from invsteg.wavelets import haar_dwt, haar_iwt
from invsteg.weights import create_model

SPECS = list_models()


def randomized(spec, dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    """The spec's architecture with small random weights, so no coupling is the identity."""
    model = create_model(spec).to(dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=dtype) * 0.02)
    return model.eval()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("shape", [(2, 16, 16), (1, 5, 7), (1, 1, 1)])
def test_core_round_trip(spec, dtype, tolerance, shape) -> None:
    model = randomized(spec, dtype)
    batch, height, width = shape
    channels = model.band_channels * (1 + model.config.secrets)
    x = torch.rand(batch, channels, height, width, dtype=dtype, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
        assert (y - x).abs().max() > 1e-3, "random weights should move the input"
        back = model(y, reverse=True)
    assert (back - x).abs().max().item() <= tolerance


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_reveal_inverts_hide_given_the_lost_part(spec) -> None:
    """With the true lost part r instead of z, reveal returns the secret exactly."""
    model = randomized(spec, torch.float64)
    cover, secret = torch.rand(2, 1, 3, 10, 14, dtype=torch.float64)
    with torch.no_grad():
        stego, lost = model.hide(cover, secret)
        (revealed,) = model.reveal(stego, lost)
    assert (revealed - secret).abs().max().item() <= 1e-10


def test_hiding_models_keep_the_official_parameter_count() -> None:
    official = next(s for s in SPECS if s.name == "hinet-official")
    assert sum(p.numel() for p in create_model(official).parameters()) == 4_050_240


@pytest.mark.parametrize("shape", [(1, 3, 2, 2), (2, 3, 6, 10), (1, 1, 34, 18)])
def test_haar_round_trip_and_orthonormality(shape) -> None:
    x = torch.rand(shape, dtype=torch.float64)
    bands = haar_dwt(x)
    assert bands.shape == (shape[0], 4 * shape[1], shape[2] // 2, shape[3] // 2)
    assert torch.allclose(haar_iwt(bands), x, atol=1e-12)
    assert torch.allclose(bands.norm(), x.norm(), atol=1e-12)  # orthonormal: energy kept


def test_haar_low_band_is_the_scaled_block_mean() -> None:
    x = torch.arange(16, dtype=torch.float64).view(1, 1, 4, 4)
    ll = haar_dwt(x)[:, :1]
    expected = torch.nn.functional.avg_pool2d(x, 2) * 2
    assert torch.allclose(ll, expected)


def test_haar_has_gradients_and_rejects_odd_sizes() -> None:
    x = torch.rand(1, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: haar_iwt(haar_dwt(t) * 1.5), (x,))
    with pytest.raises(ValueError, match="even"):
        haar_dwt(torch.rand(1, 3, 5, 6))
