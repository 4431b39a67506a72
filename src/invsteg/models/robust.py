"""Robust hiding (after RIIS, Xu et al., CVPR 2022): K secrets in one cover, revealed after
JPEG, noise, resizing and blur.

Three parts around a HiNet core of ``K`` secrets:

* the invertible core (:class:`~invsteg.models.hinet.HiNet`, ``secrets=K``) hides;
* a :class:`ContainerEnhancer` restores a distorted stego before the reverse pass, modulated
  (FiLM) by the distortion level that its :class:`DistortionEstimator` reads off the image
  (RIIS's distortion-guided modulation);
* a :class:`LostPartPredictor` gives the reverse pass the lost part ``r`` as a function of
  the container, where HiNet feeds blind noise. RIIS samples ``r`` from a conditional flow;
  we predict its conditional mean, which is what minimises the revealed secrets' squared
  error (a sample adds the flow's spread as noise on top), and costs one small CNN.

Beyond RIIS, ``scale`` s > 1 hides in the images' s x s block means: the core works on
images s times smaller, the stego is the cover plus the core's change repeated over each
block, and the revealed secrets are upsampled (bicubic). JPEG and a 0.5x resize keep block
means far better than pixel detail, so the secrets survive them; the price is the secrets'
finest detail. ``robust`` ships s = 4, ``robust-detail`` s = 2 (benchmarks/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invsteg.models.hinet import SUBBANDS, HiNet, HiNetConfig
from invsteg.nn import DenseBlock
from invsteg.ops.wavelets import haar_dwt, haar_iwt

DISTORTION_LEVELS = 5  # jpeg, gaussian, poisson, resize, blur: see invsteg.ops.attacks


@dataclass(frozen=True)
class RobustConfig:
    """Architecture of a robust hiding model.

    ``blocks``, ``growth``, ``clamp``: the HiNet core; ``secrets``: K;
    ``width`` and ``depth``: the enhancer's residual blocks; ``predictor_growth``: the
    lost-part predictor's dense block; ``scale`` s: 1 hides in pixels, 2 or 4 in s x s block
    means (see the module docstring).
    """

    blocks: int = 8
    growth: int = 32
    clamp: float = 2.0
    secrets: int = 2
    width: int = 64
    depth: int = 4
    predictor_growth: int = 32
    scale: int = 1

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 4):
            raise ValueError(f"RobustConfig.scale must be 1, 2 or 4, got {self.scale}")


class DistortionEstimator(nn.Module):
    """Stego bands ``(B, 12, h, w)`` -> distortion levels ``(B, 5)`` in ``[0, 1]``.

    Global average pooling makes it size-agnostic: one estimate per image.
    """

    def __init__(self, width: int, levels: int = DISTORTION_LEVELS) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3 * SUBBANDS, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(width, levels)

    def forward(self, bands: Tensor) -> Tensor:
        return torch.sigmoid(self.head(self.features(bands).mean(dim=(2, 3))))


class ModulatedResidualBlock(nn.Module):
    """conv -> FiLM(level) -> LeakyReLU -> conv, plus the input: ``(B, C, h, w)`` both ways."""

    def __init__(self, width: int, levels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.film = nn.Linear(levels, 2 * width)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, level: Tensor) -> Tensor:
        gamma, beta = self.film(level)[:, :, None, None].chunk(2, dim=1)
        return x + self.conv2(self.act(self.conv1(x) * (1 + gamma) + beta))


class ContainerEnhancer(nn.Module):
    """Distorted stego bands ``(B, 12, h, w)`` -> restored bands, same shape.

    Works on Haar bands at half resolution (4x fewer pixels than the image, and JPEG's
    8x8 blocks become 4x4 there); residual, with a zero-initialised output conv, so it
    starts as the identity.
    """

    def __init__(self, width: int, depth: int, levels: int = DISTORTION_LEVELS) -> None:
        super().__init__()
        channels = 3 * SUBBANDS
        self.estimator = DistortionEstimator(width // 2, levels)
        self.head = nn.Conv2d(channels, width, 3, padding=1)
        self.blocks = nn.ModuleList(ModulatedResidualBlock(width, levels) for _ in range(depth))
        self.tail = nn.Conv2d(width, channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, bands: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(restored bands, estimated level (B, 5))``."""
        level = self.estimator(bands)
        features = self.head(bands)
        for block in self.blocks:
            features = block(features, level)
        return bands + self.tail(features), level


class LostPartPredictor(nn.Module):
    """Container bands ``(B, 12, h, w)`` -> lost part ``(B, 12 K, h, w)`` (conditional mean).

    Starts at zero, which is HiNet's choice for ``z``.
    """

    def __init__(self, secrets: int, growth: int) -> None:
        super().__init__()
        self.net = DenseBlock(3 * SUBBANDS, 3 * SUBBANDS * secrets, growth=growth)

    def forward(self, bands: Tensor) -> Tensor:
        return self.net(bands)


class RobustHiNet(nn.Module):
    """Cover and K secrets -> stego; a possibly distorted stego -> K secrets.

    Images are ``(B, 3, H, W)`` in ``[0, 1]`` with even H and W. The invertible core is
    :attr:`core` (a HiNet); :meth:`forward` exposes it under the invertible contract.
    """

    def __init__(self, config: RobustConfig = RobustConfig()) -> None:
        super().__init__()
        self.config = config
        self.size_multiple = 2 * config.scale
        self.min_size = 8 * config.scale
        self.core = HiNet(
            HiNetConfig(
                blocks=config.blocks, growth=config.growth, clamp=config.clamp, secrets=config.secrets
            )
        )
        self.enhancer = ContainerEnhancer(config.width, config.depth)
        self.predictor = LostPartPredictor(config.secrets, config.predictor_growth)

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        """The invertible core on wavelet bands: ``(B, 12 (1 + K), h, w)`` both ways."""
        return self.core(x, cond=cond, reverse=reverse)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return self.core.forward_with_log_det(x, cond=cond)

    def example_inputs(
        self,
        batch: int,
        height: int,
        width: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """A valid core input ``(batch, 12 (1 + K), height, width)``; no condition."""
        return self.core.example_inputs(batch, height, width, dtype=dtype, generator=generator)

    def _down(self, image: Tensor) -> Tensor:
        return image if self.config.scale == 1 else F.avg_pool2d(image, self.config.scale)

    def _up(self, image: Tensor) -> Tensor:
        if self.config.scale == 1:
            return image
        return F.interpolate(image, scale_factor=self.config.scale, mode="bicubic", align_corners=False)

    def hide(self, cover: Tensor, *secrets: Tensor) -> tuple[Tensor, Tensor]:
        """``(stego (B, 3, H, W), lost part (B, 12 K, H/2s, W/2s))`` for ``scale`` s; the
        stego is not rounded."""
        small_cover = self._down(cover)
        small_stego, lost = self.core.hide(small_cover, *map(self._down, secrets))
        if self.config.scale == 1:
            return small_stego, lost
        # Nearest-neighbour repeat: its block means are exactly the core's stego.
        change = (small_stego - small_cover).repeat_interleave(self.config.scale, dim=2)
        return cover + change.repeat_interleave(self.config.scale, dim=3), lost

    def bands(self, stego: Tensor) -> Tensor:
        """The core's view of a stego: Haar bands ``(B, 12, H/2s, W/2s)`` of its block means."""
        return haar_dwt(self._down(stego))

    def restore(self, stego: Tensor) -> tuple[Tensor, Tensor]:
        """``(restored stego bands (B, 12, H/2s, W/2s), estimated level (B, 5))``."""
        return self.enhancer(self.bands(stego))

    def reveal_from_bands(self, bands: Tensor) -> list[Tensor]:
        """Restored stego bands -> K secrets ``[(B, 3, H, W), ...]``, with the predicted lost part."""
        out = self.core(torch.cat((bands, self.predictor(bands)), dim=1), reverse=True)
        secret_bands = out[:, self.core.band_channels :].split(self.core.band_channels, dim=1)
        return [self._up(haar_iwt(b)) for b in secret_bands]

    def reveal(self, stego: Tensor, *, enhance: bool = True) -> list[Tensor]:
        """A received (possibly distorted) stego ``(B, 3, H, W)`` -> K secrets."""
        bands = self.restore(stego)[0] if enhance else self.bands(stego)
        return self.reveal_from_bands(bands)
