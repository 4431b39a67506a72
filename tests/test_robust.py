"""Robust mode: K secrets in one cover, revealed in order, after real JPEG too."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import invsteg
from invsteg.errors import ModelError
from invsteg.eval.quality import compare
from invsteg.io.images import read_image
from invsteg.models.robust import RobustConfig, RobustHiNet
from invsteg.ops.distortions import real_jpeg, real_resize
from invsteg.pipelines import hiding

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TINY = RobustConfig(blocks=1, growth=4, secrets=3, width=8, depth=1, predictor_growth=4)


@pytest.fixture(scope="module", params=["robust", "robust-detail"])
def net(request):
    return hiding.load_hiding_model(request.param, robust=True)


def crop(name: str, size: int = 96) -> np.ndarray:
    return read_image(str(EXAMPLES / name), name).pixels[:size, :size]


def randomized(config: RobustConfig) -> RobustHiNet:
    model = RobustHiNet(config).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 0.05)
    return model.eval()


def test_core_reveals_every_secret_in_order_given_the_lost_part() -> None:
    model = randomized(TINY)
    cover, *secrets = torch.rand(4, 1, 3, 12, 10, dtype=torch.float64)
    with torch.no_grad():
        stego, lost = model.hide(cover, *secrets)
        revealed = model.core.reveal(stego, lost)
        predicted = model.reveal(stego)
    assert len(revealed) == len(predicted) == 3
    for got, want in zip(revealed, secrets, strict=True):
        assert (got - want).abs().max() < 1e-10
    assert all(p.shape == cover.shape for p in predicted)


@pytest.mark.parametrize("scale", [2, 4])
def test_scaled_model_hides_in_block_means_and_reveals_full_size(scale: int) -> None:
    model = randomized(replace(TINY, secrets=2, scale=scale))
    pool = torch.nn.functional.avg_pool2d
    cover, *secrets = torch.rand(3, 1, 3, 8 * scale, 6 * scale, dtype=torch.float64)
    with torch.no_grad():
        stego, lost = model.hide(cover, *secrets)
        revealed = model.core.reveal(pool(stego, scale), lost)
        predicted = model.reveal(stego)
    change = stego - cover
    blocks = change.unfold(2, scale, scale).unfold(3, scale, scale)  # (1, 3, 8, 6, s, s)
    assert change.abs().max() > 1e-3
    assert (blocks - blocks[..., :1, :1]).abs().max() < 1e-12  # one change per block
    assert lost.shape == (1, 24, 4, 3)
    for got, want in zip(revealed, secrets, strict=True):  # the core is exact on block means
        assert (got - pool(want, scale)).abs().max() < 1e-10
    assert [p.shape for p in predicted] == [cover.shape] * 2
    assert model.size_multiple == 2 * scale and model.min_size == 8 * scale


def test_enhancer_and_predictor_start_as_identity_and_zero() -> None:
    model = RobustHiNet(TINY)
    bands = torch.rand(2, 12, 8, 8)
    restored, level = model.enhancer(bands)
    assert torch.equal(restored, bands)
    assert level.shape == (2, 5) and ((level > 0) & (level < 1)).all()
    assert torch.equal(model.predictor(bands), torch.zeros(2, 36, 8, 8))


def test_shipped_model_reveals_two_secrets_in_order(net) -> None:
    cover, first, second = crop("cover.png"), crop("secret.png"), crop("secret2.png")
    stego = hiding.hide(cover, first, second, net=net).stego
    assert compare(stego, cover)["psnr"] > 30
    revealed = hiding.reveal_all(stego, net=net)
    assert len(revealed) == 2
    for got, want, other in ((revealed[0], first, second), (revealed[1], second, first)):
        assert compare(got, want)["psnr"] > compare(got, other)["psnr"] + 5
        assert compare(got, want)["psnr"] > 22


def test_secrets_survive_real_jpeg_q75(net) -> None:
    cover, first, second = crop("cover2.png"), crop("secret.png"), crop("secret2.png")
    stego = real_jpeg(hiding.hide(cover, first, second, net=net).stego, 75)
    for got, want in zip(hiding.reveal_all(stego, net=net), (first, second), strict=True):
        to_secret, to_cover = compare(got, want)["psnr"], compare(got, cover)["psnr"]
        assert to_secret > to_cover + 5, (to_secret, to_cover)


def test_secrets_survive_half_size_resizing(net) -> None:
    cover, first, second = crop("cover2.png"), crop("secret.png"), crop("secret2.png")
    stego = real_resize(hiding.hide(cover, first, second, net=net).stego, 0.5)
    for got, want in zip(hiding.reveal_all(stego, net=net), (first, second), strict=True):
        to_secret, to_cover = compare(got, want)["psnr"], compare(got, cover)["psnr"]
        assert to_secret > to_cover + 5, (to_secret, to_cover)


def test_secret_count_must_match_the_model(net) -> None:
    with pytest.raises(ModelError, match="hides 2 secret"):
        hiding.hide(crop("cover.png"), crop("secret.png"), net=net)


def test_cli_robust_round_trip_through_jpeg(tmp_path) -> None:
    cover, first, second = (EXAMPLES / n for n in ("cover.png", "secret.png", "secret2.png"))
    run = invsteg(tmp_path, "hide", cover, first, second, "--robust", "-o", "stego.jpg", "--quality", "80")
    assert run.rc == 0, run.err
    assert Image.open(tmp_path / "stego.jpg").format == "JPEG"
    run = invsteg(tmp_path, "reveal", "stego.jpg", "--robust", "-o", "s_{i}.png")
    assert run.rc == 0, run.err
    assert sorted(p.name for p in tmp_path.glob("s_*.png")) == ["s_1.png", "s_2.png"]
    got = read_image(str(tmp_path / "s_2.png"), "s").pixels
    want, cover_pixels = read_image(str(second), "s").pixels, read_image(str(cover), "c").pixels
    assert compare(got, want)["psnr"] > compare(got, cover_pixels)["psnr"] + 5


def test_cli_one_robust_secret_picks_the_one_secret_model(tmp_path) -> None:
    cover, secret = EXAMPLES / "cover2.png", EXAMPLES / "secret.png"
    run = invsteg(tmp_path, "hide", cover, secret, "--robust", "-o", "stego.jpg", "--quality", "75", "--json")
    assert run.rc == 0, run.err
    assert '"model": "robust-one"' in run.out.decode()
    assert "reveal with `invsteg reveal --robust --model robust-one`" in run.err
    run = invsteg(tmp_path, "reveal", "stego.jpg", "--robust", "--model", "robust-one", "-o", "s.png")
    assert run.rc == 0, run.err
    got = read_image(str(tmp_path / "s.png"), "s").pixels
    want, cover_pixels = read_image(str(secret), "s").pixels, read_image(str(cover), "c").pixels
    assert compare(got, want)["psnr"] > compare(got, cover_pixels)["psnr"] + 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["hide", "cover.png", "a.png", "b.png"], "only a robust model (--robust) hides several"),
        (["hide", "cover.png", "a.png", "--robust", "-m", "robust"], "hides 2 secret image(s) per cover"),
        (["reveal", "cover.png", "--robust", "-o", "out.png"], "put {i} in -o"),
        (["reveal", "cover.png", "--robust", "-o", "-"], "put {i} in -o"),
        (
            ["hide", "cover.png", "a.png", "-m", "robust"],
            "is a 'robust' model, not a 'hide' one (add --robust)",
        ),
    ],
)
def test_cli_bad_robust_usage(tmp_path, args, message) -> None:
    for name in ("cover.png", "a.png", "b.png"):
        buffer = io.BytesIO()
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(buffer, format="PNG")
        (tmp_path / name).write_bytes(buffer.getvalue())
    before = set(tmp_path.iterdir())
    run = invsteg(tmp_path, *args)
    assert run.rc == 2, run.err
    assert message in run.err
    assert set(tmp_path.iterdir()) == before
