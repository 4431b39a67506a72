"""Shared fixtures: a tiny, non-identity HiNet weights file, so no test needs shipped weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker takes one core: two processes that each start as many
    torch threads as there are cores run several times slower than one after the other. Set
    before any test module imports torch; the tests' own subprocesses inherit it."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")


@pytest.fixture
def single_thread():
    """Run a test on one intra-op thread. For small tensors, OpenMP threads cost more in
    synchronisation than they gain, and on a busy machine (a training job beside the
    tests) they made the invertibility and colour tests 5-15x slower in wall time."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap key derivations in this process (:func:`helpers.cheap_kdfs`); a test that needs
    the real cost back calls ``monkeypatch.undo()``."""
    from helpers import cheap_kdfs

    cheap_kdfs(monkeypatch)


def perturbed_weights_file(folder: Path, name: str, build) -> Path:
    """Build a model (seeded), add a seeded perturbation of std 0.02, save it as safetensors.

    Fresh invsteg models are the identity or nearly (their last convs start at zero); the
    perturbation makes every coupling do real, deterministic, spatially coupled work.
    """
    import torch

    from invsteg.zoo import save_weights

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.02)
    path = folder / name
    save_weights(model, path)
    return path


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``HiNet(blocks=2, growth=8)``, perturbed: hide and reveal do real work."""
    from invsteg.models.hinet import HiNet, HiNetConfig

    return perturbed_weights_file(
        tmp_path_factory.mktemp("weights"),
        "tiny-hinet.safetensors",
        lambda: HiNet(HiNetConfig(blocks=2, growth=8)),
    )


@pytest.fixture(scope="session")
def tiny_stegcinn_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``StegCINN(blocks=2, hidden=8, cond_channels=4)``, perturbed, for embed-file tests:
    the couplings are nonlinear and spatially coupled, as a trained model's are, so the
    verify-after-embed loop is exercised beyond the easy case."""
    from invsteg.models.stegcinn import StegCINN, StegCINNConfig

    return perturbed_weights_file(
        tmp_path_factory.mktemp("weights"),
        "tiny-stegcinn.safetensors",
        lambda: StegCINN(StegCINNConfig(blocks=2, hidden=8, cond_channels=4)),
    )


@pytest.fixture(scope="session")
def tiny_irn_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """``IRN(blocks=2, growth=8)`` at x2 and x4, perturbed, by scale."""
    from invsteg.models.irn import IRN, IRNConfig

    def build(levels: int) -> Path:
        name = f"tiny-irn-x{2**levels}.safetensors"
        return perturbed_weights_file(folder, name, lambda: IRN(IRNConfig(levels, blocks=2, growth=8)))

    folder = tmp_path_factory.mktemp("weights")
    return {2**levels: build(levels) for levels in (1, 2)}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 48x40 noise images, for the training tests."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder
