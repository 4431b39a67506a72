"""Exact, differentiable sRGB <-> CIELAB (D65, CIE 1931 2 degree observer) on tensors.

The conversion is ``sRGB -> linear RGB -> XYZ -> Lab`` and back, with

- the sRGB transfer function of IEC 61966-2-1 (thresholds 0.04045 encoded / 0.0031308 linear),
- the RGB -> XYZ matrix derived from the sRGB primaries and the D65 white point
  ``(0.95047, 1, 1.08883)``, applied with its rows divided by that white (XYZ / white is
  what ``f`` takes), so RGB white maps to exactly ``L = 100, a = b = 0``; the inverse is
  computed in float64 rather than taken from a rounded table, so the round trip is exact
  to float64 rounding (tests/test_color.py measures it over all 2^24 8-bit colours),
- the CIE ``f(t)`` with ``delta = 6/29``.

Every function takes ``(*, 3, H, W)`` floating tensors, keeps their dtype and device, is
differentiable everywhere (the power branches are fed clamped inputs, so the unused branch
of a ``torch.where`` never makes a NaN gradient) and does no in-place operation.
The 3x3 colour matrices are applied as weighted channel sums with Python-float weights,
not as a matmul, so TF32 or low-precision matmul settings cannot make them lossy.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor, nn

# sRGB primaries as CIE xy chromaticities (IEC 61966-2-1) and the D65 reference white as
# XYZ for the 2 degree observer, normalised to Y = 1.
_PRIMARIES_XY = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
D65_WHITE = (0.95047, 1.0, 1.08883)

_SRGB_ENCODED_THRESHOLD = 0.04045
_SRGB_LINEAR_THRESHOLD = 0.0031308
_DELTA = 6 / 29

Matrix = tuple[tuple[float, float, float], ...]


@lru_cache(maxsize=1)
def rgb_to_xyz_matrix() -> Matrix:
    """Linear sRGB -> XYZ, ``M = P diag(P^-1 W)`` with P the primaries' XYZ (Y = 1) as columns
    and W the D65 white: the rows of M sum to W (to rounding). Computed once, in float64."""
    xy = torch.tensor(_PRIMARIES_XY, dtype=torch.float64)
    x, y = xy[:, 0], xy[:, 1]
    primaries = torch.stack((x / y, torch.ones_like(x), (1 - x - y) / y))  # columns: R, G, B
    scale = torch.linalg.solve(primaries, torch.tensor(D65_WHITE, dtype=torch.float64))
    return tuple(tuple(row) for row in (primaries * scale).tolist())


@lru_cache(maxsize=1)
def _rgb_to_white_relative_xyz() -> Matrix:
    """Linear sRGB -> ``(X / Xn, Y / Yn, Z / Zn)``: each row of M divided by the white's
    component, so every row sums to 1 and RGB white gives exactly ``(1, 1, 1)``."""
    rows = torch.tensor(rgb_to_xyz_matrix(), dtype=torch.float64)
    return tuple(tuple(row) for row in (rows / rows.sum(dim=1, keepdim=True)).tolist())


@lru_cache(maxsize=1)
def _white_relative_xyz_to_rgb() -> Matrix:
    """The float64 inverse of :func:`_rgb_to_white_relative_xyz` (no rounded published table)."""
    inverse = torch.linalg.inv(torch.tensor(_rgb_to_white_relative_xyz(), dtype=torch.float64))
    return tuple(tuple(row) for row in inverse.tolist())


def _check_image(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must have shape (*, 3, H, W), got {tuple(x.shape)}")


def _apply_matrix(matrix: Matrix, x: Tensor) -> Tensor:
    c0, c1, c2 = x.unbind(dim=-3)
    rows = [torch.add(torch.add(m0 * c0, c1, alpha=m1), c2, alpha=m2) for m0, m1, m2 in matrix]
    return torch.stack(rows, dim=-3)


def _power(x: Tensor, exponent: float) -> Tensor:
    """``x ** exponent`` for ``x > 0`` as ``exp(exponent * log(x))``: torch's vectorised exp and
    log are about twice as fast on CPU as its float64 ``pow`` and agree with it to a few ulp."""
    return torch.exp(exponent * torch.log(x))


def srgb_to_linear(x: Tensor) -> Tensor:
    """sRGB transfer function, encoded -> linear, elementwise (any shape, values unclipped)."""
    power = _power((torch.clamp(x, min=_SRGB_ENCODED_THRESHOLD) + 0.055) / 1.055, 2.4)
    return torch.where(x <= _SRGB_ENCODED_THRESHOLD, x / 12.92, power)


def linear_to_srgb(x: Tensor) -> Tensor:
    """sRGB transfer function, linear -> encoded, elementwise (any shape, values unclipped)."""
    power = 1.055 * _power(torch.clamp(x, min=_SRGB_LINEAR_THRESHOLD), 1 / 2.4) - 0.055
    return torch.where(x <= _SRGB_LINEAR_THRESHOLD, 12.92 * x, power)


def _lab_f(t: Tensor) -> Tensor:
    cube_root = _power(torch.clamp(t, min=_DELTA**3), 1 / 3)
    return torch.where(t > _DELTA**3, cube_root, t / (3 * _DELTA**2) + 4 / 29)


def _lab_f_inverse(u: Tensor) -> Tensor:
    return torch.where(u > _DELTA, u**3, 3 * _DELTA**2 * (u - 4 / 29))


def rgb_to_lab(image: Tensor) -> Tensor:
    """sRGB to CIELAB (D65, 2 degree observer).

    Args:
        image: ``(*, 3, H, W)`` sRGB (gamma-encoded) in ``[0, 1]``; any floating dtype.

    Returns:
        ``(*, 3, H, W)`` of the same dtype and device: L in ``[0, 100]``, a and b roughly in
        ``[-128, 127]`` (sRGB reaches a in ``[-86.2, 98.3]``, b in ``[-107.9, 94.5]``).

    Example:
        >>> lab = rgb_to_lab(torch.ones(1, 3, 1, 1, dtype=torch.float64))
        >>> [round(v, 6) + 0.0 for v in lab.flatten().tolist()]
        [100.0, 0.0, 0.0]
    """
    _check_image(image, "image")
    fx, fy, fz = _lab_f(_apply_matrix(_rgb_to_white_relative_xyz(), srgb_to_linear(image))).unbind(-3)
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)), dim=-3)


def lab_to_rgb(image: Tensor) -> Tensor:
    """CIELAB (D65, 2 degree observer) to sRGB, unclipped.

    Args:
        image: ``(*, 3, H, W)`` Lab: L in ``[0, 100]``, a and b roughly in ``[-128, 127]``.

    Returns:
        ``(*, 3, H, W)`` sRGB of the same dtype and device, NOT clipped: colours outside the
        sRGB gamut come out below 0 or above 1 (see :func:`in_gamut`), so a caller can tell
        which colours an 8-bit file cannot hold.

    Example:
        >>> rgb = lab_to_rgb(torch.tensor([[[[53.2408]], [[80.0925]], [[67.2032]]]]))
        >>> [round(v, 3) + 0.0 for v in rgb.flatten().tolist()]
        [1.0, 0.0, 0.0]
    """
    _check_image(image, "image")
    lightness, a, b = image.unbind(dim=-3)
    fy = (lightness + 16) / 116
    xyz = _lab_f_inverse(torch.stack((fy + a / 500, fy, fy - b / 200), dim=-3))  # / white
    return linear_to_srgb(_apply_matrix(_white_relative_xyz_to_rgb(), xyz))


def in_gamut(rgb: Tensor, atol: float = 1e-5) -> Tensor:
    """Which pixels of an unclipped sRGB image an 8-bit file holds without clipping.

    Args:
        rgb: ``(*, 3, H, W)`` sRGB, e.g. from :func:`lab_to_rgb`.
        atol: slack beyond ``[0, 1]`` that still counts as inside; the default absorbs
            float32 conversion error (a float32 round trip of the 8-bit colours overshoots
            by up to 7e-6) and is far below an 8-bit step (1/255).

    Returns:
        ``(*, 1, H, W)`` bool mask (broadcasts against the image): True where all three
        channels lie in ``[-atol, 1 + atol]``.
    """
    _check_image(rgb, "rgb")
    inside = (rgb >= -atol) & (rgb <= 1 + atol)
    return inside.all(dim=-3, keepdim=True)


class RgbToLab(nn.Module):
    """Module form of :func:`rgb_to_lab`: ``(*, 3, H, W)`` sRGB in ``[0, 1]`` -> Lab."""

    def forward(self, image: Tensor) -> Tensor:
        return rgb_to_lab(image)


class LabToRgb(nn.Module):
    """Module form of :func:`lab_to_rgb`: ``(*, 3, H, W)`` Lab -> unclipped sRGB."""

    def forward(self, image: Tensor) -> Tensor:
        return lab_to_rgb(image)
