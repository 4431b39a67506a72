"""IRN (Xiao et al., "Invertible Image Rescaling", ECCV 2020 / IJCV 2023): one invertible
network maps an image to a small image plus a latent ``z``; run backwards on the small
image (8-bit) and ``z``'s mean 0, it restores the large one.

Layout as the official code: per level a Haar squeeze then ``blocks`` couplings that keep
the first 3 channels (the small image) apart from the rest; x4 is two levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from invsteg.nn import AffineCoupling, DenseBlock, HaarSqueeze, InvertibleSequential, hinet_scale

IMAGE_CHANNELS = 3


@dataclass(frozen=True)
class IRNConfig:
    """Architecture of an IRN model. The defaults are the official x2 one."""

    levels: int = 1  # scale = 2 ** levels
    blocks: int = 8  # couplings per level
    growth: int = 32
    clamp: float = 1.0
    slope: float = 0.2  # the dense blocks' LeakyReLU


class IRN(nn.Module):
    """Invertible rescaling by ``2 ** levels``. Images are ``(B, 3, H, W)`` in ``[0, 1]``,
    H and W multiples of :attr:`size_multiple`."""

    def __init__(self, config: IRNConfig = IRNConfig()) -> None:
        super().__init__()
        self.config = config
        self.scale = 2**config.levels
        self.size_multiple = self.scale
        subnet = partial(DenseBlock, growth=config.growth, slope=config.slope)
        pieces: list[nn.Module] = []
        channels = IMAGE_CHANNELS
        for _ in range(config.levels):
            pieces.append(HaarSqueeze())
            channels *= 4
            for _ in range(config.blocks):
                pieces.append(AffineCoupling(channels, IMAGE_CHANNELS, subnet, hinet_scale(config.clamp)))
        self.latent_channels = channels - IMAGE_CHANNELS
        self.net = InvertibleSequential(pieces)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        """Image ``(B, 3, H, W)`` <-> ``(B, 3 + latent_channels, H/s, W/s)`` (small image first)."""
        return self.net(x, cond=cond, reverse=reverse)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
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
        """A valid input: a uniform ``[0, 1)`` image ``(batch, 3, height * s, width * s)``."""
        shape = (batch, IMAGE_CHANNELS, height * self.scale, width * self.scale)
        x = torch.rand(shape, dtype=dtype, generator=generator)
        return x.to(next(self.parameters()).device), None

    def downscale(self, image: Tensor) -> tuple[Tensor, Tensor]:
        """``(small image (B, 3, H/s, W/s), z (B, latent_channels, H/s, W/s))``; the small
        image is not yet rounded to 8 bits."""
        out = self(image)
        return out[:, :IMAGE_CHANNELS], out[:, IMAGE_CHANNELS:]

    def upscale(
        self,
        small: Tensor,
        z: Tensor | None = None,
        *,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The large image ``(B, 3, H s, W s)`` from ``small``; ``z`` defaults to
        ``temperature`` times a standard normal draw (0: the mean, the sharpest on average)."""
        if z is None:
            b, _, h, w = small.shape
            z = small.new_zeros(b, self.latent_channels, h, w)
            if temperature > 0:
                # drawn on the CPU, so one seed gives one image on every device
                noise = torch.randn(z.shape, generator=generator, dtype=z.dtype)
                z = temperature * noise.to(z.device)
        return self(torch.cat((small, z), dim=1), reverse=True)
