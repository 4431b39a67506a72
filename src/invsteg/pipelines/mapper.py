"""Steg-cINN sign mapper: bits <-> Gaussian latents (Ren et al. 2022, "Hiding Data in Colors").

Bit 1 becomes a draw of N(0, 1) truncated to ``z > alpha``, bit 0 a draw truncated to
``z < -alpha``. With uniform bits (the container whitens or encrypts), z is distributed as
N(0, 1) with the band ``|z| <= alpha`` cut out, so the colourisation network sees
near-typical latents and the stego colours look natural; the gap ``alpha`` is the margin
that absorbs small errors in the round trip image -> z'.

An optional ``ceiling`` also cuts the tails ``|z| >= ceiling``: the far tails give the most
saturated colours, which are the ones that leave the sRGB gamut and get clipped (and a
clipped colour loses its bit). See ``EmbedSettings`` in :mod:`invsteg.pipelines.embed_types` for
the values embed-file uses.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

# Beyond this the tail mass Phi(-alpha) underflows double precision.
_MAX_ALPHA = 30.0


def _upper_tail(x: float) -> float:
    """P(Z > x) for Z ~ N(0, 1), accurate in the far tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _tail_magnitudes(
    shape: tuple[int, ...], alpha: float, generator: torch.Generator, ceiling: float | None = None
) -> Tensor:
    """|z| for z ~ N(0,1) conditioned on alpha < z (< ceiling), float64, exact inverse-CDF sampling."""
    tail = _upper_tail(alpha)  # P(Z > alpha)
    top = 0.0 if ceiling is None else _upper_tail(ceiling)  # P(Z > ceiling)
    # 1 - rand is in (0, 1]: u = 0 would give ndtri(top) = ceiling (or -inf without one).
    u = 1.0 - torch.rand(shape, generator=generator, dtype=torch.float64)
    # P(Z > m) = top + u * (tail - top)  <=>  m = -ndtri(top + u * (tail - top)). Working in
    # the lower tail keeps full relative precision, which ndtri(1 - small) would lose.
    return -torch.special.ndtri(top + u * (tail - top))


def _floor_above(alpha: float, dtype: torch.dtype) -> Tensor:
    """Smallest value of ``dtype`` strictly above ``alpha`` (both exactly and after rounding)."""
    a = torch.tensor(alpha, dtype=dtype)
    return torch.nextafter(a, torch.tensor(math.inf, dtype=dtype))


def bits_to_latents(
    bits: np.ndarray,
    alpha: float,
    generator: torch.Generator,
    *,
    dtype: torch.dtype = torch.float32,
    ceiling: float | None = None,
) -> Tensor:
    """Map bits to latents whose signs carry them.

    Args:
        bits: array of 0/1, any shape (usually ``(num_latents,)``; reshape to the model's latent
            shape afterwards).
        alpha: margin >= 0 (paper: 0.1); every output has ``|z| > alpha``.
        generator: CPU ``torch.Generator``; the only randomness used.
        dtype: output dtype (float32 or float64).
        ceiling: if given (> alpha), also ``|z| <= ceiling``: the draw is N(0, 1) restricted
            to ``alpha < |z| < ceiling``.

    Returns:
        CPU tensor of ``bits.shape`` and ``dtype``: ``z > alpha`` where the bit is 1, ``z < -alpha``
        where it is 0.
    """
    arr = np.asarray(bits)
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError("bits must contain only 0 and 1")
    if not (math.isfinite(alpha) and 0.0 <= alpha <= _MAX_ALPHA):
        raise ValueError(f"alpha must be in [0, {_MAX_ALPHA}], got {alpha}")
    if ceiling is not None and not (math.isfinite(ceiling) and alpha < ceiling):
        raise ValueError(f"ceiling must be finite and > alpha ({alpha}), got {ceiling}")
    mags = _tail_magnitudes(tuple(arr.shape), alpha, generator, ceiling).to(dtype)
    # Rounding to float32 (or ndtri at u = 1) can land exactly on alpha; keep the promise |z| > alpha.
    mags = torch.maximum(mags, _floor_above(alpha, dtype))
    if ceiling is not None:
        mags = torch.clamp(mags, max=ceiling)
    signs = torch.from_numpy(arr.astype(np.int8)).to(dtype) * 2 - 1
    return signs * mags


def draw_latents(
    bits: np.ndarray,
    mask: np.ndarray,
    generator: torch.Generator,
    like: Tensor,
    *,
    alpha: float,
    ceiling: float | None = None,
    chunk: int = 1 << 22,
) -> Tensor:
    """Latents that carry ``bits`` at the ``mask`` positions.

    Args:
        bits: ``(mask.sum(),)`` 0/1, in the order of ``mask``'s True positions.
        mask: bool, the latents' shape without the batch dimension.
        generator: CPU ``torch.Generator``: first a standard normal draw of every latent,
            then :func:`bits_to_latents` for the carriers, ``chunk`` at a time (the float64
            inverse-CDF sampling needs ~8x the bits in temporaries).
        like: the output's dtype and device.
        alpha, ceiling: see :func:`bits_to_latents`.

    Returns:
        ``(1, *mask.shape)``: the carriers from :func:`bits_to_latents`, every other latent
        a plain standard normal draw (what the network expects).
    """
    carriers = torch.from_numpy(mask)[None].to(like.device)
    z = torch.randn((1, *mask.shape), generator=generator, dtype=like.dtype).to(like.device)
    carried = torch.empty(bits.size, dtype=like.dtype)
    for start in range(0, bits.size, chunk):
        part = bits[start : start + chunk]
        carried[start : start + part.size] = bits_to_latents(
            part, alpha, generator, dtype=like.dtype, ceiling=ceiling
        )
    # masked_scatter_, not z[carriers] = ...: boolean-index assignment first lists the
    # indices, 32 bytes per latent (768 MB for a 12 MP cover)
    return z.masked_scatter_(carriers, carried.to(like.device))


def latents_to_bits(z: Tensor | np.ndarray) -> np.ndarray:
    """Read the bits back: 1 where ``z > 0``, else 0. Same shape as ``z``, dtype uint8."""
    if isinstance(z, Tensor):
        return (z.detach() > 0).to(torch.uint8).cpu().numpy()
    return (np.asarray(z) > 0).astype(np.uint8)


def _mask_like(z: Tensor, mask: Tensor | np.ndarray) -> Tensor:
    m = torch.as_tensor(np.asarray(mask) if not isinstance(mask, Tensor) else mask).to(
        device=z.device, dtype=torch.bool
    )
    if m.shape != z.shape:
        raise ValueError(f"mask shape {tuple(m.shape)} does not match latents {tuple(z.shape)}")
    return m


def strengthen(
    z: Tensor,
    wrong_mask: Tensor | np.ndarray,
    factor: float = 1.5,
    *,
    max_abs: float | None = None,
) -> Tensor:
    """Push the latents that read back wrong further from zero, keeping their (intended) sign.

    For the verify-after-embed loop: embed, save as 8 bits, extract z', and where
    ``sign(z') != sign(z)`` call this on the *embedded* z, then embed again.

    Args:
        z: embedded latents, any shape.
        wrong_mask: bool array/tensor of ``z.shape``; True where the bit came back wrong.
        factor: > 1; the margin ``|z|`` is multiplied by it.
        max_abs: optional cap on the pushed magnitude so latents stay in the range the network
            was trained on (never shrinks a latent that is already larger).

    Returns:
        A new tensor (``z`` is not modified, so autograd graphs stay valid).
    """
    if not factor > 1.0:
        raise ValueError(f"factor must be > 1, got {factor}")
    mask = _mask_like(z, wrong_mask)
    mag = z.abs() * factor
    if max_abs is not None:
        mag = torch.minimum(mag, torch.maximum(z.abs(), torch.full_like(mag, max_abs)))
    return torch.where(mask, torch.sign(z) * mag, z)


def shrink(z: Tensor, blocks: Tensor, carriers: Tensor, alpha: float, factor: float) -> Tensor:
    """Pull the latents of the masked blocks toward zero, keeping every carrier's sign and
    ``|z| > alpha``: carriers' magnitude beyond ``alpha`` and other latents' magnitude scale
    by ``factor`` (< 1). ``z`` and ``carriers`` are ``(1, C, h, w)``, ``blocks`` ``(1, 1, h, w)``.

    For colours that clip out of the sRGB gamut (see docs/design.md): smaller latents give
    colours nearer the model's typical one. Returns a new tensor.
    """
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must be in (0, 1), got {factor}")
    carrier_shrunk = torch.sign(z) * (alpha + (z.abs() - alpha) * factor)
    shrunk = torch.where(carriers, carrier_shrunk, z * factor)
    return torch.where(blocks, shrunk, z)


def resample(
    z: Tensor,
    mask: Tensor | np.ndarray,
    alpha: float,
    generator: torch.Generator,
    *,
    ceiling: float | None = None,
) -> Tensor:
    """Redraw the masked latents from the same truncated tail (or band), keeping their signs.

    The alternative to :func:`strengthen` when a flip comes from a colour that clips out of
    the sRGB gamut (see docs/design.md): a fresh draw, usually smaller, can land back inside,
    whereas pushing further out cannot. Returns a new tensor.
    """
    m = _mask_like(z, mask)
    fresh = bits_to_latents(latents_to_bits(z), alpha, generator, dtype=z.dtype, ceiling=ceiling)
    fresh = fresh.to(z.device)
    return torch.where(m, fresh, z)
