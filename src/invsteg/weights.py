"""Find, verify (full sha256) and strictly load safetensors weights.

A weights file carries its own architecture in the safetensors metadata
(``invsteg.builder``, ``invsteg.config_class``, ``invsteg.config`` as JSON), so a file
converted or trained by a user loads without a registry entry.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from invsteg.errors import WeightsError
from invsteg.registry import ModelSpec, get_spec

WEIGHTS_ENV = "INVSTEG_WEIGHTS_DIR"
SUMS_FILE = "SHA256SUMS"


def weights_dir() -> Path:
    """Where shipped weights live: ``$INVSTEG_WEIGHTS_DIR``, the installed package's
    ``invsteg/weights``, or the source checkout's top-level ``weights/``."""
    if env := os.environ.get(WEIGHTS_ENV):
        return Path(env)
    packaged = Path(__file__).parent / "weights"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "weights"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_sums(directory: Path) -> dict[str, str]:
    """``SHA256SUMS`` (``sha256sum`` format) as ``{file name: hex digest}``."""
    path = directory / SUMS_FILE
    if not path.exists():
        return {}
    sums = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def write_sum(directory: Path, file_name: str) -> str:
    """Record the sha256 of ``directory/file_name`` in ``SHA256SUMS``; return it."""
    sums = read_sums(directory)
    sums[file_name] = file_sha256(directory / file_name)
    lines = [f"{digest}  {name}\n" for name, digest in sorted(sums.items())]
    (directory / SUMS_FILE).write_text("".join(lines))
    return sums[file_name]


def _import(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_model(builder: str, config_class: str, config: dict[str, Any]) -> nn.Module:
    """Instantiate ``builder(config_class(**config))`` with random weights."""
    try:
        return _import(builder)(_import(config_class)(**config))
    except (ImportError, AttributeError, TypeError) as exc:
        raise WeightsError(f"cannot build {builder} with config {config}: {exc}") from exc


def create_model(spec: ModelSpec) -> nn.Module:
    """The spec's architecture with random weights (for training and tests)."""
    return build_model(spec.builder, spec.config_class, dict(spec.config))


def model_metadata(model: nn.Module, builder: str) -> dict[str, str]:
    config = model.config  # every invsteg model keeps its config dataclass
    cls = type(config)
    return {
        "invsteg.builder": builder,
        "invsteg.config_class": f"{cls.__module__}:{cls.__qualname__}",
        "invsteg.config": json.dumps(asdict(config), sort_keys=True),
    }


def weights_bytes(model: nn.Module, builder: str, extra: dict[str, str] | None = None) -> bytes:
    """``model``'s state dict as safetensors bytes (float32), its architecture in the metadata."""
    metadata = model_metadata(model, builder) | (extra or {})
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    return save(tensors, metadata=metadata)


def save_weights(
    model: nn.Module, path: Path, builder: str, extra: dict[str, str] | None = None, *, force: bool = True
) -> None:
    """Write :func:`weights_bytes` to ``path`` atomically."""
    from invsteg.fileio import write_output

    write_output(weights_bytes(model, builder, extra), str(path), force=force)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        return load_file(str(path)), metadata
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc


def _load_strict(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> nn.Module:
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise WeightsError(f"weights file {path} does not fit its model: {first}") from exc
    return model.eval()


def load_weights_file(path: Path) -> nn.Module:
    """A model built from the architecture in ``path``'s metadata, weights loaded strictly."""
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    tensors, metadata = _read(path)
    try:
        builder = metadata["invsteg.builder"]
        config = json.loads(metadata["invsteg.config"])
        config_class = metadata["invsteg.config_class"]
    except (KeyError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path} has no invsteg architecture metadata ({exc})") from exc
    return _load_strict(build_model(builder, config_class, config), tensors, path)


def load_pretrained(name: str) -> nn.Module:
    """The registered model ``name`` with its shipped weights, sha256-verified."""
    spec = get_spec(name)
    if spec.weights is None:
        raise WeightsError(f"model {name!r} ships without weights; pass --weights FILE")
    directory = weights_dir()
    path = directory / spec.weights
    if not path.is_file():
        raise WeightsError(f"weights file for {name!r} not found: {path}")
    expected = read_sums(directory).get(spec.weights)
    if expected is None:
        raise WeightsError(f"no sha256 recorded for {path.name} in {directory / SUMS_FILE}")
    if (actual := file_sha256(path)) != expected:
        raise WeightsError(
            f"weights file {path} is corrupt: sha256 {actual[:16]}... != expected {expected[:16]}..."
        )
    tensors, _ = _read(path)
    return _load_strict(create_model(spec), tensors, path)
