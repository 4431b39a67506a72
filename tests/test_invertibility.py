"""Every registered model is exactly invertible, walked from the registry.

Each model class provides ``example_inputs(batch, h, w, *, dtype, generator) -> (x, cond)``,
a valid input of its invertible core and the condition that goes with it, so these tests
need no per-model code.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from invsteg.models.stegcinn import LAB_OFFSETS, LAB_SCALES, StegCINN, StegCINNConfig
from invsteg.nn import DenseBlock, FixedOrthogonalMix, random_orthogonal
from invsteg.nn.subnets import dense_blocks_same_input
from invsteg.ops.wavelets import haar_dwt, haar_iwt
from invsteg.zoo import list_models, random_model

pytestmark = pytest.mark.usefixtures("single_thread")  # small tensors: threads do not pay

SPECS = list_models()
HIDING = list_models("hide")
EMBEDDING = list_models("embed")
# First row of FixedOrthogonalMix(8, seed=0).weight when these tests were written.
GOLDEN_MIX_ROW0 = [-0.5128094309879563, -0.06274679239289127, -0.6597955066221076]


def randomized(spec, dtype: torch.dtype, seed: int = 0, scale: float = 0.02) -> torch.nn.Module:
    """The spec's architecture with small random weights, so no coupling is the identity."""
    model = random_model(spec).to(dtype)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=dtype) * scale)
    return model.eval()


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("shape", [(2, 16, 16), (1, 5, 7), (1, 1, 1)])
def test_core_round_trip(spec, dtype, tolerance, shape) -> None:
    model = randomized(spec, dtype)
    x, cond = model.example_inputs(*shape, dtype=dtype, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x, cond=cond)
        # zero weights make every coupling the identity (a model may still reshape, e.g. Haar)
        unweighted = randomized(spec, dtype, scale=0.0)(x, cond=cond)
        assert (y - unweighted).abs().max() > 1e-3, "random weights should move the input"
        back = model(y, cond=cond, reverse=True)
    assert back.dtype == dtype
    assert (back - x).abs().max().item() <= tolerance


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_core_log_det_matches_the_jacobian(spec) -> None:
    """``forward_with_log_det`` returns the output of ``forward`` and ``log |det J|``.

    Weights std 0.02: at 0.05 the 16 blocks of hinet-official give a Jacobian with
    condition number ~1e14, beyond what ``slogdet`` resolves to 1e-9.
    """
    model = randomized(spec, torch.float64)
    x, cond = model.example_inputs(1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y, log_det = model.forward_with_log_det(x, cond=cond)
    assert torch.equal(y, model(x, cond=cond))
    jacobian = torch.autograd.functional.jacobian(lambda t: model(t, cond=cond), x, vectorize=True)
    sign, expected = torch.linalg.slogdet(jacobian.reshape(x.numel(), x.numel()))
    assert sign != 0
    assert abs(expected.item()) > 0.1, "random weights should change volume"
    assert log_det.shape == (1,)
    assert abs(log_det.item() - expected.item()) <= 1e-9


@pytest.mark.parametrize("spec", HIDING, ids=lambda s: s.name)
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
    assert sum(p.numel() for p in random_model(official).parameters()) == 4_050_240


def random_lab(batch: int, height: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ab, L)`` in Lab units, float64: L uniform in [0, 100], a and b in [-80, 80]."""
    generator = torch.Generator().manual_seed(seed)
    lightness = 100 * torch.rand(batch, 1, height, width, dtype=torch.float64, generator=generator)
    ab = 160 * torch.rand(batch, 2, height, width, dtype=torch.float64, generator=generator) - 80
    return ab, lightness


@pytest.mark.parametrize("spec", EMBEDDING, ids=lambda s: s.name)
def test_embedding_models_encode_and_decode_exactly(spec) -> None:
    model = randomized(spec, torch.float64)
    ab, lightness = random_lab(2, 10, 14, seed=3)
    with torch.no_grad():
        z = model.encode(ab, lightness)
        channels = 6 if model.uses_cover_colour else 8
        assert z.shape == model.lab_to_latent_shape(ab.shape) == (2, channels, 5, 7)
        assert (model.decode(z, lightness, ab) - ab).abs().max().item() <= 1e-10
        z2 = torch.randn(z.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
        drawn = model.decode(z2, lightness, ab)
        assert (model.encode(drawn, lightness) - z2).abs().max().item() <= 1e-10
        if model.uses_cover_colour:  # the 2x2 means of the colour are the cover's
            assert (F.avg_pool2d(drawn, 2) - F.avg_pool2d(ab, 2)).abs().max().item() <= 1e-10
            with pytest.raises(ValueError, match="cover"):
                model.decode(z2, lightness)
    with pytest.raises(ValueError, match="even"):
        model.encode(ab[..., :9, :], lightness[..., :9, :])
    with pytest.raises(ValueError, match="even"):
        model.lab_to_latent_shape((1, 3, 9, 14))


@pytest.mark.parametrize("spec", EMBEDDING, ids=lambda s: s.name)
def test_embedding_log_det_of_encode_matches_the_jacobian(spec) -> None:
    """The log-det of the whole ab -> z map (normalisation, Haar, core) on a 1x2x4x4 input,
    restricted to the colour it models (all of it, or its detail when the 2x2 means are kept):
    the Jacobian times an orthonormal basis of the modelled Haar bands is square."""
    model = randomized(spec, torch.float64, scale=0.05)
    ab, lightness = random_lab(1, 4, 4, seed=5)
    z, log_det = model.encode_with_log_det(ab, lightness)
    assert torch.equal(z, model.encode(ab, lightness))
    modelled = model.latent_channels
    kept = torch.zeros(1, 8 - modelled, 2, 2, dtype=torch.float64)
    basis = torch.autograd.functional.jacobian(
        lambda bands: haar_iwt(torch.cat((kept, bands), dim=1)),
        torch.zeros(1, modelled, 2, 2, dtype=torch.float64),
    ).reshape(32, 4 * modelled)
    jacobian = torch.autograd.functional.jacobian(lambda t: model.encode(t, lightness), ab, vectorize=True)
    sign, expected = torch.linalg.slogdet(jacobian.reshape(4 * modelled, 32) @ basis)
    assert sign != 0
    core_part = expected.item() + 2 * modelled * math.log(LAB_SCALES[1] * LAB_SCALES[2])
    assert abs(core_part) > 0.1, "random weights should change volume"
    assert abs(log_det.item() - expected.item()) <= 1e-9


@pytest.mark.parametrize("count", [1, 2])
def test_fused_dense_blocks_equal_the_blocks_with_their_gradients(count) -> None:
    """dense_blocks_same_input (what couplings run on a CPU) is the same function as
    DenseBlock.forward, and so are its gradients, to the input and to every weight."""
    generator = torch.Generator().manual_seed(3)
    blocks = [DenseBlock(7, 5, growth=6, slope=0.1).double() for _ in range(count)]
    for block in blocks:
        with torch.no_grad():
            for p in block.parameters():
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.3)
    x = torch.randn(2, 7, 9, 11, generator=generator, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(2, 5, 9, 11, generator=generator, dtype=torch.float64) for _ in blocks]
    params = [p for block in blocks for p in block.parameters()]

    def value_and_grads(outputs):
        loss = sum((w * out).sum() for w, out in zip(weights, outputs, strict=True))
        return [o.detach() for o in outputs], torch.autograd.grad(loss, [x, *params])

    fused, fused_grads = value_and_grads(dense_blocks_same_input(blocks, x))
    plain, plain_grads = value_and_grads([block(x) for block in blocks])
    for a, b in zip([*fused, *fused_grads], [*plain, *plain_grads], strict=True):
        assert (a - b).abs().max().item() <= 1e-10
    with torch.inference_mode():
        assert (dense_blocks_same_input(blocks, x.detach())[0] - plain[0]).abs().max().item() <= 1e-10


def test_stegcinn_nll_of_a_fresh_model_is_the_gaussian_nll_of_normalised_ab() -> None:
    """A fresh model's couplings are the identity and its mixings orthogonal, so
    ``|z| = |(ab - offset) / scale|`` and the NLL per value has a closed form."""
    model = StegCINN(StegCINNConfig(blocks=2, hidden=8, cond_channels=4)).double()
    ab, lightness = random_lab(2, 6, 4, seed=6)
    scale = torch.tensor(LAB_SCALES[1:], dtype=torch.float64).view(1, 2, 1, 1)
    offset = torch.tensor(LAB_OFFSETS[1:], dtype=torch.float64).view(1, 2, 1, 1)
    u = (ab - offset) / scale
    expected = (0.5 * u.square() + 0.5 * math.log(2 * math.pi) + torch.log(scale)).mean(dim=(1, 2, 3))
    assert torch.allclose(model.nll(ab, lightness), expected, atol=1e-12)


def test_stegcinn_state_dict_holds_no_mixing_matrix() -> None:
    model = StegCINN(StegCINNConfig(blocks=2, hidden=8, cond_channels=4))
    mixes = tuple(f"{name}." for name, m in model.named_modules() if isinstance(m, FixedOrthogonalMix))
    assert len(mixes) == 2
    assert not [key for key in model.state_dict() if key.startswith(mixes)]


def test_fixed_orthogonal_mix_is_orthogonal_seeded_and_stable() -> None:
    mix = FixedOrthogonalMix(8, seed=0)
    w = mix.weight
    assert w.dtype == torch.float64
    assert torch.allclose(w @ w.T, torch.eye(8, dtype=torch.float64), atol=1e-14)
    assert torch.equal(w, FixedOrthogonalMix(8, seed=0).weight)
    assert not torch.allclose(w, random_orthogonal(8, seed=1))
    assert dict(mix.state_dict()) == {}
    # Golden values: shipped weights depend on these matrices (they are rebuilt from the
    # seed, never stored); a change of torch's RNG or QR would show up here first.
    assert w[0, :3].tolist() == pytest.approx(GOLDEN_MIX_ROW0, abs=1e-12)
    x = torch.randn(3, 8, 5, 7, dtype=torch.float64)
    y, log_det = mix.forward_with_log_det(x)
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), atol=1e-12)  # a rotation per pixel
    assert torch.equal(log_det, torch.zeros(3, dtype=torch.float64))
    assert (mix(y, reverse=True) - x).abs().max().item() <= 1e-14
    with pytest.raises(ValueError, match="channels"):
        mix(torch.zeros(1, 6, 2, 2))


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
