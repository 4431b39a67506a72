"""The trainer: exact resume, explosion guard, export with sha256, and DDP equivalence."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invsteg.train import TrainConfig, Trainer
from invsteg.train.data import ImageBank
from invsteg.weights import file_sha256, load_weights_file, read_sums


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


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


def parameters(trainer: Trainer) -> list[torch.Tensor]:
    return [p.detach().clone() for p in trainer.model.parameters()]


def test_resume_is_exact(image_folder, tmp_path) -> None:
    straight = Trainer(tiny_config(image_folder, tmp_path / "a"))
    straight.fit(progress=False)
    first = Trainer(tiny_config(image_folder, tmp_path / "b"))
    first.fit(progress=False, max_steps=2)
    resumed = Trainer(tiny_config(image_folder, tmp_path / "b"))
    assert resumed.step == 2
    resumed.fit(progress=False)
    assert resumed.step == straight.step == 4
    for a, b in zip(parameters(straight), parameters(resumed), strict=True):
        assert torch.equal(a, b)
    assert len((tmp_path / "b" / "log.csv").read_text().splitlines()) == 4  # one row a step


def test_explosion_restores_last_good_state_and_halves_lr(image_folder, tmp_path, monkeypatch) -> None:
    trainer = Trainer(tiny_config(image_folder, tmp_path / "run"))
    bank = ImageBank(image_folder, 16)
    good = parameters(trainer)
    lr = trainer.optimizer.param_groups[0]["lr"]
    import invsteg.train.trainer as module

    real_step = module.training_step

    def exploding(*args, **kwargs):
        result = real_step(*args, **kwargs)
        result.loss = result.loss * math.nan
        return result

    monkeypatch.setattr(module, "training_step", exploding)
    assert trainer.train_step(bank) is None
    assert trainer.restores == 1 and trainer.step == 0
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(lr / 2)
    for a, b in zip(good, parameters(trainer), strict=True):
        assert torch.equal(a, b)


def test_export_writes_weights_and_their_sha256(image_folder, tmp_path) -> None:
    trainer = Trainer(tiny_config(image_folder, tmp_path / "run", steps=1))
    trainer.fit(progress=False)
    target = tmp_path / "weights" / "tiny.safetensors"
    digest = trainer.export(target)
    assert read_sums(target.parent) == {"tiny.safetensors": digest} and digest == file_sha256(target)
    model = load_weights_file(target)
    assert model.config.blocks == 1 and model.config.growth == 4


def _ddp_worker(rank: int, world: int, folder: str, out: str, port: int) -> None:
    import os

    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(Path(folder), Path(out), steps=2, ema_decay=0.5), device="cpu")
    trainer.fit(progress=False)
    torch.distributed.destroy_process_group()


def test_two_gloo_processes_match_one_process(image_folder, tmp_path) -> None:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, str(image_folder), str(tmp_path / "ddp"), port), nprocs=2)
    single = Trainer(tiny_config(image_folder, tmp_path / "single", steps=2, ema_decay=0.5))
    single.fit(progress=False)
    distributed = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)["model"]
    for name, value in single.model.state_dict().items():
        assert torch.allclose(value, distributed[name], atol=1e-6), name


def test_a_new_run_can_start_from_exported_weights(image_folder, tmp_path) -> None:
    trained = Trainer(tiny_config(image_folder, tmp_path / "first", steps=2))
    trained.fit(progress=False)
    path = tmp_path / "w" / "tiny.safetensors"
    trained.export(path)
    fine_tune = Trainer(tiny_config(image_folder, tmp_path / "second", init_weights=str(path)))
    assert fine_tune.step == 0
    for a, b in zip(trained.ema.module.parameters(), fine_tune.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_time_budget_ends_the_run_and_the_schedule_on_time(image_folder, tmp_path) -> None:
    trainer = Trainer(tiny_config(image_folder, tmp_path / "run", steps=100_000, checkpoint_every=10_000))
    trainer.fit(progress=False, max_seconds=1.0)
    assert 0 < trainer.step < 100_000
    assert trainer.config.steps == trainer.step  # the cosine schedule was re-aimed to end here
    assert (tmp_path / "run" / "last.pt").exists()


@pytest.mark.parametrize("model", ["stegcinn-small", "stegcinn-detail", "robust"])
def test_every_task_trains_and_validates(image_folder, tmp_path, model) -> None:
    embedding = model.startswith("stegcinn")
    tiny = (
        {"blocks": 2, "hidden": 4, "cond_channels": 2}
        if embedding
        else {"blocks": 1, "growth": 4, "width": 4, "depth": 1, "predictor_growth": 4}
    )
    loss = {"sign_margin": 1.0, "latent_error": 1.0, "gamut": 0.01} if embedding else {}
    config = tiny_config(
        image_folder, tmp_path / "run", model=model, model_config=tiny, steps=2, val_every=2, val_crop=16
    )
    config.loss.__dict__.update(loss)
    trainer = Trainer(config)
    before = parameters(trainer)
    trainer.fit(export_to=tmp_path / "w" / "m.safetensors", progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, parameters(trainer), strict=True))
    log = (tmp_path / "run" / "log.csv").read_text()
    assert ("val_bit_accuracy" if embedding else "val_secret_psnr_jpeg75") in log
    assert load_weights_file(tmp_path / "w" / "m.safetensors").config == trainer.model.config


def test_frozen_parameters_stay_fixed_and_the_rest_trains(image_folder, tmp_path) -> None:
    frozen = "net.blocks.0."
    config = tiny_config(
        image_folder, tmp_path / "run", steps=2, model_config={"blocks": 2, "growth": 4}, freeze=(frozen,)
    )
    trainer = Trainer(config)
    names = [name for name, _ in trainer.model.named_parameters()]
    before = parameters(trainer)
    trainer.fit(progress=False)
    changed = {n for n, a, b in zip(names, before, parameters(trainer), strict=True) if not torch.equal(a, b)}
    assert changed and not any(n.startswith(frozen) for n in changed)
    assert any(n.startswith(frozen) for n in names)


def test_freezing_an_unknown_prefix_is_an_error(image_folder, tmp_path) -> None:
    with pytest.raises(ValueError, match="no parameter"):
        Trainer(tiny_config(image_folder, tmp_path / "run", freeze=("nonexistent.",)))
