"""HILL costs, against conseal's reference implementation on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from invsteg.ops import costs

GOLDEN = Path(__file__).parent / "golden"


def test_hill_equals_conseal_on_real_images() -> None:
    hill = pytest.importorskip("conseal.hill._costmap")
    for name in ("cover.png", "cover256.png"):
        pixels = np.asarray(Image.open(GOLDEN / name).convert("RGB"))
        for channel in range(3):
            x = np.ascontiguousarray(pixels[:200, :173, channel])
            ours = costs.hill(x)
            assert ours.shape == x.shape
            np.testing.assert_allclose(ours, hill._compute_cost(x), rtol=1e-4)


def test_hill_is_cheap_in_texture_and_dear_in_flat_areas() -> None:
    rng = np.random.default_rng(0)
    image = np.full((64, 64), 128, np.uint8)
    image[:, 32:] = rng.integers(0, 256, (64, 32))
    rho = costs.hill(image)
    assert rho[:, :16].min() > 100 * rho[:, 48:].max()
    assert costs.hill_rgb(np.stack([image] * 3, axis=-1)).shape == (64, 64, 3)
