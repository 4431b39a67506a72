"""Image hiding pipeline: sizes, padding, tiling and letterboxing, on a tiny random model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from invsteg.errors import InputFileError
from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.pipelines import hiding


@pytest.fixture(scope="module")
def net() -> HiNet:
    model = HiNet(HiNetConfig(blocks=2, growth=8))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
    return model.eval()


def image(height: int, width: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(("height", "width"), [(32, 32), (31, 45), (9, 8)])
def test_any_size_round_trips_to_the_same_size(net, height, width) -> None:
    cover, secret = image(height, width, 1), image(height, width, 2)
    result = hiding.hide(cover, secret, net=net)
    assert result.stego.shape == cover.shape and result.stego.dtype == np.uint8
    assert hiding.reveal(result.stego, net=net).shape == cover.shape


def test_tiling_matches_per_tile_processing(net) -> None:
    """A tiled image is exactly its tiles processed one by one, so hide and reveal agree."""
    cover, secret = image(40, 56, 3), image(40, 56, 4)
    whole = hiding.hide(cover, secret, net=net, tile=32).stego
    top_left = hiding.hide(cover[:32, :32], secret[:32, :32], net=net, tile=512).stego
    assert np.array_equal(whole[:32, :32], top_left)
    revealed = hiding.reveal(whole, net=net, tile=32)
    assert np.array_equal(revealed[:32, :32], hiding.reveal(top_left, net=net, tile=512))


def test_too_small_image_is_refused(net) -> None:
    with pytest.raises(InputFileError, match="at least"):
        hiding.hide(image(4, 20, 1), image(4, 20, 2), net=net)


@pytest.mark.parametrize(
    ("secret_size", "canvas", "box"),
    [((100, 50), (200, 200), hiding.Box(0, 50, 200, 100)), ((10, 40), (30, 40), hiding.Box(10, 0, 10, 40))],
)
def test_letterbox_keeps_aspect_and_centres(secret_size, canvas, box) -> None:
    assert hiding.letterbox(secret_size, canvas) == box


def test_fit_and_unfit_restore_the_secret_size() -> None:
    secret = np.full((30, 60, 3), 200, dtype=np.uint8)
    canvas = hiding.fit_secret(secret, (64, 64))
    assert canvas.shape == (64, 64, 3)
    assert canvas[0, 0].tolist() == [0, 0, 0] and canvas[32, 32].tolist() == [200, 200, 200]
    restored = hiding.unfit_secret(canvas, (60, 30))
    assert restored.shape == secret.shape
    assert np.abs(restored.astype(int) - 200).max() <= 2


def test_auto_precision_follows_the_hardware(monkeypatch) -> None:
    from invsteg.pipelines import precision

    cpu = torch.device("cpu")
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: True)
    assert precision.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(precision, "bf16_is_fast", lambda device: False)
    assert precision.resolve_precision("auto", cpu) == "fp32"
    assert [precision.resolve_precision(p, cpu) for p in ("fp32", "bf16")] == ["fp32", "bf16"]
    with pytest.raises(ValueError, match="precision"):
        precision.resolve_precision("half", cpu)


def test_bf16_changes_the_stego_by_rounding_only(net) -> None:
    """bf16 really runs (some pixels differ from fp32), and only rounds differently: no
    pixel moves by more than 2 levels and the secret still comes back as well."""
    cover, secret = image(48, 40, 5), image(48, 40, 6)
    plain = hiding.hide(cover, secret, net=net, precision="fp32").stego
    fast = hiding.hide(cover, secret, net=net, precision="bf16").stego
    change = np.abs(plain.astype(int) - fast)
    assert change.any() and change.max() <= 2
    for stego in (plain, fast):
        revealed = hiding.reveal(stego, net=net, precision="bf16")
        close = np.abs(revealed.astype(int) - hiding.reveal(plain, net=net)).max()
        assert close <= 4, close


def test_progress_counts_every_tile(net) -> None:
    calls: list[tuple[int, int]] = []
    hiding.hide(image(40, 56, 7), image(40, 56, 8), net=net, tile=32, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    calls.clear()
    hiding.reveal(image(40, 56, 7), net=net, tile=512, progress=lambda *a: calls.append(a))
    assert calls == [(1, 1)]
