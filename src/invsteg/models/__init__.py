"""Assembled networks, each built from a config dataclass."""

from invsteg.models.hinet import HiNet, HiNetConfig

__all__ = ["HiNet", "HiNetConfig"]
