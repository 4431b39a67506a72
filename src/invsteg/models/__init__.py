"""Assembled networks, each built from a config dataclass."""

from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.models.stegcinn import StegCINN, StegCINNConfig

__all__ = ["HiNet", "HiNetConfig", "StegCINN", "StegCINNConfig"]
