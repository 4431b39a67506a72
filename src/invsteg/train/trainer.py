"""A resumable trainer: bf16 autocast on CPU, EMA, explosion guard, CSV log, export.

Checkpoints hold everything needed for an exact resume: config, model, EMA, optimizer,
scheduler, step, and the RNG states of torch and of the crop sampler.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from invsteg.errors import WeightsError
from invsteg.pipelines.precision import bf16_is_fast
from invsteg.train.checkpoint import load_checkpoint, save_checkpoint
from invsteg.train.config import TrainConfig
from invsteg.train.data import ImageBank, center_crops
from invsteg.train.objectives import objective_for
from invsteg.train.speed import Arithmetic, ArithmeticChoice, choose_arithmetic
from invsteg.zoo import get_spec, load_weights_file, random_model, save_weights, write_sum

CHECKPOINT = "last.safetensors"
LEGACY_CHECKPOINT = "last.pt"  # pickles of invsteg 0.1, read with torch's weights-only unpickler
RETARGET_EVERY = 20  # steps between re-aiming the schedule at a time budget


@dataclass
class StepResult:
    loss: Tensor
    terms: dict[str, float]


def trainable_parameters(model: nn.Module, freeze: tuple[str, ...]) -> list[nn.Parameter]:
    """``model``'s parameters except those named with a prefix in ``freeze``, which stop
    taking gradients (so a frozen part costs no weight gradients at all)."""
    for prefix in freeze:
        if not any(name.startswith(prefix) for name, _ in model.named_parameters()):
            raise ValueError(f"freeze: no parameter of {type(model).__name__} starts with {prefix!r}")
    trainable = []
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(not name.startswith(freeze))  # (): nothing frozen
        if parameter.requires_grad:
            trainable.append(parameter)
    return trainable


def training_step(objective: nn.Module, images: list[Tensor], step: int) -> StepResult:
    """One forward pass of an objective (possibly DDP-wrapped) -> loss and its terms."""
    loss, terms = objective(images, step)
    return StepResult(loss, {name: float(value.detach()) for name, value in terms.items()})


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio``."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def ema_with_warmup(decay: float) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
    """EMA whose decay ramps up as ``(1 + n) / (10 + n)``: a plain 0.999 EMA would still
    be mostly the untrained start after the first thousand steps of a short CPU run."""

    def average(averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        n = float(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        return d * averaged + (1 - d) * current

    return average


def distributed_world() -> tuple[int, int]:
    """``(rank, world_size)`` under torchrun, ``(0, 1)`` otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def read_run_state(out_dir: Path) -> dict[str, Any] | None:
    """The state to resume in ``out_dir``, or ``None`` for a new run. Never runs pickled code."""
    checkpoint, legacy = out_dir / CHECKPOINT, out_dir / LEGACY_CHECKPOINT
    if checkpoint.exists():
        return load_checkpoint(checkpoint)
    if not legacy.exists():
        return None
    try:
        state = torch.load(legacy, map_location="cpu", weights_only=True)
    except Exception as exc:  # the unpickler raises many types, all meaning "not loadable"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"cannot resume from {legacy} (only plain tensors and values load): {first}"
        ) from None
    if not isinstance(state, dict):
        raise WeightsError(f"cannot resume from {legacy}: its state is not a mapping")
    return state


def _stored_config(state: dict[str, Any], out_dir: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(state["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"cannot resume from {out_dir}: its stored config is invalid ({exc})") from None


class Trainer:
    """Train ``config.model`` from scratch or resume from ``out_dir/last.safetensors``."""

    def __init__(self, config: TrainConfig, *, device: str | None = None) -> None:
        self.rank, self.world = distributed_world()
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        self.out_dir = Path(config.out_dir)
        state = read_run_state(self.out_dir)
        self.config = _stored_config(state, self.out_dir) if state else config
        self.spec = get_spec(self.config.model)
        torch.manual_seed(self.config.seed)
        self.model = random_model(self.spec, **self.config.model_config).to(self.device)
        if state is None and self.config.init_weights:
            self._load_init(Path(self.config.init_weights))
        # Measured before the optimizer exists, so its state takes the chosen memory format.
        self.arithmetic = self._choose_arithmetic()
        self.use_bf16 = self.arithmetic.chosen.bf16
        self.channels_last = self.arithmetic.chosen.channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.ema = AveragedModel(self.model, avg_fn=ema_with_warmup(self.config.ema_decay))
        self.optimizer = torch.optim.AdamW(
            trainable_parameters(self.model, self.config.freeze),
            lr=self.config.lr,
            betas=(0.9, 0.999),
            eps=1e-6,
            weight_decay=self.config.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, self.config)
        )
        self.sampler = torch.Generator().manual_seed(self.config.seed)
        self.step = 0
        self.best_score = -math.inf
        self.restores = 0
        self.recent_losses: deque[float] = deque(maxlen=200)
        if state:
            try:
                self._load_state(state)
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise WeightsError(f"cannot resume from {self.out_dir}: {first}") from None
        self.objective = objective_for(self.spec.task, self.model, self.config)
        self.training_pass: nn.Module = self.objective
        if self.world > 1:
            self.training_pass = nn.parallel.DistributedDataParallel(self.objective)
        self.last_good = self._state()

    def _load_init(self, path: Path) -> None:
        """Start from ``path``'s weights; only parameters under ``config.init_new`` may be missing."""
        init = load_weights_file(path).state_dict()
        allowed = self.config.init_new
        try:
            result = self.model.load_state_dict(init, strict=False)
        except RuntimeError as exc:  # a shape differs
            first = str(exc).strip().splitlines()[-1].strip()
            raise WeightsError(f"init_weights {path} does not fit {self.config.model}: {first}") from None
        missing = [name for name in result.missing_keys if not allowed or not name.startswith(allowed)]
        if missing or result.unexpected_keys:
            raise WeightsError(
                f"init_weights {path} does not fit {self.config.model}: missing {missing[:3]}, "
                f"unexpected {result.unexpected_keys[:3]}"
            )
        if allowed and not result.missing_keys:
            raise ValueError(f"init_new {list(allowed)}: {path} already has every parameter")

    def _choose_arithmetic(self) -> ArithmeticChoice:
        """bf16 / channels_last as configured, or timed here where the config leaves them open."""
        config = self.config
        if self.world > 1:  # ranks must agree: no per-rank timing
            bf16 = config.bf16 if config.bf16 is not None else bf16_is_fast(self.device)
            return ArithmeticChoice(Arithmetic(bf16, bool(config.channels_last)), {}, config.batch)
        choice = choose_arithmetic(
            lambda model: objective_for(self.spec.task, model, config),
            self.model,
            config.crop,
            config.batch,
            bf16=config.bf16,
            channels_last=config.channels_last,
            device=self.device,
        )
        if choice.seconds:
            print(f"invsteg train: {choice.describe()}", file=sys.stderr, flush=True)
        return choice

    # -- state -------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return copy.deepcopy(
            {
                "config": self.config.to_dict(),
                "model": self.model.state_dict(),
                "ema": self.ema.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": self.step,
                "best_score": self.best_score,
                "restores": self.restores,
                "recent_losses": list(self.recent_losses),
                "torch_rng": torch.get_rng_state(),
                "sampler_rng": self.sampler.get_state(),
            }
        )

    def _load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = state["step"]
        self.best_score = state["best_score"]
        self.restores = state["restores"]
        self.recent_losses.extend(state["recent_losses"])
        torch.set_rng_state(state["torch_rng"])
        self.sampler.set_state(state["sampler_rng"])

    def save_checkpoint(self) -> None:
        if self.rank:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.last_good, self.out_dir / CHECKPOINT)

    # -- training ----------------------------------------------------------------------
    def _autocast(self) -> Any:
        if not self.use_bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _batch(self, bank: ImageBank) -> Tensor:
        # Every rank draws the same global batch and keeps its slice, so N processes
        # make exactly the update one process makes with the whole batch.
        per_rank = self.config.batch // self.world
        batch = bank.sample(self.config.batch, self.sampler)[
            self.rank * per_rank : (self.rank + 1) * per_rank
        ]
        batch = batch.to(self.device)
        if self.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def train_step(self, bank: ImageBank) -> StepResult | None:
        """One update; ``None`` when the loss exploded and the last good state came back."""
        images = [self._batch(bank) for _ in range(self.objective.inputs)]
        with self._autocast():
            result = training_step(self.training_pass, images, self.step)
        loss = float(result.loss.detach())
        median = sorted(self.recent_losses)[len(self.recent_losses) // 2] if self.recent_losses else math.inf
        if not math.isfinite(loss) or (
            len(self.recent_losses) >= 50 and loss > self.config.explode_factor * median
        ):
            self._restore_last_good()
            return None
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if not torch.isfinite(grad_norm):
            self._restore_last_good()
            return None
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update_parameters(self.model)
        self.recent_losses.append(loss)
        self.step += 1
        result.terms |= {"loss": loss, "grad_norm": float(grad_norm)}
        return result

    def _restore_last_good(self) -> None:
        """The official HiNet code diverges to NaN now and then; step back and halve the lr."""
        restores = self.restores + 1
        self._load_state(copy.deepcopy(self.last_good))
        self.restores = restores
        for group in self.optimizer.param_groups:
            group["lr"] *= 0.5
        self.scheduler.base_lrs = [lr * 0.5 for lr in self.scheduler.base_lrs]

    def validate(self, covers: Tensor) -> dict[str, float]:
        model = self.ema.module.eval()
        metrics = self.objective.validate(model, covers.to(self.device))
        model.train()
        return metrics

    def export(self, path: Path) -> str:
        """Write the EMA weights as safetensors and record their sha256 beside them."""
        path.parent.mkdir(parents=True, exist_ok=True)
        model = copy.deepcopy(self.ema.module).to("cpu", memory_format=torch.contiguous_format)
        extra = {"invsteg.train_step": str(self.step), "invsteg.model_name": self.config.model}
        save_weights(model, path, extra)
        return write_sum(path.parent, path.name)

    def fit(
        self,
        export_to: Path | None = None,
        *,
        progress: bool = True,
        max_steps: int | None = None,
        max_seconds: float | None = None,
    ) -> None:
        """Train until ``config.steps`` (or ``max_steps`` more); validate, checkpoint, export best.

        With ``max_seconds``, the run also ends when that time is up, and ``config.steps`` is
        re-aimed every ``RETARGET_EVERY`` steps at the step the measured speed reaches then,
        so the cosine schedule ends on time (a GPU rented by the minute, say).
        """
        config = self.config
        if max_seconds is not None and self.world > 1:
            raise ValueError("max_seconds is for one process: ranks would disagree on when to stop")
        requested_steps = config.steps
        bank = ImageBank(config.train_dir, config.crop, config.scales)
        val = center_crops(config.val_dir, config.val_crop, config.val_images) if config.val_every else None
        stop = config.steps if max_steps is None else min(config.steps, self.step + max_steps)
        self.model.train()
        log_path = self.out_dir / "log.csv"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        bar = _progress(progress and self.rank == 0)
        task = bar.add_task("train", total=stop, completed=self.step)
        started, images, first_step = time.perf_counter(), 0, self.step
        with bar, open(log_path, "a", newline="") as log_file:
            log = csv.writer(log_file)
            if self.arithmetic.seconds and self.rank == 0:
                chosen = f"arithmetic={self.arithmetic.chosen.name}"
                timings = [f"step_s_{name}={s:.4g}" for name, s in self.arithmetic.seconds.items()]
                log.writerow([time.strftime("%H:%M:%S"), self.step, chosen, *timings])
            while self.step < stop:
                result = self.train_step(bank)
                if result is None:
                    log.writerow([self.step, "restored", self.restores])
                    continue
                images += config.batch
                elapsed = time.perf_counter() - started
                rate = images / elapsed
                done = self.step - first_step
                if max_seconds is not None and (done % RETARGET_EVERY == 0 or elapsed >= max_seconds):
                    left = int((max_seconds - elapsed) * done / elapsed)
                    config.steps = stop = min(requested_steps, self.step + max(0, left))
                    bar.update(task, total=stop)
                bar.update(
                    task,
                    completed=self.step,
                    description=f"loss {result.terms['loss']:.3g} {rate:.1f} img/s",
                )
                row: dict[str, Any] = {}
                if self.step % config.log_every == 0:
                    row = {
                        **result.terms,
                        "lr": self.optimizer.param_groups[0]["lr"],
                        "img_per_s": rate,
                    }
                if val is not None and (self.step % config.val_every == 0 or self.step == stop):
                    metrics = self.validate(val)
                    row |= metrics
                    score = self.objective.score(metrics)
                    if score > self.best_score and export_to is not None and self.rank == 0:
                        self.best_score = score
                        self.export(export_to)
                if row and self.rank == 0:
                    log.writerow(
                        [time.strftime("%H:%M:%S"), self.step] + [f"{k}={v:.6g}" for k, v in row.items()]
                    )
                    log_file.flush()
                if self.step % config.checkpoint_every == 0 or self.step == stop:
                    self.last_good = self._state()
                    self.save_checkpoint()


def _progress(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, quiet=not enabled)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    )
