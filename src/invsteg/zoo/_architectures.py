"""The closed table of model architectures a weights file may name.

A weights file says which architecture it holds (``invsteg.architecture``) and with which
config (``invsteg.config``, JSON). Both are data: the name is looked up in this table, never
imported, and every config value is type- and range-checked before anything is built, so
a crafted file can neither run code nor make torch allocate terabytes.

This module does not import torch; the model classes load only when a model is built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from invsteg.errors import WeightsError
from invsteg.zoo._registry import Task


@dataclass(frozen=True)
class Field:
    """One config value: its type and inclusive range (``choices`` for a closed set)."""

    kind: type
    low: float = 0
    high: float = 0
    choices: tuple[Any, ...] = ()

    def check(self, name: str, value: Any) -> None:
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:  # float: JSON writes 2.0 as 2.0, but a hand-written 2 is fine too
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            raise WeightsError(f"config value {name}={value!r} is not a {self.kind.__name__}")
        if self.choices and value not in self.choices:
            raise WeightsError(f"config value {name}={value!r} is not one of {list(self.choices)}")
        if self.kind is not bool and not self.choices and not self.low <= value <= self.high:
            raise WeightsError(f"config value {name}={value!r} is outside [{self.low}, {self.high}]")


@dataclass(frozen=True)
class Architecture:
    """A model class and its config dataclass, loaded lazily, and the limits of that config."""

    name: str
    task: Task
    classes: Callable[[], tuple[type, type]]
    fields: Mapping[str, Field]

    def validate(self, config: Any) -> dict[str, Any]:
        """``config`` checked against :attr:`fields`: a dict of known keys in range."""
        if not isinstance(config, dict):
            raise WeightsError(f"{self.name} config must be a JSON object, not {type(config).__name__}")
        unknown = sorted(set(config) - set(self.fields))
        if unknown:
            raise WeightsError(f"{self.name} config has unknown keys {unknown}")
        for key, value in config.items():
            self.fields[key].check(key, value)
        return dict(config)

    def build(self, config: Any) -> Any:
        """A model of this architecture with random weights, after :meth:`validate`."""
        model_class, config_class = self.classes()
        return model_class(config_class(**self.validate(config)))


def _hinet() -> tuple[type, type]:
    from invsteg.models.hinet import HiNet, HiNetConfig

    return HiNet, HiNetConfig


def _stegcinn() -> tuple[type, type]:
    from invsteg.models.stegcinn import StegCINN, StegCINNConfig

    return StegCINN, StegCINNConfig


def _robust() -> tuple[type, type]:
    from invsteg.models.robust import RobustConfig, RobustHiNet

    return RobustHiNet, RobustConfig


def _irn() -> tuple[type, type]:
    from invsteg.models.irn import IRN, IRNConfig

    return IRN, IRNConfig


# Ranges are far above every model we train (hinet-official: 16 blocks, growth 32) and far
# below what exhausts memory (tests/test_weights.py bounds the largest one's parameters).
_BLOCKS = Field(int, 1, 32)
_WIDTH = Field(int, 1, 128)
_CLAMP = Field(float, 0.01, 10.0)
_SECRETS = Field(int, 1, 8)

ARCHITECTURES: Mapping[str, Architecture] = MappingProxyType(
    {
        "hinet": Architecture(
            "hinet",
            Task.HIDE,
            _hinet,
            MappingProxyType(
                {
                    "blocks": _BLOCKS,
                    "growth": _WIDTH,
                    "clamp": _CLAMP,
                    "image_channels": Field(int, choices=(3,)),
                    "secrets": _SECRETS,
                    "predictor_growth": Field(int, 0, 128),
                }
            ),
        ),
        "stegcinn": Architecture(
            "stegcinn",
            Task.EMBED,
            _stegcinn,
            MappingProxyType(
                {
                    "blocks": _BLOCKS,
                    "hidden": _WIDTH,
                    "cond_channels": _WIDTH,
                    "clamp": _CLAMP,
                    "seed": Field(int, 0, 2**31 - 1),
                    "keep_cover_colour": Field(bool),
                }
            ),
        ),
        "robust": Architecture(
            "robust",
            Task.ROBUST,
            _robust,
            MappingProxyType(
                {
                    "blocks": _BLOCKS,
                    "growth": _WIDTH,
                    "clamp": _CLAMP,
                    "secrets": _SECRETS,
                    "width": _WIDTH,
                    "depth": Field(int, 1, 16),
                    "predictor_growth": _WIDTH,
                    "scale": Field(int, choices=(1, 2, 4)),
                }
            ),
        ),
        "irn": Architecture(
            "irn",
            Task.RESCALE,
            _irn,
            MappingProxyType(
                {
                    "levels": Field(int, choices=(1, 2)),
                    "blocks": _BLOCKS,
                    "growth": _WIDTH,
                    "clamp": _CLAMP,
                    "slope": Field(float, 0.0, 1.0),
                }
            ),
        ),
    }
)

# Files written before the table existed named the Python classes; these exact pairs keep
# loading (as data: they are looked up here, never imported).
LEGACY_NAMES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("invsteg.models.hinet:HiNet", "invsteg.models.hinet:HiNetConfig"): "hinet",
        ("invsteg.models.stegcinn:StegCINN", "invsteg.models.stegcinn:StegCINNConfig"): "stegcinn",
        ("invsteg.models.robust:RobustHiNet", "invsteg.models.robust:RobustConfig"): "robust",
    }
)


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``; :class:`WeightsError` for any other string."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        known = ", ".join(ARCHITECTURES)
        raise WeightsError(f"unknown architecture {name!r}; invsteg builds only: {known}") from None


def architecture_of(model: Any) -> str:
    """The table's name for ``model``'s class (for writing weights files)."""
    for name, architecture in ARCHITECTURES.items():
        if type(model) is architecture.classes()[0]:
            return name
    raise WeightsError(f"{type(model).__name__} is not a registered architecture")
