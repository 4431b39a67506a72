"""The trainer: exact resume, explosion guard, export with sha256, and DDP equivalence."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from invsteg.errors import WeightsError
from invsteg.train import Trainer
from invsteg.train.checkpoint import load_checkpoint, save_checkpoint
from invsteg.train.data import ImageBank
from invsteg.train.trainer import CHECKPOINT, LEGACY_CHECKPOINT
from invsteg.zoo import file_sha256, load_weights_file, read_sums
from train_helpers import tiny_config


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
    distributed = load_checkpoint(tmp_path / "ddp" / CHECKPOINT)["model"]
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
    assert (tmp_path / "run" / CHECKPOINT).exists()


TINY = {
    "stegcinn": {"blocks": 2, "hidden": 4, "cond_channels": 2},
    "robust": {"blocks": 1, "growth": 4, "width": 4, "depth": 1, "predictor_growth": 4},
    "irn": {"blocks": 1, "growth": 4},
}
VALIDATED = {"stegcinn": "val_bit_accuracy", "robust": "val_secret_psnr_jpeg75", "irn": "val_restored_psnr"}


@pytest.mark.parametrize("model", ["stegcinn-small", "stegcinn-detail", "robust", "irn-x2", "irn-x4"])
def test_every_task_trains_and_validates(image_folder, tmp_path, model) -> None:
    embedding = model.startswith("stegcinn")
    family = model.split("-")[0]
    tiny = TINY[family]
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
    assert VALIDATED[family] in log
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


# -- a run folder is data: resuming never unpickles code ----------------------------------


class _Payload:
    """Unpickling this runs ``touch <marker>``: what a crafted last.pt would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickled_legacy_checkpoint_never_runs_code(image_folder, tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "pwned"
    torch.save({"config": {}, "evil": _Payload(marker)}, out / LEGACY_CHECKPOINT)
    with pytest.raises(WeightsError, match="cannot resume"):
        Trainer(tiny_config(image_folder, out))
    assert not marker.exists()


def test_a_plain_legacy_checkpoint_still_resumes(image_folder, tmp_path) -> None:
    first = Trainer(tiny_config(image_folder, tmp_path / "run", steps=2))
    first.fit(progress=False)
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    (tmp_path / "run" / CHECKPOINT).unlink()
    torch.save(state, tmp_path / "run" / LEGACY_CHECKPOINT)
    resumed = Trainer(tiny_config(image_folder, tmp_path / "run", steps=2))
    assert resumed.step == 2
    for a, b in zip(first.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_checkpoint_nested_deeper_than_the_stack_is_a_weights_error(image_folder, tmp_path) -> None:
    from safetensors.torch import save_file

    from invsteg.train.checkpoint import STATE_KEY

    out = tmp_path / "run"
    out.mkdir()
    save_file(
        {"x": torch.zeros(1)}, str(out / CHECKPOINT), metadata={STATE_KEY: "[" * 100_000 + "]" * 100_000}
    )
    with pytest.raises(WeightsError, match="cannot resume"):
        Trainer(tiny_config(image_folder, out))


@pytest.mark.parametrize("content", [b"", b"garbage", (1 << 40).to_bytes(8, "little")])
def test_a_damaged_checkpoint_is_a_weights_error(image_folder, tmp_path, content) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT).write_bytes(content)
    with pytest.raises(WeightsError, match="cannot resume"):
        Trainer(tiny_config(image_folder, out))


def test_a_checkpoint_of_another_shape_is_a_weights_error(image_folder, tmp_path) -> None:
    first = Trainer(tiny_config(image_folder, tmp_path / "run", steps=1))
    first.fit(progress=False)
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    state["model"] = {k: v[..., :1] if v.dim() else v for k, v in state["model"].items()}
    save_checkpoint(state, tmp_path / "run" / CHECKPOINT)
    with pytest.raises(WeightsError, match="cannot resume"):
        Trainer(tiny_config(image_folder, tmp_path / "run"))


def test_checkpoints_round_trip_every_value_type(tmp_path) -> None:
    state = {
        "t": torch.arange(6.0).view(2, 3),
        "scalar": torch.tensor(3),
        "by_index": {0: {"exp": torch.ones(2)}, 7: {"exp": torch.zeros(1)}},
        "groups": [{"betas": (0.9, 0.999), "params": [0, 7], "lr": 1e-4}],
        "best": -math.inf,
        "none": None,
        "name": "x",
    }
    save_checkpoint(state, tmp_path / "c.safetensors")
    back = load_checkpoint(tmp_path / "c.safetensors")
    assert torch.equal(back["t"], state["t"]) and torch.equal(back["scalar"], state["scalar"])
    assert set(back["by_index"]) == {0, 7} and torch.equal(back["by_index"][7]["exp"], torch.zeros(1))
    assert back["groups"] == state["groups"] and isinstance(back["groups"][0]["betas"], tuple)
    assert back["best"] == -math.inf and back["none"] is None and back["name"] == "x"
