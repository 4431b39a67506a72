"""The model zoo: named models, their pretrained weights, and the one way to build them.

Like timm's: the registry, the architecture table and the weights loader are private
(``_registry``, ``_architectures``, ``_pretrained``); the surface is this package:
:func:`create_model` and :func:`list_models`, and for training, converting and checking
weights files the loader's own functions (``save_weights``, ``load_weights_file``, ...).
Nothing outside the zoo imports a private module. Importing this package does not import
torch, so the CLI can list models and check a model name instantly: the loader's names
import it on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from invsteg.errors import ModelError
from invsteg.zoo._registry import DEFAULT_EMBED_MODEL, DEFAULT_MODEL, ModelSpec, Task, get_spec, list_models

if TYPE_CHECKING:
    from torch import nn

    from invsteg.models.contracts import ColourEmbedder, ImageHider, Rescaler, RobustHider
    from invsteg.zoo._pretrained import (
        MAX_WEIGHT_MAGNITUDE,
        SUMS_FILE,
        WEIGHTS_ENV,
        file_sha256,
        load_weights_file,
        random_model,
        read_sums,
        save_weights,
        weights_bytes,
        weights_dir,
        write_sum,
    )

# The weights loader's public names, imported (with torch) when first used.
_LOADER = (
    "MAX_WEIGHT_MAGNITUDE",
    "SUMS_FILE",
    "WEIGHTS_ENV",
    "file_sha256",
    "load_weights_file",
    "random_model",
    "read_sums",
    "save_weights",
    "weights_bytes",
    "weights_dir",
    "write_sum",
)

__all__ = [
    "DEFAULT_EMBED_MODEL",
    "DEFAULT_MODEL",
    "MAX_WEIGHT_MAGNITUDE",
    "SUMS_FILE",
    "WEIGHTS_ENV",
    "ModelSpec",
    "Task",
    "create_model",
    "default_model",
    "default_rescaler",
    "file_sha256",
    "get_spec",
    "list_models",
    "load_weights_file",
    "parameter_count",
    "random_model",
    "read_sums",
    "save_weights",
    "weights_bytes",
    "weights_dir",
    "write_sum",
]


def __getattr__(name: str) -> Any:
    if name in _LOADER:
        return getattr(importlib.import_module("invsteg.zoo._pretrained"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The rescaler a scale of N picks; older weights stay registered for the small images they made.
_RESCALERS = {2: "irn-x2-v2", 4: "irn-x4"}
_DEFAULTS = {
    Task.HIDE: DEFAULT_MODEL,
    Task.ROBUST: "robust",
    Task.EMBED: DEFAULT_EMBED_MODEL,
    Task.RESCALE: _RESCALERS[2],
}
_WRONG_TASK = {
    Task.HIDE: "does not hide images",
    Task.ROBUST: "is not a robust model",
    Task.EMBED: "does not embed files",
    Task.RESCALE: "does not rescale images",
}


def default_model(task: Task) -> str:
    """The name of ``task``'s default model."""
    return _DEFAULTS[Task(task)]


def default_rescaler(scale: int) -> str:
    """The registered rescaler that ``rescale`` picks for ``scale`` (2 or 4).

    Raises:
        ValueError: another scale.
    """
    if scale not in _RESCALERS:
        raise ValueError(f"no rescaler for scale {scale}; 2 or 4")
    return _RESCALERS[scale]


@overload
def create_model(
    name: str | None = ...,
    *,
    weights: Path | str | None = ...,
    task: Literal[Task.HIDE],
    pretrained: bool = ...,
) -> ImageHider: ...
@overload
def create_model(
    name: str | None = ...,
    *,
    weights: Path | str | None = ...,
    task: Literal[Task.ROBUST],
    pretrained: bool = ...,
) -> RobustHider: ...
@overload
def create_model(
    name: str | None = ...,
    *,
    weights: Path | str | None = ...,
    task: Literal[Task.EMBED],
    pretrained: bool = ...,
) -> ColourEmbedder: ...
@overload
def create_model(
    name: str | None = ...,
    *,
    weights: Path | str | None = ...,
    task: Literal[Task.RESCALE],
    pretrained: bool = ...,
) -> Rescaler: ...
@overload
def create_model(
    name: str | None = ...,
    *,
    weights: Path | str | None = ...,
    task: Task | None = ...,
    pretrained: bool = ...,
) -> nn.Module: ...
def create_model(
    name: str | None = None,
    *,
    weights: Path | str | None = None,
    task: Task | None = None,
    pretrained: bool = True,
) -> Any:
    """A model ready for inference (``eval()`` mode): for a ``task``, an object that keeps
    that task's contract in :mod:`invsteg.models.contracts` (an ``nn.Module`` underneath).

    Args:
        name: a registered model (see :func:`list_models`); default: ``task``'s default.
        weights: a weights file to load instead of the shipped ones; its own metadata
            names the architecture, checked against a closed table (never imported).
        task: the task the caller needs; a model of another task is a :class:`ModelError`.
        pretrained: ``False`` gives the architecture with random weights (tests,
            training, capacity), without reading any file.

    Raises:
        ModelError: unknown name, or a model of another task.
        WeightsError: missing, corrupt (sha256), hostile or ill-fitting weights.
    """
    if name == "":
        raise ModelError("empty model name; see `invsteg models`")
    if name is None and task is None:
        raise ModelError("name a model or a task")
    spec = get_spec(name if name is not None else default_model(task))  # type: ignore[arg-type]
    from invsteg.zoo import _pretrained  # imports torch

    if weights is not None:
        path = Path(weights)
        architecture, config = _pretrained.architecture_from_metadata(_pretrained.read_metadata(path), path)
        if task is not None and architecture.task != task:
            raise ModelError(
                f"the model in {weights} {_WRONG_TASK[task]}: it is a {architecture.name!r} "
                f"({architecture.task.value}) model, not a {_kind(task)}"
            )
        return _pretrained.load_strict(architecture.build(config), path)
    if task is not None and spec.task != task:
        raise ModelError(_wrong_task(spec, task))
    if not pretrained:
        return _pretrained.random_model(spec).eval()
    return _pretrained.load_pretrained(spec.name)


def _wrong_task(spec: ModelSpec, task: Task) -> str:
    if task == Task.EMBED:
        kind, default = spec.task.value, default_model(task)
        return f"model {spec.name!r} does not embed files: it is a {kind!r} model; try {default!r}"
    robust = {Task.HIDE: " (add `robust=True`)", Task.ROBUST: " (drop `robust`)"}
    hint = robust[task] if {spec.task, task} == {Task.HIDE, Task.ROBUST} else ""  # what the caller asked
    kinds = f"a {spec.task.value!r} model, not a {task.value!r} one"
    return f"model {spec.name!r} is {kinds}{hint}; see `invsteg models`"


def _kind(task: Task) -> str:
    kinds = {Task.HIDE: "hiding model", Task.ROBUST: "robust model", Task.EMBED: "Steg-cINN"}
    return kinds.get(task, f"{task.value} model")


def parameter_count(name: str) -> int:
    """Parameters of the registered model ``name``, counted without building it."""
    from invsteg.zoo import _pretrained

    return _pretrained.parameter_count(get_spec(name))
