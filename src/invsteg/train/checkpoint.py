"""Training checkpoints as safetensors + JSON: resuming a run folder never unpickles.

A trainer state is a tree of dicts, lists, tuples, numbers, strings and tensors
(optimizer and scheduler state dicts, RNG states). Tensors go into the safetensors
body under their path in the tree; everything else goes into one JSON document in the
metadata, with three tags JSON lacks: tensors, tuples, and dicts whose keys are not
strings (an optimizer's state is keyed by parameter index).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from invsteg.errors import WeightsError

STATE_KEY = "invsteg.trainer_state"
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"


def _encode(value: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        # clone: safetensors refuses tensors that share storage (views of one buffer).
        tensors[path] = value.detach().to("cpu").contiguous().clone()
        return {_TENSOR: path}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v, f"{path}/{k}", tensors) for k, v in value.items()}
        return {_ITEMS: [[k, _encode(v, f"{path}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot checkpoint {type(value).__name__} at {path}")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {_TENSOR}:
        return tensors[value[_TENSOR]]
    if set(value) == {_TUPLE}:
        return tuple(_decode(v, tensors) for v in value[_TUPLE])
    if set(value) == {_ITEMS}:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value[_ITEMS]}
    return {k: _decode(v, tensors) for k, v in value.items()}


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically (temp file, fsync, rename)."""
    tensors: dict[str, torch.Tensor] = {}
    document = json.dumps(_encode(state, "", tensors))
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={STATE_KEY: document})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state :func:`save_checkpoint` wrote; :class:`WeightsError` if it is not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            document = (f.metadata() or {}).get(STATE_KEY)
        if document is None:
            raise WeightsError(f"{path} is not an invsteg training checkpoint")
        state = _decode(json.loads(document), load_file(str(path)))
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        # RecursionError: JSON nested deeper than Python's stack, a crafted file's trick
        raise WeightsError(f"cannot resume from {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"cannot resume from {path}: its state is not a mapping")
    return state
