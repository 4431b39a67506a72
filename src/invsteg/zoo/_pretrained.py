"""Find, verify (full sha256) and strictly load safetensors weights.

A weights file carries its own architecture in the safetensors metadata
(``invsteg.architecture``, a name from :mod:`invsteg.zoo._architectures`, and ``invsteg.config``
as JSON), so a file converted or trained by a user loads without a registry entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from invsteg.errors import WeightsError
from invsteg.zoo._architectures import LEGACY_NAMES, Architecture, architecture_of, get_architecture
from invsteg.zoo._registry import ModelSpec, get_spec

WEIGHTS_ENV = "INVSTEG_WEIGHTS_DIR"
SUMS_FILE = "SHA256SUMS"
ARCHITECTURE_KEY = "invsteg.architecture"
CONFIG_KEY = "invsteg.config"
# The largest |value| of each shipped file is 0.16-0.37 (irn-x4's 0.366 the most): 1e3 leaves
# other training runs a margin of 2,700x, and refuses a tensor scaled by 1e30, or any nonzero
# value the files hold (>= 1e-9) with its top exponent bit flipped (x 2^128).
MAX_WEIGHT_MAGNITUDE = 1e3
MAX_WEIGHTS_BYTES = 1 << 30  # the largest architecture the table allows is ~0.55 GB


def weights_dir() -> Path:
    """Where shipped weights live: ``$INVSTEG_WEIGHTS_DIR``, the installed package's
    ``invsteg/weights`` (a wheel force-includes them), or the source checkout's ``weights/``."""
    if env := os.environ.get(WEIGHTS_ENV):
        return Path(env)
    packaged = Path(str(resources.files("invsteg") / "weights"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "weights"


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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not _is_sha256(parts[0]):
            raise WeightsError(f"{path} line {number} is not '<sha256>  <file name>'")
        sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def write_sum(directory: Path, file_name: str) -> str:
    """Record the sha256 of ``directory/file_name`` in ``SHA256SUMS``; return it."""
    sums = read_sums(directory)
    sums[file_name] = file_sha256(directory / file_name)
    lines = [f"{digest}  {name}\n" for name, digest in sorted(sums.items())]
    (directory / SUMS_FILE).write_text("".join(lines))
    return sums[file_name]


def random_model(spec: ModelSpec, **overrides: Any) -> nn.Module:
    """The spec's architecture with random weights (for training and tests)."""
    return get_architecture(spec.architecture).build(dict(spec.config) | overrides)


def parameter_count(spec: ModelSpec) -> int:
    """Parameters of ``spec``'s architecture (built once with random weights)."""
    return sum(p.numel() for p in random_model(spec).parameters())


def weights_bytes(model: nn.Module, extra: dict[str, str] | None = None) -> bytes:
    """``model``'s state dict as safetensors bytes (float32), its architecture in the metadata."""
    metadata = {
        ARCHITECTURE_KEY: architecture_of(model),
        CONFIG_KEY: json.dumps(asdict(model.config), sort_keys=True),  # every invsteg model keeps one
    } | (extra or {})
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    return save(tensors, metadata=metadata)


def save_weights(
    model: nn.Module, path: Path, extra: dict[str, str] | None = None, *, force: bool = True
) -> None:
    """Write :func:`weights_bytes` to ``path`` atomically."""
    from invsteg.io.files import write_output

    write_output(weights_bytes(model, extra), str(path), force=force)


def read_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        if (size := path.stat().st_size) > MAX_WEIGHTS_BYTES:
            raise WeightsError(
                f"weights file {path} is {size >> 20} MiB, over the {MAX_WEIGHTS_BYTES >> 20} MiB limit"
            )
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read weights file {path}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "strerror", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def architecture_from_metadata(metadata: dict[str, str], path: Path) -> tuple[Architecture, dict[str, Any]]:
    """The architecture and checked config a file's metadata names; nothing is imported."""
    if ARCHITECTURE_KEY in metadata:
        name = metadata[ARCHITECTURE_KEY]
    elif "invsteg.builder" in metadata:  # files written before the closed table
        legacy = (metadata["invsteg.builder"], metadata.get("invsteg.config_class", ""))
        if legacy not in LEGACY_NAMES:
            raise WeightsError(f"{path} names a builder invsteg does not know: {legacy[0]!r}; refused")
        name = LEGACY_NAMES[legacy]
    else:
        raise WeightsError(f"{path} has no invsteg architecture metadata")
    try:
        config = json.loads(metadata.get(CONFIG_KEY, "{}"))
    except (json.JSONDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise WeightsError(f"{path}: config metadata is not JSON ({type(exc).__name__})") from None
    architecture = get_architecture(name)
    try:
        return architecture, architecture.validate(config)
    except WeightsError as exc:
        raise WeightsError(f"{path}: {exc}") from None


def load_strict(model: nn.Module, path: Path) -> nn.Module:
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read weights file {path}: {_first_line(exc)}") from None
    for name, tensor in tensors.items():
        if not tensor.is_floating_point() or not tensor.numel():
            continue
        # A NaN or inf weight turns every stego into noise while the command reports success;
        # so does a finite but absurd one (a tensor scaled by 1e30, a flipped exponent bit).
        if not torch.isfinite(tensor).all():
            raise WeightsError(f"weights file {path} has non-finite values in {name!r}")
        if (peak := tensor.abs().max().item()) > MAX_WEIGHT_MAGNITUDE:
            raise WeightsError(
                f"weights file {path} is damaged: {name!r} holds a value of magnitude {peak:.3g}, "
                f"over the {MAX_WEIGHT_MAGNITUDE:g} no trained invsteg model comes near"
            )
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"weights file {path} does not fit its model: {_first_line(exc)}") from None
    return model.eval()


def load_weights_file(path: Path) -> nn.Module:
    """A model built from the architecture in ``path``'s metadata, weights loaded strictly.

    The metadata is checked against the closed table in :mod:`invsteg.zoo._architectures`
    before anything is built: a file never chooses code to run or an absurd size.
    """
    architecture, config = architecture_from_metadata(read_metadata(path), path)
    return load_strict(architecture.build(config), path)


def load_pretrained(name: str) -> nn.Module:
    """The registered model ``name`` with its shipped weights, sha256-verified."""
    spec = get_spec(name)
    if spec.weights is None:
        raise WeightsError(f"model {name!r} ships without weights; pass a weights file (`weights`)")
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
    return load_strict(random_model(spec), path)
