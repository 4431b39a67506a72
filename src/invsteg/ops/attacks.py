"""Differentiable image attacks to train a robust model through.

They work on ``(B, 3, H, W)`` float tensors in ``[0, 1]`` and let the gradient reach their
input: :func:`jpeg_approx`, :func:`gaussian_noise`, :func:`poisson_noise`,
:func:`resize_down_up`, :func:`gaussian_blur`, and :class:`AttackMixer`, which draws one of
them per sample (RIIS-style), rounds to 8 bits (:func:`~invsteg.ops.quantize.round_8bit`) and
reports what it did. Each models a real attack of :mod:`invsteg.ops.distortions` (Pillow JPEG,
numpy noise, Pillow resizing and blur on uint8 images), which is what tests and benchmarks
measure against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invsteg.ops.quantize import round_8bit

Strength = float | Tensor
"""A scalar, or a per-sample tensor of shape ``(B,)``."""

KINDS = ("jpeg", "gaussian", "poisson", "resize", "blur")
"""The attack kinds, in the column order of :class:`AttackMixer`'s ``level``."""

# -- JPEG constants -----------------------------------------------------------------------------

# ITU-T T.81 Annex K tables (what libjpeg scales), natural order: row = vertical frequency.
_LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8 for _ in range(4)),
)
# JFIF full-range YCbCr (what libjpeg uses), offsets on the 0..255 scale.
_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168735892, -0.331264108, 0.5),
    (0.5, -0.418687589, -0.081312411),
)
_YCBCR_TO_RGB = (
    (1.0, 0.0, 1.402),
    (1.0, -0.344136286, -0.714136286),
    (1.0, 1.772, 0.0),
)


def _dct_matrix(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The orthonormal 8-point DCT-II matrix ``D`` (``D @ block @ D.T`` is the 2-D DCT).

    Orthonormal scaling is the one T.81 quantizes: its ``C(u) C(v) / 4`` factor.
    """
    n = torch.arange(8, dtype=torch.float64)
    k = n[:, None]
    d = torch.cos((2 * n[None, :] + 1) * k * math.pi / 16) * math.sqrt(2 / 8)
    d[0] = math.sqrt(1 / 8)
    return d.to(dtype=dtype, device=device)


def jpeg_quant_tables(quality: Strength, *, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """libjpeg's luminance and chrominance tables for ``quality``, each ``(N, 8, 8)`` float64.

    ``N`` is 1 for a scalar quality, ``B`` for a ``(B,)`` tensor. Scaling follows
    ``jpeg_quality_scaling`` and ``jpeg_add_quant_table`` with ``force_baseline``:
    ``scale = 5000 // q`` below 50, else ``200 - 2 q``; ``(base * scale + 50) // 100`` clamped
    to ``1..255``. An integer quality gives exactly the tables Pillow writes.
    """
    q = torch.as_tensor(quality, dtype=torch.float64, device=device).detach().reshape(-1).clamp(1, 100)
    scale = torch.where(q < 50, torch.floor(5000 / q), 200 - 2 * q)[:, None, None]
    tables = []
    for base in (_LUMA_TABLE, _CHROMA_TABLE):
        table = torch.tensor(base, dtype=torch.float64, device=q.device)
        tables.append(torch.floor((table * scale + 50) / 100).clamp(1, 255))
    return tables[0], tables[1]


def _mix_channels(matrix: tuple[tuple[float, float, float], ...], x: Tensor) -> Tensor:
    # Weighted channel sums with Python floats, as in invsteg.ops.color: no matmul precision mode.
    r, g, b = x.unbind(1)
    return torch.stack([m[0] * r + m[1] * g + m[2] * b for m in matrix], 1)


def _differentiable_round(x: Tensor) -> Tensor:
    """``round(x) + (x - round(x))**3`` (Shin & Song 2017): close to rounding, gradient non-zero."""
    rounded = torch.round(x)
    return rounded + (x - rounded) ** 3


def _jpeg_plane(plane: Tensor, table: Tensor, dct: Tensor) -> Tensor:
    """DCT, quantize, dequantize, inverse DCT of ``(B, C, H, W)`` level-shifted samples.

    ``H`` and ``W`` are multiples of 8; ``table`` is ``(1 or B, 8, 8)``.
    """
    b, c, h, w = plane.shape
    blocks = plane.reshape(b, c, h // 8, 8, w // 8, 8).transpose(3, 4)  # (B, C, H/8, W/8, 8, 8)
    coefficients = dct @ blocks @ dct.T
    table = table[:, None, None, None]  # broadcast over channels and block positions
    restored = dct.T @ (_differentiable_round(coefficients / table) * table) @ dct
    return restored.transpose(3, 4).reshape(b, c, h, w)


def jpeg_approx(x: Tensor, quality: Strength) -> Tensor:
    """Differentiable JPEG: ``(B, 3, H, W)`` in ``[0, 1]`` -> ``(B, 3, H, W)`` in ``[0, 1]``.

    The steps of baseline libjpeg as Pillow calls it: JFIF YCbCr, 4:2:0 chroma (2x2 average
    down, bilinear up, which is libjpeg's "fancy" triangle upsampling), 8x8 orthonormal DCT,
    quantization with the IJG tables scaled for ``quality`` (a float, or ``(B,)`` per sample,
    in ``1..100``), and the inverse. Rounding of the quantized coefficients is the cubic
    approximation, so the gradient w.r.t. ``x`` is non-zero. ``H, W`` are padded (replicate,
    as libjpeg pads partial MCUs) to a multiple of 16 and cropped back. The 8-bit rounding of
    the decoded pixels is left to :func:`round_8bit`.

    Computed in float32 (or float64 for float64 input) with autocast off, whatever the caller
    runs under: in bf16, coefficients up to ~2000 would carry errors larger than the
    quantization steps at high quality. The result has ``x``'s dtype.
    """
    _check_image(x)
    with torch.autocast(x.device.type, enabled=False):
        return _jpeg_approx(x.to(torch.promote_types(x.dtype, torch.float32)), quality).to(x.dtype)


def _jpeg_approx(x: Tensor, quality: Strength) -> Tensor:
    b, _, h, w = x.shape
    dct = _dct_matrix(x.dtype, x.device)
    luma, chroma = (t.to(x.dtype) for t in jpeg_quant_tables(quality, device=x.device))
    if luma.shape[0] not in (1, b):
        raise ValueError(f"quality must be a scalar or have shape ({b},), got {luma.shape[0]} values")
    padded = F.pad(x * 255, (0, -w % 16, 0, -h % 16), mode="replicate")
    ycbcr = _mix_channels(_RGB_TO_YCBCR, padded)  # Cb, Cr centred on 0: the level shift of 128
    y = _jpeg_plane(ycbcr[:, :1] - 128, luma, dct) + 128
    cbcr = _jpeg_plane(F.avg_pool2d(ycbcr[:, 1:], 2), chroma, dct)
    cbcr = F.interpolate(cbcr, scale_factor=2, mode="bilinear", align_corners=False)
    rgb = _mix_channels(_YCBCR_TO_RGB, torch.cat([y, cbcr], 1))[:, :, :h, :w] / 255
    return _clamp_straight_through(rgb)


# -- other differentiable attacks ----------------------------------------------------------------


def _check_image(x: Tensor) -> None:
    if x.dim() != 4 or x.shape[1] != 3 or not x.is_floating_point():
        raise ValueError(f"expected a float tensor (B, 3, H, W), got {tuple(x.shape)} {x.dtype}")


def _per_sample(value: Strength, x: Tensor) -> Tensor:
    """A scalar or ``(B,)`` strength as ``(1 or B, 1, 1, 1)`` in ``x``'s dtype and device."""
    v = torch.as_tensor(value, dtype=x.dtype, device=x.device).detach().reshape(-1)
    if v.numel() not in (1, x.shape[0]):
        raise ValueError(f"strength must be a scalar or have shape ({x.shape[0]},), got {tuple(v.shape)}")
    return v.view(-1, 1, 1, 1)


def _clamp_straight_through(x: Tensor) -> Tensor:
    # A real decoder clamps; a plain clamp would stop the gradient at saturated pixels.
    return x + (x.clamp(0, 1) - x).detach()


def gaussian_noise(x: Tensor, sigma: Strength, generator: torch.Generator | None = None) -> Tensor:
    """``x + N(0, sigma^2)`` on ``(B, 3, H, W)``; ``sigma`` in ``[0, 1]`` units, scalar or ``(B,)``.

    ``generator`` must live on ``x``'s device (a torch rule); ``None`` uses the global RNG.
    """
    _check_image(x)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + _per_sample(sigma, x) * noise


def poisson_noise(x: Tensor, peak: Strength, generator: torch.Generator | None = None) -> Tensor:
    """Shot noise: ``Poisson(x * peak) / peak`` on ``(B, 3, H, W)``; ``peak`` photons at white.

    Smaller ``peak`` is noisier (std ``sqrt(x / peak)``). Sampling has no gradient, so the
    noise is added straight through: ``x + (sample - x).detach()``.
    """
    _check_image(x)
    peak_t = _per_sample(peak, x)
    with torch.no_grad():
        sample = torch.poisson(x.clamp(min=0) * peak_t, generator=generator) / peak_t
    return x + (sample - x).detach()


def _resize_one(x: Tensor, scale: float) -> Tensor:
    h, w = x.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    if size == (h, w):
        return x
    # antialias on the way down (what a real downscaler does); upsampling needs none
    down = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)


def resize_down_up(x: Tensor, scale: Strength) -> Tensor:
    """Bilinear (antialiased) down by ``scale`` in ``[0.5, 1]``, then back up to ``(H, W)``.

    ``x`` is ``(B, 3, H, W)``; ``scale`` a float or ``(B,)`` (each sample then has its own
    intermediate size, so they are resized one by one). ``scale = 1`` returns ``x`` itself.
    """
    _check_image(x)
    scales = _per_sample(scale, x).flatten().tolist()
    if len(scales) == 1:
        return _resize_one(x, scales[0])
    return torch.cat([_resize_one(x[i : i + 1], s) for i, s in enumerate(scales)])


def gaussian_blur(x: Tensor, sigma: Strength) -> Tensor:
    """Separable Gaussian blur of ``(B, 3, H, W)``; ``sigma`` in pixels, float or ``(B,)``.

    Radius ``ceil(3 sigma)`` (of the largest sigma), reflect padding; ``sigma = 0`` is the
    identity. All samples go through one grouped convolution, each with its own kernel,
    in ``x``'s dtype even under autocast.
    """
    _check_image(x)
    b, c, h, w = x.shape
    sigmas = _per_sample(sigma, x).flatten().clamp(min=0)
    radius = min(math.ceil(3 * float(sigmas.max())), h - 1, w - 1)  # reflect needs pad < size
    if radius <= 0:
        return x
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    # sigma -> 0 gives a unit impulse rather than 0/0
    kernels = torch.exp(-(offsets**2) / (2 * sigmas.clamp(min=1e-6)[:, None] ** 2))
    kernels = (kernels / kernels.sum(1, keepdim=True)).expand(b, -1).repeat_interleave(c, 0)
    planes = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    with torch.autocast(x.device.type, enabled=False):  # in x's dtype, as the other attacks
        planes = F.conv2d(planes, kernels[:, None, None, :], groups=b * c)
        planes = F.conv2d(planes, kernels[:, None, :, None], groups=b * c)
    return planes.reshape(b, c, h, w)


# -- the training mixer --------------------------------------------------------------------------


@dataclass(frozen=True)
class AttackConfig:
    """What :class:`AttackMixer` draws from. Ranges are ``(min, max)`` of the parameter.

    Each kind has a mild end (JPEG Q95, sigma 1/255, many photons, no resize, sigma 0.5 blur)
    and a harsh end; a strength ``t`` in ``[0, 1]`` picks a point between them (Poisson is
    interpolated in noise std, ``1 / sqrt(peak)``, so its strength is linear in noise too).
    """

    jpeg_quality: tuple[float, float] = (50.0, 95.0)
    noise_sigma: tuple[float, float] = (1 / 255, 10 / 255)
    poisson_peak: tuple[float, float] = (255.0, 4000.0)  # std at mid-grey ~11/255 .. ~3/255
    resize_scale: tuple[float, float] = (0.5, 1.0)
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    p_clean: float = 0.2
    """Probability that a sample gets 8-bit rounding only."""
    kind_weights: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    """Relative odds of jpeg, gaussian, poisson, resize, blur among the attacked samples."""
    curriculum_steps: int = 0
    """Steps over which the harsh end opens up linearly from the mild end; 0 = full range at once."""

    def __post_init__(self) -> None:
        bounds = {
            "jpeg_quality": (1, 100),
            "noise_sigma": (0, 1),
            "poisson_peak": (1e-3, math.inf),
            "resize_scale": (1e-3, 1),
            "blur_sigma": (0, math.inf),
        }
        for name, (low, high) in bounds.items():
            lo, hi = getattr(self, name)
            if not low <= lo <= hi <= high:
                raise ValueError(
                    f"AttackConfig.{name} must be (min, max) within [{low}, {high}], got {(lo, hi)}"
                )
        if not 0 <= self.p_clean <= 1:
            raise ValueError(f"AttackConfig.p_clean must be in [0, 1], got {self.p_clean}")
        if len(self.kind_weights) != len(KINDS) or min(self.kind_weights) < 0:
            raise ValueError(f"AttackConfig.kind_weights needs {len(KINDS)} non-negative weights")
        if self.p_clean < 1 and sum(self.kind_weights) <= 0:
            raise ValueError("AttackConfig.kind_weights are all zero but p_clean < 1")
        if self.curriculum_steps < 0:
            raise ValueError(f"AttackConfig.curriculum_steps must be >= 0, got {self.curriculum_steps}")

    def curriculum(self, step: int) -> float:
        """The fraction of each range open at ``step``: ``min(1, step / curriculum_steps)``."""
        if self.curriculum_steps <= 0:
            return 1.0
        return min(1.0, max(0, step) / self.curriculum_steps)

    def parameter(self, kind: str, t: Tensor) -> Tensor:
        """The attack parameter for strength ``t`` in ``[0, 1]`` (0 mild, 1 harsh), same shape."""
        if kind == "jpeg":
            low, high = self.jpeg_quality
            return high - t * (high - low)
        if kind == "gaussian":
            low, high = self.noise_sigma
            return low + t * (high - low)
        if kind == "poisson":
            mild, harsh = (1 / math.sqrt(p) for p in reversed(self.poisson_peak))
            return (mild + t * (harsh - mild)) ** -2
        if kind == "resize":
            low, high = self.resize_scale
            return high - t * (high - low)
        if kind == "blur":
            low, high = self.blur_sigma
            return low + t * (high - low)
        raise ValueError(f"unknown attack kind {kind!r}; choose one of {', '.join(KINDS)}")

    def level(self, kind: str, value: Tensor) -> Tensor:
        """How much an attack parameter damages, in ``[0, 1]``: 0 untouched, 1 the harsh end.

        jpeg ``(100 - q) / (100 - q_min)``, gaussian ``sigma / sigma_max``, poisson
        ``sqrt(peak_min / peak)`` (noise std relative to the harshest), resize
        ``(1 - scale) / (1 - scale_min)``, blur ``sigma / sigma_max``.
        """
        if kind == "jpeg":
            level = (100 - value) / (100 - self.jpeg_quality[0])
        elif kind == "gaussian":
            level = value / max(self.noise_sigma[1], 1e-12)
        elif kind == "poisson":
            level = torch.sqrt(self.poisson_peak[0] / value)
        elif kind == "resize":
            level = (1 - value) / max(1 - self.resize_scale[0], 1e-12)
        elif kind == "blur":
            level = value / max(self.blur_sigma[1], 1e-12)
        else:
            raise ValueError(f"unknown attack kind {kind!r}; choose one of {', '.join(KINDS)}")
        return level.clamp(0, 1)


_ATTACKS = {
    "jpeg": lambda x, v, g: jpeg_approx(x, v),
    "gaussian": gaussian_noise,
    "poisson": poisson_noise,
    "resize": lambda x, v, g: resize_down_up(x, v),
    "blur": lambda x, v, g: gaussian_blur(x, v),
}


class AttackMixer(nn.Module):
    """One random attack per sample, then 8-bit rounding: the channel a robust model trains through.

    Each sample independently gets "rounding only" (probability ``p_clean``) or one of
    :data:`KINDS` (odds ``kind_weights``), at a strength drawn uniformly in
    ``[0, curriculum(step)]``; the batch is split by kind, attacked, and put back in order.
    No parameters; everything random comes from ``generator``.
    """

    def __init__(self, config: AttackConfig | None = None) -> None:
        super().__init__()
        self.config = config or AttackConfig()

    def extra_repr(self) -> str:
        return repr(self.config)

    def forward(
        self, x: Tensor, step: int, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """``x`` ``(B, 3, H, W)`` in ``[0, 1]`` -> ``(attacked, level)``.

        ``attacked`` is ``(B, 3, H, W)`` on the 8-bit grid (straight-through gradient);
        ``level`` is ``(B, 5)`` in ``[0, 1]``, columns in :data:`KINDS` order: the applied
        kind's :meth:`AttackConfig.level`, zeros elsewhere (all zeros for rounding only).
        ``generator`` drives the draws and the noise, so it must live on ``x``'s device.
        """
        _check_image(x)
        if generator is not None and generator.device.type != x.device.type:
            raise ValueError(f"generator is on {generator.device} but x is on {x.device}; use one device")
        cfg = self.config
        b = x.shape[0]
        weights = torch.tensor(cfg.kind_weights, dtype=torch.float64)
        attacked = (1 - cfg.p_clean) * weights / weights.sum().clamp(min=1e-12)
        odds = torch.cat([torch.tensor([cfg.p_clean], dtype=torch.float64), attacked])
        kinds = torch.multinomial(odds.to(x.device), b, replacement=True, generator=generator).cpu()
        strengths = torch.rand(b, generator=generator, device=x.device, dtype=torch.float64)
        strengths = (strengths * cfg.curriculum(step)).to(x.device)

        level = x.new_zeros(b, len(KINDS))
        pieces, order = [], []
        for code in kinds.unique().tolist():  # code 0 is "rounding only", 1..5 index KINDS
            index = (kinds == code).nonzero().flatten().to(x.device)
            sub = x[index]
            if code > 0:
                kind = KINDS[code - 1]
                value = cfg.parameter(kind, strengths[index])
                sub = _ATTACKS[kind](sub, value.to(x.dtype), generator)
                level[index, code - 1] = cfg.level(kind, value).to(x.dtype)
            pieces.append(sub)
            order.append(index)
        inverse = torch.argsort(torch.cat(order))
        return round_8bit(torch.cat(pieces)[inverse]), level
