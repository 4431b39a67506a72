"""Shipped weights: sha256 recorded and verified, strict loading, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from invsteg.errors import WeightsError
from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.zoo import (
    SUMS_FILE,
    WEIGHTS_ENV,
    create_model,
    file_sha256,
    list_models,
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
    model = create_model(spec.name)
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
        create_model(spec.name)
    assert spec.weights in str(info.value)


def test_missing_weights_are_named(copied_weights) -> None:
    spec = SHIPPED[0]
    (copied_weights / spec.weights).unlink()
    with pytest.raises(WeightsError, match="not found") as info:
        create_model(spec.name)
    assert spec.weights in str(info.value)


def test_weights_file_carries_its_architecture(tmp_path) -> None:
    model = HiNet(HiNetConfig(blocks=2, growth=8))
    path = tmp_path / "mine.safetensors"
    save_weights(model, path)
    loaded = load_weights_file(path)
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_loading_is_strict(tmp_path) -> None:
    from safetensors.torch import save_file

    model = HiNet(HiNetConfig(blocks=2, growth=8))
    path = tmp_path / "bad.safetensors"
    save_weights(model, path)
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


# -- a weights file is data: it never chooses code to run or an absurd size -------------


def _rewrite(path: Path, **metadata: str) -> dict[str, torch.Tensor]:
    """Rewrite ``path`` with its tensors and ``metadata`` merged into its own."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as f:
        merged = (f.metadata() or {}) | metadata
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(tensors, str(path), metadata={k: v for k, v in merged.items() if v is not None})
    return tensors


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    path = tmp_path / "tiny.safetensors"
    save_weights(HiNet(HiNetConfig(blocks=1, growth=4)), path)
    return path


def test_new_files_name_an_architecture_not_code(tiny_file) -> None:
    from safetensors import safe_open

    with safe_open(str(tiny_file), "pt") as f:
        metadata = f.metadata()
    assert metadata["invsteg.architecture"] == "hinet"
    assert not any(":" in value for key, value in metadata.items() if key != "invsteg.config")


def test_a_builder_naming_os_system_is_refused_without_running(tiny_file, tmp_path) -> None:
    marker = tmp_path / "pwned"
    # The attack from the hardening issue: builder os:system, config class builtins:str.
    path = tmp_path / "evil.safetensors"
    path.write_bytes(tiny_file.read_bytes())
    _rewrite(
        path,
        **{
            "invsteg.architecture": None,
            "invsteg.builder": "os:system",
            "invsteg.config_class": "builtins:str",
            "invsteg.config": '{"object": "touch ' + str(marker) + '"}',
        },
    )
    with pytest.raises(WeightsError, match="does not know"):
        load_weights_file(path)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["os:system", "hinet ", "HiNet", "__class__", ""])
def test_unknown_architecture_names_are_refused(tiny_file, name) -> None:
    _rewrite(tiny_file, **{"invsteg.architecture": name})
    with pytest.raises(WeightsError, match="unknown architecture"):
        load_weights_file(tiny_file)


def test_legacy_metadata_of_shipped_files_still_loads(tiny_file) -> None:
    _rewrite(
        tiny_file,
        **{
            "invsteg.architecture": None,
            "invsteg.builder": "invsteg.models.hinet:HiNet",
            "invsteg.config_class": "invsteg.models.hinet:HiNetConfig",
        },
    )
    assert load_weights_file(tiny_file).config == HiNetConfig(blocks=1, growth=4)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('{"blocks": 1, "growth": 200000}', "outside"),
        ('{"blocks": -1, "growth": 4}', "outside"),
        ('{"blocks": 1.5, "growth": 4}', "not a int"),
        ('{"blocks": true, "growth": 4}', "not a int"),
        ('{"blocks": 1, "growth": 4, "clamp": NaN}', "not a float"),
        ('{"blocks": 1, "growth": 4, "evil": 1}', "unknown keys"),
        ('{"blocks": 1, "growth": 4, "image_channels": 1000000}', "not one of"),
        ("[1, 2]", "JSON object"),
        ("{not json", "not JSON"),
        ("[" * 100_000 + "]" * 100_000, "not JSON"),
    ],
)
def test_config_values_are_type_and_range_checked(tiny_file, config, message) -> None:
    _rewrite(tiny_file, **{"invsteg.config": config})
    with pytest.raises(WeightsError, match=message):
        load_weights_file(tiny_file)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(tiny_file, bad) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(tiny_file), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    name = next(k for k, v in tensors.items() if v.numel() > 1)
    tensors[name].view(-1)[0] = bad
    save_file(tensors, str(tiny_file), metadata=metadata)
    with pytest.raises(WeightsError, match="non-finite"):
        load_weights_file(tiny_file)


@pytest.mark.parametrize("content", ["abc\n", "f" * 64 + "\n", "zz" * 32 + "  x.safetensors\n", b"\xff\xfe"])
def test_malformed_sha256sums_is_a_weights_error(copied_weights, content) -> None:
    path = copied_weights / SUMS_FILE
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(WeightsError, match=SUMS_FILE):
        create_model(SHIPPED[0].name)


def test_sha256sums_as_a_directory_is_a_weights_error(copied_weights) -> None:
    (copied_weights / SUMS_FILE).unlink()
    (copied_weights / SUMS_FILE).mkdir()
    with pytest.raises(WeightsError, match=SUMS_FILE):
        create_model(SHIPPED[0].name)


@pytest.mark.parametrize("header", [b"", b"\x00" * 4, (1 << 40).to_bytes(8, "little") + b"{}"])
def test_damaged_safetensors_headers_are_weights_errors(tmp_path, header) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(header)
    with pytest.raises(WeightsError, match="cannot read"):
        load_weights_file(path)


def test_the_largest_allowed_architecture_is_bounded() -> None:
    from invsteg.zoo._architectures import ARCHITECTURES

    for name in ("hinet", "robust"):  # stegcinn's fixed mixers cannot be built on the meta device
        architecture = ARCHITECTURES[name]
        largest = {
            key: field.choices[-1] if field.choices else field.high
            for key, field in architecture.fields.items()
            if field.kind is int
        }
        with torch.device("meta"):
            model = architecture.build(largest)
        assert sum(p.numel() for p in model.parameters()) < 200_000_000, name
