"""Quality metrics against their textbook definitions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from invsteg.eval.metrics import psnr, ssim


def _ssim_by_the_book(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Wang et al. 2004 with the full 11x11 Gaussian window (sigma 1.5), valid region."""
    a, b = a.double(), b.double()
    coords = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :]) / g.sum() ** 2
    kernel = window.expand(a.shape[1], 1, 11, 11)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, kernel, groups=a.shape[1])

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    value = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.flatten(1).mean(1)


def test_ssim_is_the_textbook_ssim() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 40, 52, generator=generator)
    b = (a + 0.1 * torch.randn(a.shape, generator=generator)).clamp(0, 1)
    assert torch.allclose(ssim(a, b), _ssim_by_the_book(a, b), rtol=0, atol=1e-12)
    assert torch.allclose(ssim(a, a), torch.ones(2, dtype=torch.float64))
    assert (ssim(a, b) < 0.99).all()


def test_psnr_of_a_known_error() -> None:
    a = torch.zeros(1, 3, 4, 4)
    assert torch.allclose(psnr(a, a + 0.1), torch.tensor([20.0], dtype=torch.float64))
