"""Arithmetic of inference: fp32, or bf16 autocast where the hardware computes in bf16.

``auto`` picks bf16 only where it is fast: CUDA devices that support it and CPUs with
AVX512-BF16 or AMX. Elsewhere (plain AVX2) bf16 autocast is emulated and runs about 10x
slower than fp32 (benchmarks/training_log.md), so ``auto`` stays fp32. What bf16 costs in
quality is measured per command (benchmarks/results.md, "hide/reveal speed"); torch is
imported inside functions, so importing this module is cheap.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16")


def bf16_is_fast(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: CUDA with bf16 support, or a CPU with
    AVX512-BF16 or AMX instructions."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` where :func:`bf16_is_fast`, else ``fp32``; ``fp32`` and ``bf16``
    as given.

    Raises:
        ValueError: not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """A context that runs ``device``'s computation in ``precision`` (see
    :func:`resolve_precision`): bf16 autocast, or nothing for fp32."""
    import torch

    if resolve_precision(precision, device) == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
