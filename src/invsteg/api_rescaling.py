"""Invertible rescaling and the model list, as library calls. Part of :mod:`invsteg.api`,
which re-exports it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from invsteg.api_hiding import resolve_device
from invsteg.errors import UsageError
from invsteg.pipelines.rescaling import DEFAULT_REFINE_PASSES, DEFAULT_RESCALE_TILE, RescaleNote
from invsteg.zoo import Task, create_model, default_model, default_rescaler, list_models

if TYPE_CHECKING:
    from invsteg.models.contracts import Rescaler


def load_rescaler(
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    *,
    device: str = "cpu",
) -> Rescaler:
    """The rescaling model: ``model`` or the one in ``weights``, else the default for ``scale``
    (default x2), on ``device``; its scale must be ``scale`` when both are given."""
    if model is None and weights is None:
        model = default_rescaler(scale or 2)
    net = create_model(model, weights=weights, task=Task.RESCALE)
    if scale is not None and net.scale != scale:
        raise UsageError(f"{weights or model} rescales by {net.scale}, not by {scale}")
    return net.to(resolve_device(device))


@dataclass(frozen=True)
class Rescaled:
    """A rescaled image and the note that ties a small image to its upscale."""

    pixels: np.ndarray
    model: str  # the model's name, or its weights file's
    note: RescaleNote | None  # down: to store in the small PNG; up: the note it followed, if any
    padded: bool = False  # down: the input was padded to a multiple of the scale


def rescale_down(
    image: np.ndarray,
    *,
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    net: Rescaler | None = None,
    tile: int = DEFAULT_RESCALE_TILE,
    refine: int = DEFAULT_REFINE_PASSES,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> Rescaled:
    """``image`` made ``scale`` times smaller so that :func:`rescale_up` restores it.
    Sides that are not multiples of the scale are padded (the note keeps the true size).
    ``refine``: passes of the search over the small image's levels (0: the network's output,
    rounded; each pass costs about a forward and a backward pass); ``progress`` is called
    with ``(tiles done, tiles)``."""
    from invsteg.pipelines import rescaling

    net = net or load_rescaler(scale, model, weights, device=device)
    small = rescaling.downscale(image, net, tile=tile, refine=refine, progress=progress)
    name = _rescaler_name(net, model, weights)
    height, width = image.shape[:2]
    note = RescaleNote(name, net.scale, width, height, tile)
    return Rescaled(small, name, note, padded=bool(height % net.scale or width % net.scale))


def rescale_up(
    small: np.ndarray,
    *,
    note: RescaleNote | None = None,
    scale: int | None = None,
    model: str | None = None,
    weights: Path | str | None = None,
    net: Rescaler | None = None,
    tile: int | None = None,
    size: tuple[int, int] | None = None,
    temperature: float = 0.0,
    seed: int = 0,
    device: str = "cpu",
) -> Rescaled:
    """The large image restored from ``small``. A ``note`` (from :func:`rescale_down`'s
    PNG) supplies the model, scale, tile grid and original size unless they are given."""
    from invsteg.pipelines import rescaling

    if note is not None and model is None and weights is None and net is None and scale in (None, note.scale):
        if note.model not in {spec.name for spec in list_models(Task.RESCALE)}:
            raise UsageError(f"this image was made with weights {note.model!r}: pass them as `weights`")
        model = note.model
    net = net or load_rescaler(scale, model, weights, device=device)
    if note is not None and note.scale != net.scale:
        raise UsageError(f"this image was made {note.scale}x smaller; it cannot be upscaled {net.scale}x")
    size = size or ((note.width, note.height) if note else None)
    tile = tile or (note.tile if note else DEFAULT_RESCALE_TILE)
    large = rescaling.upscale(small, net, tile=tile, size=size, temperature=temperature, seed=seed)
    return Rescaled(large, _rescaler_name(net, model, weights), note)


def _rescaler_name(net: Rescaler, model: str | None, weights: Path | str | None) -> str:
    return Path(weights).name if weights is not None else model or default_rescaler(net.scale)


# -- models and channels ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    name: str
    task: str
    parameters: int
    weights: str
    quality: str
    description: str
    default: bool = field(default=False)


def models() -> list[ModelInfo]:
    """Every registered model with its size; building them costs a second or two."""
    from invsteg.zoo import parameter_count

    defaults = {default_model(task) for task in Task}
    return [
        ModelInfo(
            spec.name,
            spec.task.value,
            parameter_count(spec.name),
            spec.weights or "none shipped",
            spec.quality,
            spec.description,
            spec.name in defaults,
        )
        for spec in list_models()
    ]
