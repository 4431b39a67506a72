"""What the training tests share: a tiny HiNet run (the image folder is conftest's
``image_folder``)."""

from __future__ import annotations

from pathlib import Path

from invsteg.train import TrainConfig


def tiny_config(folder: Path, out: Path, **overrides) -> TrainConfig:
    fields = dict(
        model_config={"blocks": 1, "growth": 4},
        train_dir=str(folder),
        val_dir=str(folder),
        out_dir=str(out),
        crop=16,
        batch=2,
        steps=4,
        warmup_steps=1,
        val_every=0,
        checkpoint_every=2,
        log_every=1,
        scales=(1.0,),
        bf16=False,
        channels_last=False,
    )
    return TrainConfig(**(fields | overrides))
