"""Fused dense subnets against the plain blocks, in one process on this machine.

Each case runs with the couplings' subnets fused (``dense_blocks_same_input``, what a CPU
runs) and with the plain ``DenseBlock.forward`` swapped in, alternating, best of
``--rounds``: hinet-small hiding a 1024x1024 cover (inference), one steering pass of
stegcinn-detail over a 1024x1024 image (forward + gradient to the pixels, what embed-file
repeats every round) and a training step of hinet-small (batch 8 of 48 px, gradients to the
weights). Random weights, fp32. Writes its section of benchmarks/results.md.

    python benchmarks/fused_subnets.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import numpy as np
import torch

from invsteg.nn.coupling import AffineCoupling
from invsteg.pipelines import hiding, latents
from invsteg.zoo import get_spec, random_model
from results_file import command_line, publish

START, END = "<!-- fused_subnets:start -->", "<!-- fused_subnets:end -->"


@contextmanager
def plain_subnets():
    """Couplings run their subnets as written (the path of non-CPU devices)."""
    fused = AffineCoupling._pair

    def plain(self, first, second, h):
        return (first(h) if first is not None else None), second(h)

    AffineCoupling._pair = plain
    try:
        yield
    finally:
        AffineCoupling._pair = fused


def cases() -> dict[str, Callable[[], None]]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    hider = random_model(get_spec("hinet-small")).eval()
    embedder = random_model(get_spec("stegcinn-detail")).eval().requires_grad_(False)
    trainee = random_model(get_spec("hinet-small")).train()
    x, _ = trainee.example_inputs(8, 24, 24)  # Haar bands of 48 px crops

    def steering_pass() -> None:
        pixels = torch.from_numpy(image).permute(2, 0, 1)[None].float().requires_grad_(True)
        torch.autograd.grad(latents.encode_rgb(embedder, pixels / 255).square().sum(), pixels)

    def training_step() -> None:
        trainee.zero_grad()
        trainee(x).square().mean().backward()

    return {
        "hide 1024x1024 (hinet-small)": lambda: hiding.hide(image, image, net=hider),
        "steering pass 1024x1024 (stegcinn-detail)": steering_pass,
        "training step, 8 x 48 px (hinet-small)": training_step,
    }


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.md"))
    args = parser.parse_args()
    rows = []
    for name, fn in cases().items():
        fn()  # warm-up
        fused, plain = [], []
        for _ in range(args.rounds):
            fused.append(timed(fn))
            with plain_subnets():
                plain.append(timed(fn))
        rows.append(f"| {name} | {min(plain):.2f} | {min(fused):.2f} | {min(plain) / min(fused):.2f}x |")
    publish(
        START,
        END,
        args.out,
        [
            START,
            f"## Fused dense subnets against the plain blocks ({date.today().isoformat()})",
            "",
            f"`{command_line(__file__)}`: one process, {torch.get_num_threads()} threads, fp32, random "
            f"weights, alternating, best of {args.rounds}; seconds.",
            "",
            "| case | plain s | fused s | speed-up |",
            "|---|---:|---:|---:|",
            *rows,
            END,
        ],
    )


if __name__ == "__main__":
    main()
