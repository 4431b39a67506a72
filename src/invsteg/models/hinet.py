"""HiNet (Jing et al., ICCV 2021): image-in-image hiding with couplings on Haar subbands.

HiNet's reverse pass feeds ``z = 0`` (or noise) for the lost part. With
``predictor_growth`` > 0 the model also owns a lost-part predictor, as the robust models
do (after RIIS): a small dense block maps the stego's bands to the lost part's conditional
mean, and :meth:`HiNet.reveal` feeds that instead. Its last conv starts at zero, so a
model given a predictor starts exactly where the predictor-less one was.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from invsteg.nn import AffineCoupling, DenseBlock, InvertibleSequential, hinet_scale
from invsteg.ops.wavelets import haar_dwt, haar_iwt

SUBBANDS = 4  # one Haar level: LL, HL, LH, HH


@dataclass(frozen=True)
class HiNetConfig:
    """Architecture of a HiNet-style model. The defaults are the official one."""

    blocks: int = 16
    growth: int = 32
    clamp: float = 2.0
    image_channels: int = 3
    secrets: int = 1
    predictor_growth: int = 0  # 0: reveal with z = 0; else a lost-part predictor of this growth


class HiNet(nn.Module):
    """Cover and secret(s) -> stego, and stego -> secret(s), by one invertible network.

    Images are ``(B, 3, H, W)`` in ``[0, 1]`` with even H and W.
    """

    size_multiple = 2  # one Haar level halves the size
    min_size = 8  # smaller images have too few pixels to hide anything useful

    def __init__(self, config: HiNetConfig = HiNetConfig()) -> None:
        super().__init__()
        self.config = config
        self.band_channels = config.image_channels * SUBBANDS
        channels = self.band_channels * (1 + config.secrets)
        subnet = partial(DenseBlock, growth=config.growth)
        self.net = InvertibleSequential(
            AffineCoupling(channels, self.band_channels, subnet, hinet_scale(config.clamp))
            for _ in range(config.blocks)
        )
        # Only when asked for: predictor-less weights files keep their exact parameter set.
        lost_channels = self.band_channels * config.secrets
        self.predictor = (
            DenseBlock(self.band_channels, lost_channels, growth=config.predictor_growth)
            if config.predictor_growth
            else None
        )

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        """The invertible core on wavelet bands: ``(B, 12 (1 + K), h, w)`` both ways."""
        return self.net(x, cond=cond, reverse=reverse)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(forward(x), log |det J|)`` per sample ``(B,)``; HiNet is not trained by
        likelihood, but every model offers this so tests can check it generically."""
        return self.net.forward_with_log_det(x, cond=cond)

    def example_inputs(
        self,
        batch: int,
        height: int,
        width: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """A valid core input: uniform ``[0, 1)`` bands ``(batch, 12 (1 + K), height, width)``,
        and its condition (None: HiNet is unconditional). For tests."""
        channels = self.band_channels * (1 + self.config.secrets)
        x = torch.rand(batch, channels, height, width, dtype=dtype, generator=generator)
        return x.to(next(self.parameters()).device), None

    def hide(self, cover: Tensor, *secrets: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(stego, lost)``: the stego image ``(B, 3, H, W)`` (not yet rounded) and
        the discarded part ``r`` ``(B, 12 K, H/2, W/2)`` that reveal replaces by ``z``."""
        if len(secrets) != self.config.secrets:
            raise ValueError(f"this model hides {self.config.secrets} secret(s), got {len(secrets)}")
        bands = torch.cat([haar_dwt(image) for image in (cover, *secrets)], dim=1)
        out = self(bands)
        return haar_iwt(out[:, : self.band_channels]), out[:, self.band_channels :]

    def reveal(self, stego: Tensor, z: Tensor | None = None) -> list[Tensor]:
        """Recover the secret images ``[(B, 3, H, W), ...]`` from a stego image.

        ``z`` stands in for the lost part; unless given, the predictor's estimate from the
        stego, or zeros (its mean) for a model without one.
        """
        stego_bands = haar_dwt(stego)
        if z is None:
            z = self.predict_lost(stego_bands)
        out = self(torch.cat((stego_bands, z), dim=1), reverse=True)
        secret_bands = out[:, self.band_channels :].split(self.band_channels, dim=1)
        return [haar_iwt(bands) for bands in secret_bands]

    def predict_lost(self, stego_bands: Tensor) -> Tensor:
        """Stego bands ``(B, 12, h, w)`` -> the lost part's estimate ``(B, 12 K, h, w)``."""
        if self.predictor is not None:
            return self.predictor(stego_bands)
        b, _, h, w = stego_bands.shape
        return stego_bands.new_zeros(b, self.band_channels * self.config.secrets, h, w)
