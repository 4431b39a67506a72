"""Steg-cINN (Ren et al. 2022, "Hiding Data in Colors"): a conditional INN for colourisation.

The network is Ardizzone et al.'s colourisation cINN (2019) reduced to one resolution:
it maps the ab channels of a CIELAB image, given its L channel, to a Gaussian latent z
of the same size, and back. For embedding, bits become the signs of z
(:mod:`invsteg.pipelines.mapper`), :meth:`StegCINN.decode` turns z and the cover's L into
ab, and extraction runs :meth:`StegCINN.encode` on the stego's Lab.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn

from invsteg.nn import AffineCoupling, DenseBlock, FixedOrthogonalMix, InvertibleSequential, soft_clamp_scale
from invsteg.ops.wavelets import haar_dwt, haar_iwt

# Normalisation of Lab channels, ``(value - offset) / scale``: the ImageNet statistics of
# Ardizzone et al.'s colourisation cINN code (L, a, b), so z * scale + offset is a natural colour.
LAB_OFFSETS = (47.5, 2.4, 7.4)
LAB_SCALES = (25.6, 11.2, 16.8)

AB_CHANNELS = 2
LATENT_CHANNELS = 4 * AB_CHANNELS  # one Haar level: LL, HL, LH, HH of a and of b
DETAIL_CHANNELS = 3 * AB_CHANNELS  # HL, LH, HH of a and of b (haar_dwt puts LL first)
SUBNET_DEPTH = 3  # convs per coupling subnet; see StegCINN


@dataclass(frozen=True)
class StegCINNConfig:
    """Architecture of a Steg-cINN model.

    ``blocks`` couplings, each followed by a fixed orthogonal mixing seeded ``seed + i``;
    ``hidden`` is the width of the subnets and of the conditioning network;
    ``cond_channels`` the number of L features fed to every subnet; ``clamp`` the soft
    clamp ``c`` of the scales (``exp(c * 2/pi * atan(s / c))``, 1.5 in the paper).

    ``keep_cover_colour``: the stego keeps the cover's own colour averaged over 2x2 pixels
    (the Haar LL band of ab), which joins L as the condition, and the flow draws only the
    colour detail (HL, LH, HH): 6 latents per 2x2 block instead of 8. Steg-cINN draws
    all of the colour, and a small model trained for minutes draws it grey and speckled;
    keeping the coarse colour makes every stego look like its cover's colours at 3/4 of
    the capacity. Extraction reads the coarse colour back from the stego itself.
    """

    blocks: int = 8
    hidden: int = 32
    cond_channels: int = 16
    clamp: float = 1.5
    seed: int = 0
    keep_cover_colour: bool = False


def _condition_net(in_channels: int, hidden: int, out_channels: int) -> nn.Sequential:
    """Haar bands of normalised L (and the cover's coarse colour) ``(B, in_channels, h, w)``
    -> features ``(B, out_channels, h, w)``.

    Dilations 1, 2, 4 give a 17x17 receptive field at half resolution (34 pixels of the
    image) for few parameters; colour depends on context more than on the pixel itself.
    """
    act = partial(nn.LeakyReLU, 0.2)
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        act(),
        nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
        act(),
        nn.Conv2d(hidden, hidden, 3, padding=4, dilation=4),
        act(),
        nn.Conv2d(hidden, out_channels, 3, padding=1),
    )


class StegCINN(nn.Module):
    """ab given L -> latent z, and back, by a conditional invertible network.

    Pipeline (``encode``; ``decode`` runs it backwards)::

        ab (B, 2, H, W), Lab units -> (ab - offset) / scale -> Haar DWT -> x (B, 8, H/2, W/2)
        -> blocks x [AffineCoupling (cond = features of L) -> FixedOrthogonalMix] -> z

    Why a Haar level, not a squeeze: both turn 2 channels into 8 at half size (so the
    couplings split 4 | 4 and every conv runs on a quarter of the pixels), and both are
    orthonormal (log-det 0, exact inverse). But a squeeze only permutes pixels into
    channels, leaving four almost equal copies of the colour for the couplings to
    decorrelate, while the Haar transform already separates the smooth colour (LL, nearly
    all the energy) from its fine detail (small HL, LH, HH). Ardizzone et al.'s
    colourisation cINN downsamples with Haar for the same reason, and the transform is
    :mod:`invsteg.ops.wavelets`, the one HiNet uses. L gets the same Haar level before the
    conditioning network, so its features line up pixel for pixel with the ab bands.

    Subnets are :class:`~invsteg.nn.DenseBlock` s of 3 convs (not HiNet's 5): a cINN gets
    its capacity from many shallow couplings, and each coupling here runs four subnets.
    The last conv of each starts at zero, so a fresh model is orthogonal mixing only.

    Fully convolutional: any even H, W (the core itself takes any h, w). The core's
    :meth:`forward` follows the invertible contract with ``cond`` = :meth:`condition` (L).
    Likelihood training uses :meth:`nll` (built on :meth:`encode_with_log_det`).
    """

    size_multiple = 2  # one Haar level halves the size

    def __init__(self, config: StegCINNConfig = StegCINNConfig()) -> None:
        super().__init__()
        self.config = config
        self.uses_cover_colour = config.keep_cover_colour
        self.latent_channels = DETAIL_CHANNELS if config.keep_cover_colour else LATENT_CHANNELS
        channels = self.latent_channels
        subnet = partial(DenseBlock, growth=config.hidden, depth=SUBNET_DEPTH)
        blocks: list[nn.Module] = []
        for i in range(config.blocks):
            blocks.append(
                AffineCoupling(
                    channels,
                    channels // 2,
                    subnet,
                    soft_clamp_scale(config.clamp),
                    affine_first=True,
                    cond_channels=config.cond_channels,
                )
            )
            blocks.append(FixedOrthogonalMix(channels, seed=config.seed + i))
        self.net = InvertibleSequential(blocks)
        cond_inputs = 4 + (AB_CHANNELS if config.keep_cover_colour else 0)
        self.cond_net = _condition_net(cond_inputs, config.hidden, config.cond_channels)

    # -- the invertible core ------------------------------------------------------------

    def forward(self, x: Tensor, *, cond: Tensor | None = None, reverse: bool = False) -> Tensor:
        """The core: normalised ab bands ``(B, C, h, w)`` <-> z ``(B, C, h, w)``, given
        ``cond`` = :meth:`condition`, ``(B, cond_channels, h, w)``; C = ``latent_channels``
        (8 bands, or the 6 detail bands when the cover's colour is kept)."""
        return self.net(x, cond=cond, reverse=reverse)

    def forward_with_log_det(self, x: Tensor, *, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``(forward(x, cond=cond), log |det dz/dx|)``, the log-det per sample ``(B,)``."""
        return self.net.forward_with_log_det(x, cond=cond)

    def condition(self, lightness: Tensor, coarse: Tensor | None = None) -> Tensor:
        """L ``(B, 1, H, W)`` in ``[0, 100]`` (even H, W) -> features ``(B, cond_channels, H/2, W/2)``;
        with ``keep_cover_colour`` also the coarse colour ``(B, 2, H/2, W/2)``, the LL band
        of the normalised ab (:meth:`split_bands`)."""
        normalised = (lightness - LAB_OFFSETS[0]) / LAB_SCALES[0]
        bands = haar_dwt(normalised)
        if self.uses_cover_colour:
            if coarse is None:
                raise ValueError("this model keeps the cover's colour: pass the coarse colour")
            bands = torch.cat((bands, coarse), dim=1)
        return self.cond_net(bands)

    # -- images <-> latents --------------------------------------------------------------

    @staticmethod
    def _ab_scale_offset(like: Tensor) -> tuple[Tensor, Tensor]:
        """The ab normalisation, ``(1, 2, 1, 1)`` each, in ``like``'s dtype and device."""
        scale = like.new_tensor(LAB_SCALES[1:]).view(1, AB_CHANNELS, 1, 1)
        offset = like.new_tensor(LAB_OFFSETS[1:]).view(1, AB_CHANNELS, 1, 1)
        return scale, offset

    def split_bands(self, ab: Tensor) -> tuple[Tensor, Tensor]:
        """ab ``(B, 2, H, W)`` in Lab units -> (what conditions the flow, what it models):
        the normalised Haar bands, ``(B, 0 or 2, H/2, W/2)`` and ``(B, latent_channels, H/2, W/2)``."""
        scale, offset = self._ab_scale_offset(ab)
        bands = haar_dwt((ab - offset) / scale)
        kept = AB_CHANNELS if self.uses_cover_colour else 0
        return bands[:, :kept], bands[:, kept:]

    def _merge_bands(self, kept: Tensor, modelled: Tensor) -> Tensor:
        """Inverse of :meth:`split_bands`: bands -> ab ``(B, 2, H, W)`` in Lab units."""
        scale, offset = self._ab_scale_offset(modelled)
        return haar_iwt(torch.cat((kept, modelled), dim=1)) * scale + offset

    def encode(self, ab: Tensor, lightness: Tensor) -> Tensor:
        """ab ``(B, 2, H, W)`` and L ``(B, 1, H, W)`` in Lab units -> z ``(B, latent_channels, H/2, W/2)``."""
        kept, modelled = self.split_bands(ab)
        return self(modelled, cond=self.condition(lightness, kept))

    def encode_with_log_det(self, ab: Tensor, lightness: Tensor) -> tuple[Tensor, Tensor]:
        """``(encode(ab, L), log |det dz/d ab|)`` per sample ``(B,)``, of the map from the
        modelled ab values in Lab units: the core's log-det plus the normalisation's
        ``-(share) H W sum log scale``, share 1, or 3/4 when the LL band is kept (the Haar
        transform is orthonormal and adds nothing)."""
        kept, modelled = self.split_bands(ab)
        z, log_det = self.forward_with_log_det(modelled, cond=self.condition(lightness, kept))
        scale, _ = self._ab_scale_offset(ab)
        modelled_pixels = ab.shape[-2] * ab.shape[-1] * self.latent_channels / LATENT_CHANNELS
        return z, log_det - modelled_pixels * torch.log(scale).sum()

    def decode(self, z: Tensor, lightness: Tensor, cover_ab: Tensor | None = None) -> Tensor:
        """z ``(B, latent_channels, H/2, W/2)`` and L ``(B, 1, H, W)`` -> ab ``(B, 2, H, W)``
        in Lab units. ``cover_ab`` ``(B, 2, H, W)``: the colour whose 2x2 means the result
        keeps, needed with ``keep_cover_colour`` (and ignored without)."""
        kept = z.new_zeros(z.shape[0], 0, *z.shape[-2:])
        if self.uses_cover_colour:
            if cover_ab is None:
                raise ValueError("this model keeps the cover's colour: pass cover_ab")
            kept = self.split_bands(cover_ab)[0]
        return self._merge_bands(kept, self(z, cond=self.condition(lightness, kept), reverse=True))

    def nll(self, ab: Tensor, lightness: Tensor) -> Tensor:
        """Negative log-likelihood of ab given L under ``z ~ N(0, I)``, in nats per ab value,
        per sample ``(B,)``: ``(|z|^2 / 2 + D/2 log(2 pi) - log |det|) / D``, ``D = 2 H W``.
        Its batch mean is the maximum-likelihood training loss."""
        z, log_det = self.encode_with_log_det(ab, lightness)
        dims = z[0].numel()
        energy = 0.5 * z.square().flatten(1).sum(dim=1)
        return (energy + 0.5 * dims * math.log(2 * math.pi) - log_det) / dims

    def lab_to_latent_shape(self, shape: Sequence[int]) -> tuple[int, int, int, int]:
        """Shape of z for a Lab image (or its ab or L) of shape ``(B, C, H, W)``, even H, W."""
        if len(shape) != 4:
            raise ValueError(f"expected a (B, C, H, W) shape, got {tuple(shape)}")
        batch, _, height, width = shape
        if height % 2 or width % 2:
            raise ValueError(f"height and width must be even, got {height}x{width}")
        return batch, self.latent_channels, height // 2, width // 2

    def example_inputs(
        self,
        batch: int,
        height: int,
        width: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """A valid core input ``(batch, latent_channels, height, width)`` (standard normal,
        like z) and its condition: the features of a random L of size ``2 height x 2 width``
        (and a random coarse colour when the model keeps the cover's). For tests."""
        device = next(self.parameters()).device
        x = torch.randn(batch, self.latent_channels, height, width, dtype=dtype, generator=generator)
        lightness = 100 * torch.rand(batch, 1, 2 * height, 2 * width, dtype=dtype, generator=generator)
        coarse = torch.randn(batch, AB_CHANNELS, height, width, dtype=dtype, generator=generator)
        with torch.no_grad():
            cond = self.condition(lightness.to(device), coarse.to(device))
        return x.to(device), cond
