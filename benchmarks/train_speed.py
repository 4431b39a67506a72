"""Training throughput: ``invsteg.train.Trainer`` against a plain fp32 loop, same process.

Both train the same architecture on the same in-memory crops; runs alternate
(plain, trainer, plain, trainer, ...) so drift in machine load hits both alike, and the
ratio of their images/s is the result. Variants of the trainer (bf16 autocast,
channels_last) are measured the same way, so the table shows what each choice buys on
this machine. Writes its section of ``benchmarks/results.md``.

    python benchmarks/train_speed.py --train ../data/train --steps 6 --rounds 2
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from invsteg.ops.quantize import round_8bit
from invsteg.train import TrainConfig, Trainer
from invsteg.train.data import ImageBank
from invsteg.zoo import get_spec, random_model
from results_file import command_line, publish

START, END = "<!-- train_speed:start -->", "<!-- train_speed:end -->"


def plain_loop_rate(model_name: str, bank: ImageBank, batch: int, steps: int) -> float:
    """Images/s of the textbook loop: fp32, Adam, sum of the three HiNet MSE terms."""
    model = random_model(get_spec(model_name)).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        cover, secret = bank.sample(batch, generator), bank.sample(batch, generator)
        stego, _ = model.hide(cover, secret)
        (revealed,) = model.reveal(round_8bit(stego))
        loss = (stego - cover).pow(2).mean() + (revealed - secret).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return steps * batch / (time.perf_counter() - start)


def trainer_rate(config: TrainConfig, bank: ImageBank, steps: int) -> float:
    trainer = Trainer(config, device="cpu")
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(bank)
    return steps * config.batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=Path("../data/train"))
    parser.add_argument("--model", default="hinet-small")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    bank = ImageBank(args.train, args.crop, (1.0,))
    variants = {
        "invsteg train (defaults: auto precision)": {},
        "invsteg train, bf16 autocast forced": {"bf16": True},
        "invsteg train, fp32 + channels_last": {"bf16": False, "channels_last": True},
    }
    best: dict[str, float] = {"plain fp32 loop": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(args.rounds):
            best["plain fp32 loop"] = max(
                best["plain fp32 loop"], plain_loop_rate(args.model, bank, args.batch, args.steps)
            )
            for name, overrides in variants.items():
                config = TrainConfig(
                    model=args.model, out_dir=f"{tmp}/{round_index}-{len(best)}", crop=args.crop,
                    batch=args.batch, val_every=0, **overrides,
                )  # fmt: skip
                best[name] = max(best.get(name, 0.0), trainer_rate(config, bank, args.steps))
                print(f"round {round_index}: {name}: {best[name]:.2f} img/s", flush=True)
    baseline = best["plain fp32 loop"]
    command = command_line(__file__)
    lines = [
        START,
        f"## Training speed: {args.model}, {args.crop}px crops, batch {args.batch} ({date.today()})",
        "",
        "| loop | images/s | vs plain fp32 |",
        "|---|---:|---:|",
        *(f"| {name} | {rate:.2f} | {rate / baseline:.2f}x |" for name, rate in best.items()),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}. Best of {args.rounds} alternating rounds of {args.steps} steps. "
        f"Command: `{command}`.",
        END,
    ]
    publish(START, END, args.out, lines)


if __name__ == "__main__":
    main()
