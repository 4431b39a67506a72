"""One rented-GPU session: several training runs side by side on one GPU, each on a time
budget, exports gathered in one folder.

    python scripts/gpu_campaign.py --data gpu --minutes 7.5 --exports $OUT/w --runs /tmp/runs

Every job is an ``invsteg.train`` run; a job with two stages runs the second from the
first's export. ``--smoke`` runs every job for a few seconds on tiny crops (on the CPU
too), which is how this script is tested before a GPU minute is spent on it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Robust hiding without a visible pattern (#13): the change's strongest sinusoids and its
# colour are penalised, and the guide weight is raised towards a 38 dB stego.
VISIBILITY = {"pattern": 3.0, "chroma": 1.0, "reconstruction": 1.0, "low_frequency": 0.0}
ROBUST = {
    "model": "robust",
    "crop": 128,
    "batch": 32,
    "bf16": True,
    "val_every": 200,
    "attacks": {"kind_weights": [4.0, 1.0, 1.0, 1.5, 1.0], "p_clean": 0.1},
}

# HiNet's continued fine-tune (lease 3's g3b recipe: guide 1.6, TF32 fp32), and the same with a
# lost-part predictor (#30): the predictor starts at zero, i.e. exactly at the shipped model.
HINET = {
    "model": "hinet-small",
    "init_weights": "weights/hinet-small.safetensors",
    "crop": 128,
    "batch": 32,
    "lr": 1e-4,
    "warmup_steps": 50,
    "val_every": 250,
    "loss": {"guide": 1.6, "reconstruction": 1.0, "low_frequency": 1.0},
}

# name -> stages; each stage is a TrainConfig dict (its share of the time budget in "share").
# Earlier leases' jobs are in git history and benchmarks/training_log.md.
JOBS: dict[str, list[dict]] = {
    "hinet-ft": [HINET],
    "hinet-p": [HINET | {"model_config": {"predictor_growth": 32}, "init_new": ["predictor."]}],
    # The shipped robust came from the CPU's robust-pattern run (pattern 20, guide 4): go on
    # with it, and with the pattern weighted 3x against the <= 1 level target.
    "robust-pat20": [
        ROBUST
        | {"init_weights": "weights/robust.safetensors", "lr": 1e-4, "warmup_steps": 20}
        | {"loss": VISIBILITY | {"guide": 4.0, "pattern": 20.0}}
    ],
    "robust-pat60": [
        ROBUST
        | {"init_weights": "weights/robust.safetensors", "lr": 1e-4, "warmup_steps": 20}
        | {"loss": VISIBILITY | {"guide": 3.0, "pattern": 60.0, "chroma": 2.0}}
    ],
}

COMMON = {"val_every": 500, "val_crop": 256, "val_images": 24, "checkpoint_every": 500, "log_every": 50}
GPU = {"bf16": False, "channels_last": True, "scales": [1.0], "steps": 1_000_000}
SMOKE = {
    "crop": 32,
    "batch": 2,
    "val_every": 3,
    "val_images": 2,
    "val_crop": 64,
    "checkpoint_every": 3,
    "log_every": 1,
    "scales": [1.0],
    "bf16": False,
    "channels_last": True,
}
TINY = {
    "hinet-small": {"blocks": 1, "growth": 4},
    "robust": {"blocks": 1, "growth": 4, "width": 8, "depth": 1, "predictor_growth": 4},
}


def run_job(name: str, args: argparse.Namespace) -> None:
    import torch

    from invsteg.train import TrainConfig, Trainer

    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    previous_export = None
    for index, stage in enumerate(JOBS[name]):
        stage = dict(stage)
        share = stage.pop("share", 1.0)
        fields = COMMON | stage | SMOKE if args.smoke else COMMON | GPU | stage
        fields |= {
            "train_dir": str(args.data / "train"),
            "val_dir": str(args.data / "val"),
            "out_dir": str(args.runs / f"{name}-{index}"),
        }
        if args.smoke:
            fields["steps"] = args.smoke_steps
            if "init_weights" not in fields:  # a tiny model, unless it must fit the weights
                fields["model_config"] = fields.get("model_config", {}) | TINY[fields["model"]]
        if previous_export is not None:
            fields["init_weights"] = str(previous_export)
        last = index == len(JOBS[name]) - 1
        # Only final exports go to --exports (a rented machine returns few files).
        export = (
            args.exports / f"{name}.safetensors"
            if last
            else args.runs / "exports" / f"{name}-stage{index}.safetensors"
        )
        trainer = Trainer(TrainConfig.from_dict(fields))
        print(f"[{name}] stage {index} on {trainer.device}: {json.dumps(fields)}", flush=True)
        started = time.perf_counter()
        seconds = 60 * args.minutes * share
        trainer.fit(export_to=export, progress=False, max_seconds=seconds)
        print(
            f"[{name}] stage {index} done: {trainer.step} steps in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        previous_export = export


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("gpu"), help="folder with train/ and val/")
    parser.add_argument("--minutes", type=float, default=7.5, help="training time per job")
    parser.add_argument("--exports", type=Path, required=True)
    parser.add_argument("--runs", type=Path, default=Path("/tmp/runs"))
    parser.add_argument("--jobs", default=",".join(JOBS))
    parser.add_argument("--job", help="run this one job in this process")
    parser.add_argument("--smoke", action="store_true", help="a few steps of every job on tiny crops")
    parser.add_argument("--smoke-steps", type=int, default=6)
    args = parser.parse_args()
    if args.job:
        run_job(args.job, args)
        return
    env = {"OMP_NUM_THREADS": "2"} | os.environ | {"PYTHONUNBUFFERED": "1"}
    procs = {
        job: subprocess.Popen([sys.executable, __file__, *sys.argv[1:], "--job", job], env=env)
        for job in args.jobs.split(",")
    }

    def stop(signum: int, frame: object) -> None:
        # `timeout` signals this process only: without this the jobs would outlive it (and
        # keep the output pipe of gpu_run.sh open). Their best exports are already written.
        for proc in procs.values():
            proc.terminate()
        sys.exit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    failed = [job for job, proc in procs.items() if proc.wait() != 0]
    if failed:
        sys.exit(f"failed jobs: {', '.join(failed)}")


if __name__ == "__main__":
    main()
