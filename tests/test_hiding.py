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
