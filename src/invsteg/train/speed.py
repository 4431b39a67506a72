"""Which arithmetic trains fastest on the machine at hand: timed at start-up, not guessed.

bf16 autocast and the channels_last memory format pay very differently per machine: on an
Intel Xeon with AMX a dense-block training step ran 2.9x faster with both, on AVX2 CPUs
bf16 is emulated and ~10x slower, and channels_last is slower for fp32 there
(benchmarks/training_log.md). So :func:`choose_arithmetic` times a few training steps of
the real model, crop and (on a CPU, a capped) batch in every allowed mode and keeps the
fastest. The timing runs on a copy of the model and inside a forked RNG, so the run it
precedes draws exactly what it would have drawn without it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

CPU_PROBE_BATCH = 4  # a slow mode (bf16 on AVX2: ~50 s per batch of 8) costs little to find
GIVE_UP_FACTOR = 3.0  # a mode whose first step is this much slower than the best is not timed further


@dataclass(frozen=True)
class Arithmetic:
    """How training computes: bf16 autocast or fp32, channels_last or contiguous."""

    bf16: bool
    channels_last: bool

    @property
    def name(self) -> str:
        return ("bf16" if self.bf16 else "fp32") + ("+cl" if self.channels_last else "")


@dataclass(frozen=True)
class ArithmeticChoice:
    """The chosen arithmetic and what each candidate measured (seconds per step)."""

    chosen: Arithmetic
    seconds: dict[str, float]
    probe_batch: int

    def describe(self) -> str:
        timings = ", ".join(f"{name} {s:.3g} s" for name, s in self.seconds.items())
        return f"arithmetic {self.chosen.name} (per step, batch {self.probe_batch}: {timings})"


def candidates(bf16: bool | None, channels_last: bool | None) -> list[Arithmetic]:
    """Every combination the config leaves open (``None``), fp32 contiguous first."""
    bf16_options = [False, True] if bf16 is None else [bf16]
    layout_options = [False, True] if channels_last is None else [channels_last]
    return [Arithmetic(b, c) for b in bf16_options for c in layout_options]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def choose_arithmetic(
    objective_factory: Callable[[nn.Module], nn.Module],
    model: nn.Module,
    crop: int,
    batch: int,
    *,
    bf16: bool | None,
    channels_last: bool | None,
    device: torch.device,
    repeats: int = 2,
) -> ArithmeticChoice:
    """Time forward + backward of ``objective_factory(copy of model)`` on random images
    ``(batch, 3, crop, crop)`` (as many as the objective's ``inputs``) in each mode :func:`candidates`
    allows; return the fastest (the first of equals, so fp32 contiguous wins ties).

    One untimed step per mode warms it up (cuDNN's algorithm search, oneDNN's kernel
    choice); then the best of ``repeats`` timed steps counts. A mode whose warm-up step is
    ``GIVE_UP_FACTOR`` times slower than the best time so far is not timed further.
    """
    options = candidates(bf16, channels_last)
    if device.type == "cpu":
        batch = min(batch, CPU_PROBE_BATCH)
    if len(options) == 1:
        return ArithmeticChoice(options[0], {}, batch)
    probe = copy.deepcopy(model).train()
    objective = objective_factory(probe)
    devices = [device] if device.type == "cuda" else []
    seconds: dict[str, float] = {}
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(0)
        inputs = [torch.rand(batch, 3, crop, crop, device=device) for _ in range(objective.inputs)]
        for option in options:
            layout = torch.channels_last if option.channels_last else torch.contiguous_format
            probe.to(memory_format=layout)
            batches = [x.contiguous(memory_format=layout) for x in inputs]
            autocast = torch.autocast(device.type, dtype=torch.bfloat16) if option.bf16 else nullcontext()
            best = min(seconds.values(), default=float("inf"))
            times = []
            for attempt in range(1 + repeats):
                _synchronize(device)
                started = time.perf_counter()
                with autocast:
                    loss, _ = objective(batches, 0)
                loss.backward()
                _synchronize(device)
                times.append(time.perf_counter() - started)
                probe.zero_grad(set_to_none=True)
                if attempt == 0 and times[0] > GIVE_UP_FACTOR * best:
                    break
            seconds[option.name] = min(times[1:] or times)
    chosen = min(options, key=lambda option: seconds[option.name])
    return ArithmeticChoice(chosen, seconds, batch)
