"""Shipped weights: sha256 recorded and verified, strict loading, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from invsteg.errors import WeightsError
from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.registry import list_models
from invsteg.weights import (
    SUMS_FILE,
    WEIGHTS_ENV,
    file_sha256,
    load_pretrained,
    load_weights_file,
    read_sums,
    save_weights,
    weights_dir,
)

SHIPPED = [s for s in list_models() if s.weights]


@pytest.mark.parametrize("spec", SHIPPED, ids=lambda s: s.name)
def test_shipped_weights_match_their_recorded_sha256(spec) -> None:
    path = weights_dir() / spec.weights
    assert path.is_file(), f"{spec.name} ships {path}, which is missing"
    assert read_sums(weights_dir())[spec.weights] == file_sha256(path)
    model = load_pretrained(spec.name)
    assert model.config == type(model.config)(**spec.config)


def test_every_recorded_sum_belongs_to_a_registered_model() -> None:
    registered = {s.weights for s in SHIPPED}
    assert set(read_sums(weights_dir())) <= registered


@pytest.fixture
def copied_weights(tmp_path, monkeypatch) -> Path:
    for name in [SUMS_FILE, *(s.weights for s in SHIPPED)]:
        shutil.copy(weights_dir() / name, tmp_path / name)
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    return tmp_path


def test_corrupt_weights_are_refused_by_name(copied_weights) -> None:
    spec = SHIPPED[0]
    path = copied_weights / spec.weights
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt") as info:
        load_pretrained(spec.name)
    assert spec.weights in str(info.value)


def test_missing_weights_are_named(copied_weights) -> None:
    spec = SHIPPED[0]
    (copied_weights / spec.weights).unlink()
    with pytest.raises(WeightsError, match="not found") as info:
        load_pretrained(spec.name)
    assert spec.weights in str(info.value)


def test_weights_file_carries_its_architecture(tmp_path) -> None:
    model = HiNet(HiNetConfig(blocks=2, growth=8))
    path = tmp_path / "mine.safetensors"
    save_weights(model, path, "invsteg.models.hinet:HiNet")
    loaded = load_weights_file(path)
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_loading_is_strict(tmp_path) -> None:
    from safetensors.torch import save_file

    model = HiNet(HiNetConfig(blocks=2, growth=8))
    path = tmp_path / "bad.safetensors"
    save_weights(model, path, "invsteg.models.hinet:HiNet")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    tensors.pop(next(iter(tensors)))
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(WeightsError, match="does not fit"):
        load_weights_file(path)


def test_file_without_metadata_is_refused(tmp_path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(WeightsError, match="metadata"):
        load_weights_file(path)
