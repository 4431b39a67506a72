"""The start-up choice of bf16 / channels_last, and HiNet's optional lost-part predictor."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from invsteg.errors import WeightsError
from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.train import Trainer
from invsteg.train.speed import Arithmetic, candidates, choose_arithmetic
from invsteg.zoo import load_weights_file, save_weights
from train_helpers import tiny_config


class SlowUnlessBf16ChannelsLast(nn.Module):
    """A fake objective: a step costs 20 ms unless it runs in bf16 on channels_last input."""

    inputs = 1

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images, step):
        (x,) = images
        fast = torch.is_autocast_enabled("cpu") and x.is_contiguous(memory_format=torch.channels_last)
        if not fast:
            time.sleep(0.02)
        return self.model(x).float().mean(), {}


def test_candidates_are_what_the_config_leaves_open() -> None:
    assert candidates(False, True) == [Arithmetic(False, True)]
    assert candidates(None, False) == [Arithmetic(False, False), Arithmetic(True, False)]
    assert len(candidates(None, None)) == 4 and candidates(None, None)[0] == Arithmetic(False, False)


def test_the_fastest_mode_is_chosen_and_the_rng_is_untouched() -> None:
    model = nn.Conv2d(3, 3, 3, padding=1)
    before = torch.get_rng_state()
    choice = choose_arithmetic(
        SlowUnlessBf16ChannelsLast, model, 8, 2, bf16=None, channels_last=None, device=torch.device("cpu")
    )
    assert torch.equal(torch.get_rng_state(), before)
    assert choice.chosen == Arithmetic(True, True)
    assert set(choice.seconds) == {"fp32", "fp32+cl", "bf16", "bf16+cl"}
    assert choice.seconds["bf16+cl"] < 0.02 <= choice.seconds["fp32"]
    assert "bf16+cl" in choice.describe()
    assert next(model.parameters()).is_contiguous()  # timed on a copy


def test_a_fixed_config_is_not_timed() -> None:
    choice = choose_arithmetic(
        SlowUnlessBf16ChannelsLast,
        nn.Conv2d(3, 3, 1),
        8,
        2,
        bf16=False,
        channels_last=False,
        device=torch.device("cpu"),
    )
    assert choice.chosen == Arithmetic(False, False) and choice.seconds == {}


def test_an_open_config_is_timed_at_start_up_and_logged(image_folder, tmp_path) -> None:
    trainer = Trainer(tiny_config(image_folder, tmp_path / "run", bf16=None, channels_last=None))
    assert set(trainer.arithmetic.seconds) == {"fp32", "fp32+cl", "bf16", "bf16+cl"}
    assert trainer.use_bf16 == trainer.arithmetic.chosen.bf16
    trainer.fit(progress=False)
    first = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert f"arithmetic={trainer.arithmetic.chosen.name}" in first and "step_s_fp32=" in first


def test_a_predictor_starts_as_reveal_with_zeros_and_leaves_other_files_unchanged() -> None:
    torch.manual_seed(0)
    plain = HiNet(HiNetConfig(blocks=2, growth=4))
    with_predictor = HiNet(HiNetConfig(blocks=2, growth=4, predictor_growth=4))
    assert not any(name.startswith("predictor.") for name in plain.state_dict())
    assert plain.predictor is None
    with_predictor.load_state_dict(plain.state_dict(), strict=False)
    cover, secret = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    stego, _ = plain.hide(cover, secret)
    assert torch.equal(with_predictor.hide(cover, secret)[0], stego)
    assert torch.allclose(with_predictor.reveal(stego)[0], plain.reveal(stego)[0])
    assert with_predictor.predict_lost(torch.rand(1, 12, 8, 8)).shape == (1, 12, 8, 8)


def test_a_predictor_trains_from_a_file_without_one(image_folder, tmp_path) -> None:
    path = tmp_path / "plain.safetensors"
    plain = HiNet(HiNetConfig(blocks=1, growth=4))
    save_weights(plain, path)
    config = tiny_config(
        image_folder,
        tmp_path / "run",
        model_config={"blocks": 1, "growth": 4, "predictor_growth": 4},
        init_weights=str(path),
        init_new=("predictor.",),
        freeze=("net.",),
    )
    trainer = Trainer(config)
    trainer.fit(progress=False)
    for (name, a), b in zip(plain.state_dict().items(), trainer.model.net.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # frozen: the stego is exactly the plain model's
    assert any(p.abs().sum() > 0 for p in trainer.model.predictor.convs[-1].parameters())
    trainer.export(tmp_path / "p.safetensors")
    assert load_weights_file(tmp_path / "p.safetensors").config.predictor_growth == 4


def test_init_new_admits_only_the_named_part(image_folder, tmp_path) -> None:
    path = tmp_path / "plain.safetensors"
    save_weights(HiNet(HiNetConfig(blocks=1, growth=4)), path)
    model_config = {"blocks": 1, "growth": 4, "predictor_growth": 4}
    with pytest.raises(WeightsError, match="does not fit"):  # without init_new: strict
        Trainer(tiny_config(image_folder, tmp_path / "a", model_config=model_config, init_weights=str(path)))
    with pytest.raises(WeightsError, match="does not fit"):  # a deeper model: missing net.1.*
        Trainer(
            tiny_config(
                image_folder,
                tmp_path / "b",
                model_config=model_config | {"blocks": 2},
                init_weights=str(path),
                init_new=("predictor.",),
            )
        )
