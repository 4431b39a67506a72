"""Real attacks on 8-bit images, the way a file meets them: Pillow JPEG, numpy noise, Pillow
resizing and blur, on ``(H, W, 3)`` uint8 arrays; and what a channel does besides: a centre
crop, a small rotation, brightness and contrast, a chat app's resize to a long side.

:func:`attack_image` chains them in the order resize, blur, noise, JPEG (JPEG last, as a file
is compressed when it is saved); :func:`check_attacks` validates settings before any work.
:func:`encode_jpeg` is the one JPEG encoder of invsteg. numpy and Pillow only: ``invsteg
attack`` never loads torch. The differentiable versions to train through are in
:mod:`invsteg.ops.attacks`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from invsteg.errors import UsageError

# Beyond these, an attack no longer models a channel: noise of sigma 255 already leaves only
# black and white, and Pillow's blur fails on radii around 1e18 (and takes ever longer before).
MAX_NOISE_SIGMA = 255.0
MAX_BLUR_SIGMA = 100.0
# Noise is drawn and added in row bands of about this many values (see _noisy_in_bands).
NOISE_BAND_VALUES = 1 << 20


def _check_uint8(img: np.ndarray) -> None:
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {img.shape} {img.dtype}")


def check_jpeg_quality(quality: int) -> None:
    """JPEG quality must be an integer in ``1..100`` (UsageError otherwise)."""
    value = float(quality) if isinstance(quality, (int, float, np.integer, np.floating)) else math.nan
    if isinstance(quality, bool) or not (value.is_integer() and 1 <= value <= 100):
        raise UsageError(f"JPEG quality must be an integer from 1 to 100, got {quality}")


def check_sigma(sigma: float, what: str, maximum: float = math.inf) -> None:
    """A noise or blur sigma must be finite and in ``[0, maximum]`` (UsageError otherwise).

    ``what`` is ``"noise"`` or ``"blur"``, the name of its parameter.
    """
    if not math.isfinite(sigma) or not 0 <= sigma <= maximum:
        bound = f"from 0 to {maximum:g}" if math.isfinite(maximum) else ">= 0"
        raise UsageError(f"{what} sigma (`{what}`) must be a finite number {bound}, got {sigma:g}")


def check_seed(seed: int) -> None:
    """A noise seed must be a whole number >= 0, what ``numpy.random.default_rng`` takes."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"noise seed (`seed`) must be a whole number >= 0, got {seed}")


def check_scale(scale: float) -> None:
    """A resize scale must be in ``(0, 1]`` (UsageError otherwise)."""
    if not math.isfinite(scale) or not 0 < scale <= 1:
        raise UsageError(f"resize scale must be in (0, 1] (e.g. 0.5 halves each side), got {scale}")


def encode_jpeg(img: np.ndarray, quality: int) -> bytes:
    """``(H, W, 3)`` uint8 -> JPEG file bytes at ``quality`` (Pillow defaults: 4:2:0)."""
    _check_uint8(img)
    check_jpeg_quality(quality)
    buffer = io.BytesIO()
    Image.fromarray(img, "RGB").save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG file bytes -> ``(H, W, 3)`` uint8."""
    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def real_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG encode and decode in memory with Pillow: ``(H, W, 3)`` uint8 -> same."""
    return decode_jpeg(encode_jpeg(img, quality))


def _noisy_in_bands(img: np.ndarray, noisy: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``round(noisy(band))`` clipped to uint8, row band by row band.

    A whole 100 MP image in float64 is 2.4 GB per temporary; bands keep them at a few MB.
    The bands are drawn in order from one generator, which yields the same numbers as one
    whole-image draw, so the result does not depend on the band size.
    """
    out = np.empty_like(img)
    rows = max(1, NOISE_BAND_VALUES // max(1, img.shape[1] * img.shape[2]))
    for top in range(0, img.shape[0], rows):
        values = noisy(img[top : top + rows])
        out[top : top + rows] = np.clip(np.round(values, out=values), 0, 255, out=values)
    return out


def real_gaussian_noise(img: np.ndarray, sigma_255: float, rng: np.random.Generator) -> np.ndarray:
    """Add ``N(0, sigma_255^2)`` (0..255 scale), round and clip: ``(H, W, 3)`` uint8 -> same."""
    _check_uint8(img)
    check_sigma(sigma_255, "noise", MAX_NOISE_SIGMA)
    return _noisy_in_bands(img, lambda band: band + rng.normal(0.0, sigma_255, band.shape))


def real_poisson(img: np.ndarray, peak: float, rng: np.random.Generator) -> np.ndarray:
    """Shot noise with ``peak`` photons at white, rounded and clipped: uint8 -> uint8."""
    _check_uint8(img)
    if not math.isfinite(peak) or peak <= 0:
        raise UsageError(f"Poisson peak must be a finite number > 0, got {peak}")
    return _noisy_in_bands(img, lambda band: rng.poisson(band / 255.0 * peak) / peak * 255)


def real_downscale(img: np.ndarray, scale: float) -> np.ndarray:
    """Pillow bicubic resize by ``scale`` (what a chat app does), ``(H, W, 3)`` uint8 -> the
    smaller uint8 image (each side rounded, at least 1 px)."""
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(img, "RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.uint8)


def real_resize(img: np.ndarray, scale: float) -> np.ndarray:
    """Pillow bicubic down by ``scale`` in ``(0, 1]`` and back up to the original size."""
    _check_uint8(img)
    check_scale(scale)
    h, w = img.shape[:2]
    small = real_downscale(img, scale)
    if small.shape[:2] == (h, w):
        return img.copy()
    back = Image.fromarray(small, "RGB").resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(back, dtype=np.uint8).copy()


def real_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Pillow ``GaussianBlur`` (its radius is the standard deviation) of ``(H, W, 3)`` uint8."""
    _check_uint8(img)
    check_sigma(sigma, "blur", MAX_BLUR_SIGMA)
    if sigma == 0:
        return img.copy()
    blurred = Image.fromarray(img, "RGB").filter(ImageFilter.GaussianBlur(radius=sigma))
    return np.asarray(blurred, dtype=np.uint8).copy()


def real_center_crop(img: np.ndarray, keep: float) -> np.ndarray:
    """The centre of ``(H, W, 3)`` uint8 that keeps ``keep`` in ``(0, 1]`` of each side
    (each rounded, at least 1 px): a crop 0.7 keeps 49% of the area."""
    _check_uint8(img)
    if not math.isfinite(keep) or not 0 < keep <= 1:
        raise UsageError(f"crop must keep a share in (0, 1] of each side, got {keep}")
    h, w = img.shape[:2]
    ch, cw = max(1, round(h * keep)), max(1, round(w * keep))
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[top : top + ch, left : left + cw].copy()


def real_rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Bicubic rotation by ``degrees`` (counter-clockwise) about the centre, at the same size:
    the corners that leave the frame are lost, those that enter it are black.

    Each channel is turned as a float image and rounded once: Pillow's 8-bit rotation
    truncates, which darkens the whole image by half a level (a second attack, not a turn).
    """
    _check_uint8(img)
    if not math.isfinite(degrees):
        raise UsageError(f"rotation must be a finite angle in degrees, got {degrees}")
    out = np.empty_like(img)
    for c in range(3):
        plane = Image.fromarray(img[..., c].astype(np.float32), "F")
        turned = np.asarray(plane.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=0.0))
        out[..., c] = np.clip(np.rint(turned), 0, 255)
    return out


def _check_factor(factor: float, what: str) -> None:
    if not math.isfinite(factor) or factor < 0:
        raise UsageError(f"{what} factor must be a finite number >= 0 (1 leaves the image), got {factor}")


def _enhance(img: np.ndarray, factor: float, enhancer: type) -> np.ndarray:
    _check_uint8(img)
    _check_factor(factor, enhancer.__name__.lower())
    return np.asarray(enhancer(Image.fromarray(img, "RGB")).enhance(factor), dtype=np.uint8).copy()


def real_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Every sample times ``factor``, rounded and clipped (Pillow ``ImageEnhance.Brightness``)."""
    return _enhance(img, factor, ImageEnhance.Brightness)


def real_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Each sample's distance from the image's mean grey scaled by ``factor``, rounded and
    clipped (Pillow ``ImageEnhance.Contrast``)."""
    return _enhance(img, factor, ImageEnhance.Contrast)


def real_fit_long_side(img: np.ndarray, long_side: int) -> np.ndarray:
    """Pillow bicubic resize so that the long side is at most ``long_side`` px (what a chat
    app does before it recompresses); a smaller image is left as it is, never enlarged."""
    _check_uint8(img)
    if long_side < 1:
        raise UsageError(f"long side must be at least 1 px, got {long_side}")
    scale = long_side / max(img.shape[:2])
    return real_downscale(img, scale) if scale < 1 else img.copy()


@dataclass(frozen=True)
class AttackResult:
    """The attacked pixels ``(H, W, 3)`` uint8 and, if JPEG was the last step, its file bytes."""

    pixels: np.ndarray
    jpeg_bytes: bytes | None
    applied: tuple[str, ...]
    """What was done, in order, e.g. ``("resize 0.5", "jpeg Q50")``."""


def check_attacks(
    *,
    jpeg: int | None = None,
    noise: float | None = None,
    resize: float | None = None,
    blur: float | None = None,
    seed: int | None = None,
) -> None:
    """Validate real-attack settings before any work (UsageError naming the bad one)."""
    if jpeg is None and noise is None and resize is None and blur is None:
        raise UsageError("name at least one attack: `jpeg`, `noise`, `resize` or `blur`")
    if jpeg is not None:
        check_jpeg_quality(jpeg)
    if noise is not None:
        check_sigma(noise, "noise", MAX_NOISE_SIGMA)
    if resize is not None:
        check_scale(resize)
    if blur is not None:
        check_sigma(blur, "blur", MAX_BLUR_SIGMA)
    if seed is not None:
        check_seed(seed)


def attack_image(
    img: np.ndarray,
    *,
    jpeg: int | None = None,
    noise: float | None = None,
    resize: float | None = None,
    blur: float | None = None,
    seed: int = 0,
) -> AttackResult:
    """Apply the named attacks in the order resize, blur, noise, JPEG (a save comes last).

    ``noise`` is a Gaussian sigma on the 0..255 scale, drawn from ``default_rng(seed)``.
    """
    _check_uint8(img)
    check_attacks(jpeg=jpeg, noise=noise, resize=resize, blur=blur, seed=seed)
    out, applied, data = img, [], None
    if resize is not None:
        out = real_resize(out, resize)
        applied.append(f"resize {resize:g}")
    if blur is not None:
        out = real_blur(out, blur)
        applied.append(f"blur {blur:g}")
    if noise is not None:
        out = real_gaussian_noise(out, noise, np.random.default_rng(seed))
        applied.append(f"noise {noise:g}")
    if jpeg is not None:
        data = encode_jpeg(out, jpeg)
        out = decode_jpeg(data)
        applied.append(f"jpeg Q{jpeg}")
    return AttackResult(out if out is not img else img.copy(), data, tuple(applied))
