"""Invertible building blocks: one contract, one coupling class, one container."""

from invsteg.nn.coupling import AffineCoupling, hinet_scale, soft_clamp_scale
from invsteg.nn.haar import HaarSqueeze
from invsteg.nn.mixing import FixedOrthogonalMix, random_orthogonal
from invsteg.nn.sequential import InvertibleSequential
from invsteg.nn.subnets import DenseBlock

__all__ = [
    "AffineCoupling",
    "DenseBlock",
    "FixedOrthogonalMix",
    "HaarSqueeze",
    "InvertibleSequential",
    "hinet_scale",
    "random_orthogonal",
    "soft_clamp_scale",
]
