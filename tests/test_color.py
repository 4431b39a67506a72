"""sRGB <-> CIELAB: exact round trip over every 8-bit colour, reference values, gradients."""

from __future__ import annotations

import doctest

import pytest
import torch

from invsteg.ops import color
from invsteg.ops.color import LabToRgb, RgbToLab, in_gamut, lab_to_rgb, rgb_to_lab

# Chunks of 65,536 colours stay in cache and are too small for intra-op threads to pay.
pytestmark = pytest.mark.usefixtures("single_thread")


def test_round_trip_is_exact_over_all_8bit_colours() -> None:
    """All 2^24 colours, float64, one red value (256 x 256 green-blue grid) per chunk.

    Measured maximum |lab_to_rgb(rgb_to_lab(rgb)) - rgb|: 1.47e-14, float64 rounding (and
    7.8e-6 in float32). No 8-bit code falls between the thresholds 0.04045 and
    12.92 * 0.0031308 = 0.04044994, where the two halves of sRGB's transfer function
    disagree. About 3 s of CPU time.
    """
    codes = torch.arange(256, dtype=torch.float64) / 255
    green_blue = torch.stack(torch.broadcast_tensors(codes[:, None], codes[None, :]))[None]
    worst = 0.0
    for red in codes:
        rgb = torch.cat((red.expand(1, 1, 256, 256), green_blue), dim=1)
        worst = max(worst, (lab_to_rgb(rgb_to_lab(rgb)) - rgb).abs().max().item())
    assert worst <= 1e-9


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
        ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ],
)
def test_reference_values(rgb, lab) -> None:
    pixel = torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1)
    expected = torch.tensor(lab, dtype=torch.float64).view(1, 3, 1, 1)
    assert (rgb_to_lab(pixel) - expected).abs().max().item() <= 0.01


def test_white_and_black_are_exact() -> None:
    """The white point is the image of RGB white, so white has no chroma at all."""
    lab = rgb_to_lab(torch.tensor([1.0, 0.0]).view(1, 1, 1, 2).expand(1, 3, 1, 2).double())
    assert lab[0, :, 0, 0].tolist() == [100.0, 0.0, 0.0]
    assert lab[0, :, 0, 1].tolist() == [0.0, 0.0, 0.0]


def test_gradients() -> None:
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(1, 3, 2, 3, dtype=torch.float64, generator=generator) * 0.9 + 0.05
    rgb = torch.cat((rgb, torch.full((1, 3, 1, 3), 0.02, dtype=torch.float64)), dim=2)  # linear segment
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb.requires_grad_(),))
    lab = torch.tensor([[50.0, 20.0, -30.0], [5.0, 2.0, 1.0], [90.0, -40.0, 60.0]], dtype=torch.float64)
    lab = lab.T.reshape(1, 3, 1, 3)  # includes a dark colour on the linear segment of f
    assert torch.autograd.gradcheck(lab_to_rgb, (lab.requires_grad_(),))


def test_gradients_are_finite_at_the_edges() -> None:
    """Black, white, thresholds and out-of-gamut colours: the unused branches of the piecewise
    functions must not leak NaN or inf into the gradient."""
    rgb = torch.tensor([0.0, 1.0, 0.04045, 1.2, -0.1, 0.5], dtype=torch.float64)
    rgb = rgb.view(1, 1, 2, 3).expand(1, 3, 2, 3).clone().requires_grad_()
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()
    lab = torch.tensor([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0], [50.0, 120.0, -120.0], [-5.0, 0.0, 0.0]])
    lab = lab.T.reshape(1, 3, 2, 2).clone().requires_grad_()
    lab_to_rgb(lab).sum().backward()
    assert torch.isfinite(lab.grad).all()


def test_in_gamut_and_unclipped_output() -> None:
    lab = torch.tensor([[50.0, 0.0, 0.0], [50.0, 120.0, -120.0]], dtype=torch.float64)
    rgb = lab_to_rgb(lab.T.reshape(1, 3, 1, 2))
    assert rgb[..., 1].min() < 0 or rgb[..., 1].max() > 1  # kept outside [0, 1], not clipped
    mask = in_gamut(rgb)
    assert mask.shape == (1, 1, 1, 2)
    assert mask.dtype == torch.bool
    assert mask.flatten().tolist() == [True, False]
    white = lab_to_rgb(rgb_to_lab(torch.ones(2, 3, 4, 5)))
    assert in_gamut(white).all()  # float32 rounding above 1 is absorbed by atol


def test_dtype_device_and_modules_follow_the_functions() -> None:
    rgb = torch.rand(2, 3, 4, 5)
    lab = RgbToLab()(rgb)
    assert lab.dtype == torch.float32 and lab.device == rgb.device and lab.shape == rgb.shape
    assert torch.equal(lab, rgb_to_lab(rgb))
    assert torch.equal(LabToRgb()(lab), lab_to_rgb(lab))
    assert (lab_to_rgb(lab) - rgb).abs().max().item() <= 1e-4
    assert rgb_to_lab(rgb[0]).shape == (3, 4, 5)  # (*, 3, H, W): no batch is fine too


def test_bad_arguments_say_which_and_why() -> None:
    with pytest.raises(ValueError, match=r"image must have shape \(\*, 3, H, W\)"):
        rgb_to_lab(torch.zeros(1, 4, 2, 2))
    with pytest.raises(TypeError, match="floating-point"):
        lab_to_rgb(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        rgb_to_lab([[0.0]])
    with pytest.raises(ValueError, match="rgb must"):
        in_gamut(torch.zeros(3, 3))


def test_docstring_examples() -> None:
    result = doctest.testmod(color)
    assert result.attempted > 0
    assert result.failed == 0
