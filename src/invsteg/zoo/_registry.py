"""The model zoo as data: one frozen :class:`ModelSpec` per named model.

Nothing else in invsteg knows model names. This module does not import torch,
so the CLI can list models and validate a model name instantly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from invsteg.errors import ModelError


class Task(str, Enum):
    """What a model does for its application; each has a contract in ``invsteg.models.contracts``."""

    HIDE = "hide"  # image in image (ImageHider)
    ROBUST = "robust"  # K images, revealed after lossy channels (RobustHider)
    EMBED = "embed"  # bytes in colour (ColourEmbedder)
    RESCALE = "rescale"  # invertible down- and up-scaling (Rescaler)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ModelSpec:
    """A named model: how to build it, which weights it ships with, its wire id.

    ``architecture`` names an entry of :mod:`invsteg.zoo._architectures`, built from ``config``.
    The full sha256 of ``weights`` is kept in ``weights/SHA256SUMS``, which
    ``invsteg train``'s export rewrites, so the registry cannot drift from the files.
    """

    name: str
    task: Task
    architecture: str  # a key of invsteg.zoo._architectures.ARCHITECTURES
    config: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    weights: str | None = None
    wire_id: int = 0
    description: str = ""
    quality: str = "not measured"


def _frozen(**kwargs: Any) -> MappingProxyType:
    return MappingProxyType(dict(kwargs))


_IRN_SMALL = dict(blocks=4, growth=16, clamp=1.0, slope=0.2)
_IRN_OFFICIAL = dict(blocks=8, growth=32, clamp=1.0, slope=0.2)
_ROBUST = dict(blocks=8, growth=32, clamp=2.0, secrets=2, width=64, depth=4, predictor_growth=32)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="hinet-small",
        task=Task.HIDE,
        architecture="hinet",
        config=_frozen(blocks=6, growth=24, clamp=2.0),
        weights="hinet-small.safetensors",
        wire_id=1,
        description="default: 6 blocks, growth 24, trained through 8-bit rounding",
        quality="val, 8-bit PNG: stego 48.5 / secret 40.1 dB (center256), 45.2 / 40.6 dB (whole512)",
    ),
    ModelSpec(
        name="hinet-official",
        task=Task.HIDE,
        architecture="hinet",
        config=_frozen(blocks=16, growth=32, clamp=2.0),
        weights=None,
        wire_id=2,
        description="HiNet's exact architecture (4,050,240 parameters); bring weights "
        "with `invsteg convert-weights` and pass them as `weights`",
    ),
    ModelSpec(
        name="stegcinn-small",
        task=Task.EMBED,
        architecture="stegcinn",
        config=_frozen(blocks=8, hidden=32, cond_channels=16, clamp=1.5, seed=0),
        weights="stegcinn-small.safetensors",
        wire_id=3,
        description="Steg-cINN colourisation flow for embed-file: 8 couplings, hidden 32, soft clamp 1.5",
        quality="val, 8-bit PNG, files at 100% capacity (~1 bpp net): bit-exact 24/24 "
        "(center256, whole512), raw bit accuracy 99.87-99.996% before error correction",
    ),
    ModelSpec(
        name="stegcinn-fast",
        task=Task.EMBED,
        architecture="stegcinn",
        config=_frozen(blocks=6, hidden=16, cond_channels=8, clamp=1.5, seed=0),
        weights="stegcinn-fast.safetensors",
        wire_id=5,
        description="default for embed-file: Steg-cINN with 6 couplings of hidden 16, "
        "about 4x faster than stegcinn-small",
        quality="val, 8-bit PNG, files at 100% capacity (~1 bpp net): bit-exact 48/48 "
        "(center256, whole512, 1 MP, full size), raw bit accuracy 99.8-99.98% before error correction",
    ),
    ModelSpec(
        name="stegcinn-detail",
        task=Task.EMBED,
        architecture="stegcinn",
        config=_frozen(blocks=6, hidden=16, cond_channels=8, clamp=1.5, seed=0, keep_cover_colour=True),
        weights="stegcinn-detail.safetensors",
        wire_id=6,
        description="Steg-cINN that keeps the cover's colour in 2x2 blocks and draws only the "
        "colour detail: stegos look like the cover, at 3/4 of stegcinn-fast's capacity",
    ),
    ModelSpec(
        name="robust",
        task=Task.ROBUST,
        architecture="robust",
        config=_frozen(**_ROBUST, scale=4),
        weights="robust.safetensors",
        wire_id=4,
        quality="val 256 px, 2 secrets: stego 41.2 dB, pattern 2.2 levels; secrets 32.1 clean, "
        "23.5 JPEG Q75, 29.0 noise 5/255, 31.2 resize 0.5x",
        description="robust mode: 2 secrets hidden in 4x4 block means, survive JPEG, noise, "
        "resizing and blur (container enhancer + lost-part predictor around an 8-block HiNet core)",
    ),
    ModelSpec(
        name="robust-one",
        task=Task.ROBUST,
        architecture="robust",
        config=_frozen(**(_ROBUST | {"secrets": 1}), scale=4),
        weights="robust-one.safetensors",
        wire_id=12,
        quality="val 256 px, 1 secret: stego 44.1 dB, pattern 1.1 levels; secret 29.3 clean, "
        "26.5 JPEG Q75, 27.0 noise 5/255, 29.9 resize 0.5x",
        description="robust mode for one secret (hiding one secret with `robust=True` picks it): "
        "a cleaner stego and a sturdier secret than robust's two",
    ),
    ModelSpec(
        name="robust-detail",
        task=Task.ROBUST,
        architecture="robust",
        config=_frozen(**_ROBUST, scale=2),
        weights="robust-detail.safetensors",
        wire_id=7,
        quality="val 256 px, 2 secrets: stego 33.9 dB; secrets 32.3 clean, 21.4 JPEG Q75, "
        "30.1 noise 5/255, 24.6 resize 0.5x",
        description="robust's first architecture in 2x2 block means: sharper secrets, less robust "
        "to JPEG, and a visible stripe pattern (benchmarks/results.md)",
    ),
    ModelSpec(
        name="irn-x2",
        task=Task.RESCALE,
        architecture="irn",
        config=_frozen(levels=1, **_IRN_SMALL),
        weights="irn-x2.safetensors",
        wire_id=8,
        description="IRN invertible 2x down- and up-scaling: 4 couplings of growth 16 (`rescale up` "
        "of small images it made before 2026-11-29)",
    ),
    ModelSpec(
        name="irn-x2-v2",
        task=Task.RESCALE,
        architecture="irn",
        config=_frozen(levels=1, **_IRN_SMALL),
        weights="irn-x2-v2.safetensors",
        wire_id=13,
        description="irn-x2 trained 70 minutes more, the small image's fit weighted 2 instead of 4: "
        "+0.3 dB restored; the default at `scale=2` since 2026-11-29",
    ),
    ModelSpec(
        name="irn-x4",
        task=Task.RESCALE,
        architecture="irn",
        config=_frozen(levels=2, **_IRN_SMALL),
        weights="irn-x4.safetensors",
        wire_id=9,
        description="IRN invertible 4x down- and up-scaling: two levels of 4 couplings, growth 16",
    ),
    ModelSpec(
        name="irn-official-x2",
        task=Task.RESCALE,
        architecture="irn",
        config=_frozen(levels=1, **_IRN_OFFICIAL),
        wire_id=10,
        description="IRN's exact x2 architecture (1,667,952 parameters); bring weights "
        "with `invsteg convert-weights` and pass them as `weights`",
    ),
    ModelSpec(
        name="irn-official-x4",
        task=Task.RESCALE,
        architecture="irn",
        config=_frozen(levels=2, **_IRN_OFFICIAL),
        wire_id=11,
        description="IRN's exact x4 architecture; bring weights with `invsteg convert-weights` "
        "and pass them as `weights`",
    ),
)

DEFAULT_MODEL = "hinet-small"
# embed-file's default: stegos keep the cover's colours (see invsteg.pipelines.embedding.default_embed_model
# and benchmarks/results.md).
DEFAULT_EMBED_MODEL = "stegcinn-detail"


def list_models(task: Task | str | None = None) -> list[ModelSpec]:
    """All registered specs, optionally only those for ``task``."""
    return [s for s in SPECS if task is None or s.task == task]


def get_spec(name: str) -> ModelSpec:
    """The spec called ``name``; :class:`ModelError` listing the known names otherwise."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in SPECS)
    raise ModelError(f"unknown model {name!r}; known models: {known}")
