"""Shared fixtures: a tiny, non-identity HiNet weights file, so no test needs shipped weights."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_BUILDER = "invsteg.models.hinet:HiNet"


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


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``HiNet(blocks=2, growth=8)`` with seeded weights plus a small seeded perturbation.

    A fresh HiNet is the identity (its last convs start at zero); the perturbation
    (std 0.02) makes hide and reveal do real, deterministic work.
    """
    import torch

    from invsteg.models.hinet import HiNet, HiNetConfig
    from invsteg.weights import save_weights

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = HiNet(HiNetConfig(blocks=2, growth=8))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn(param.shape, generator=gen) * 0.02)
    path = tmp_path_factory.mktemp("weights") / "tiny-hinet.safetensors"
    save_weights(model, path, TINY_BUILDER)
    return path
