"""Attacks: differentiable training attacks and the per-sample mixer (ops.attacks), real
Pillow/numpy attacks (ops.distortions) and ``invsteg attack``. Real behaviour only: gradients,
statistics, agreement with Pillow's JPEG, files on disk and exit codes. Images are 64..128 px
so the whole file runs in seconds.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import invsteg
from invsteg.ops import attacks, distortions
from invsteg.ops.attacks import AttackConfig, AttackMixer
from invsteg.ops.quantize import psnr, round_8bit

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _one_thread(single_thread: None) -> None:
    """Small tensors: one thread is faster and keeps the shared cores free."""


@pytest.fixture(scope="module")
def cover() -> np.ndarray:
    """A natural image, ``(96, 128, 3)`` uint8: a crop of examples/cover.png."""
    with Image.open(EXAMPLES / "cover.png") as image:
        return np.asarray(image.convert("RGB"))[64:160, 64:192].copy()


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.tensor(img).permute(2, 0, 1)[None].float() / 255


def to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).square().mean())


# -- differentiable attacks ----------------------------------------------------------------------

Q = torch.tensor([50.0, 95.0])
GEN = torch.Generator


DIFFERENTIABLE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "round_8bit": round_8bit,
    "jpeg_approx": lambda x: attacks.jpeg_approx(x, Q),
    "gaussian_noise": lambda x: attacks.gaussian_noise(
        x, torch.tensor([2 / 255, 8 / 255]), GEN().manual_seed(0)
    ),
    "poisson_noise": lambda x: attacks.poisson_noise(x, torch.tensor([255.0, 2000.0]), GEN().manual_seed(0)),
    "resize_down_up": lambda x: attacks.resize_down_up(x, torch.tensor([0.5, 0.8])),
    "gaussian_blur": lambda x: attacks.gaussian_blur(x, torch.tensor([0.5, 1.5])),
    "AttackMixer": lambda x: AttackMixer(AttackConfig(p_clean=0.0))(x, 0, GEN().manual_seed(0))[0],
}


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradient_reaches_every_sample(name: str, cover: np.ndarray) -> None:
    x = to_tensor(cover[:64, :64]).repeat(2, 1, 1, 1).requires_grad_()
    y = DIFFERENTIABLE[name](x)
    assert y.shape == x.shape
    # a loss that pulls every pixel: any attack that blocked the gradient would leave zeros
    (y - 0.5).square().sum().backward()
    per_sample = x.grad.abs().flatten(1).mean(1)
    assert torch.isfinite(x.grad).all()
    assert (per_sample > 1e-3).all(), per_sample


def test_jpeg_tables_are_pillows(cover: np.ndarray) -> None:
    for quality in (1, 10, 49, 50, 51, 75, 95, 100):
        with Image.open(io.BytesIO(distortions.encode_jpeg(cover, quality))) as written:
            tables = written.quantization  # natural order, as ours
        luma, chroma = attacks.jpeg_quant_tables(quality)
        assert luma[0].flatten().int().tolist() == list(tables[0]), quality
        assert chroma[0].flatten().int().tolist() == list(tables[1]), quality


def test_jpeg_approx_is_close_to_real_jpeg(cover: np.ndarray) -> None:
    x = to_tensor(cover)
    approx95 = to_uint8(round_8bit(attacks.jpeg_approx(x, 95)))
    real95 = distortions.real_jpeg(cover, 95)
    assert psnr(approx95, real95) > 35  # measured ~50 dB
    assert not np.array_equal(approx95, cover)
    approx50 = to_uint8(round_8bit(attacks.jpeg_approx(x, 50)))
    assert psnr(approx50, distortions.real_jpeg(cover, 50)) > 35
    assert psnr(approx50, cover) < psnr(approx95, cover) - 2
    assert psnr(distortions.real_jpeg(cover, 50), cover) < psnr(real95, cover)


def test_jpeg_approx_odd_size_and_per_sample_quality(cover: np.ndarray) -> None:
    x = to_tensor(cover[:75, :61]).repeat(2, 1, 1, 1)  # padded to 80x64 inside, cropped back
    batch = attacks.jpeg_approx(x, Q)
    assert batch.shape == x.shape
    for i, quality in enumerate(Q.tolist()):
        torch.testing.assert_close(batch[i : i + 1], attacks.jpeg_approx(x[i : i + 1], quality))
    with pytest.raises(ValueError, match="quality"):
        attacks.jpeg_approx(x, torch.tensor([50.0, 60.0, 70.0]))


def test_jpeg_and_blur_ignore_bf16_autocast(cover: np.ndarray) -> None:
    # the trainer runs under bf16 autocast; DCT matmuls in bf16 would be far off
    x = to_tensor(cover[:64, :64])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        jpeg, blur = attacks.jpeg_approx(x, 90), attacks.gaussian_blur(x, 1.0)
    assert jpeg.dtype == blur.dtype == torch.float32
    torch.testing.assert_close(jpeg, attacks.jpeg_approx(x, 90))
    torch.testing.assert_close(blur, attacks.gaussian_blur(x, 1.0))


def test_gaussian_noise_std_matches_sigma() -> None:
    x = torch.full((2, 3, 128, 128), 0.5)
    sigma = torch.tensor([1 / 255, 10 / 255])
    noise = attacks.gaussian_noise(x, sigma, GEN().manual_seed(1)) - x
    torch.testing.assert_close(noise.flatten(1).std(1), sigma, rtol=0.03, atol=0)
    assert abs(float(noise.mean())) < 1e-3
    again = attacks.gaussian_noise(x, sigma, GEN().manual_seed(1)) - x
    torch.testing.assert_close(noise, again)  # the generator is the only source of randomness


def test_poisson_noise_is_shot_noise() -> None:
    x = torch.full((1, 3, 128, 128), 0.5, requires_grad=True)
    y = attacks.poisson_noise(x, 1000.0, GEN().manual_seed(2))
    assert float((y - x).detach().std()) == pytest.approx((0.5 / 1000) ** 0.5, rel=0.05)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))  # straight through


def test_resize_identity_at_one_and_loses_detail_at_half(cover: np.ndarray) -> None:
    x = to_tensor(cover)
    assert torch.equal(attacks.resize_down_up(x, 1.0), x)
    half, most = attacks.resize_down_up(x, 0.5), attacks.resize_down_up(x, 0.9)
    assert half.shape == x.shape
    assert mse(half, x) > 2 * mse(most, x) > 0
    # fine detail (pixel noise) is what goes: most of its energy is lost at scale 0.5
    detail = torch.rand(1, 3, 64, 64, generator=GEN().manual_seed(3))
    assert float((attacks.resize_down_up(detail, 0.5) - 0.5).var()) < 0.5 * float((detail - 0.5).var())


def test_blur_is_close_to_pillows_and_per_sample(cover: np.ndarray) -> None:
    x = to_tensor(cover)
    assert torch.equal(attacks.gaussian_blur(x, 0.0), x)
    for sigma in (0.5, 1.5):
        ours = to_uint8(attacks.gaussian_blur(x, sigma))
        assert psnr(ours, distortions.real_blur(cover, sigma)) > 45  # measured 53..60 dB
    pair = x.repeat(2, 1, 1, 1)
    batch = attacks.gaussian_blur(pair, torch.tensor([0.5, 1.5]))
    torch.testing.assert_close(batch[1:], attacks.gaussian_blur(x, 1.5))
    torch.testing.assert_close(batch[:1], attacks.gaussian_blur(x, 0.5))
    assert mse(batch[1:], x) > mse(batch[:1], x)


# -- the mixer ------------------------------------------------------------------------------------


def test_mixer_shapes_levels_and_8bit_grid(cover: np.ndarray) -> None:
    x = to_tensor(cover[:64, :64]).repeat(16, 1, 1, 1)
    mixer = AttackMixer(AttackConfig(p_clean=0.2))
    assert list(mixer.parameters()) == []
    attacked, level = mixer(x, 10_000, GEN().manual_seed(4))
    assert attacked.shape == x.shape and level.shape == (16, len(attacks.KINDS))
    assert ((level >= 0) & (level <= 1)).all()
    assert ((level > 0).sum(1) <= 1).all()  # one kind per sample
    assert (level > 0).any(0).sum() >= 3  # the batch mixes kinds
    on_grid = attacked * 255
    torch.testing.assert_close(on_grid, on_grid.round(), rtol=0, atol=1e-4)
    assert attacked.min() >= 0 and attacked.max() <= 1
    again, level_again = mixer(x, 10_000, GEN().manual_seed(4))
    assert torch.equal(attacked, again) and torch.equal(level, level_again)


def test_mixer_rounding_only_has_zero_level(cover: np.ndarray) -> None:
    x = to_tensor(cover[:64, :64]).repeat(4, 1, 1, 1)
    attacked, level = AttackMixer(AttackConfig(p_clean=1.0))(x, 0, GEN().manual_seed(5))
    assert torch.equal(level, torch.zeros_like(level))
    assert torch.equal(attacked, round_8bit(x))


def test_mixer_levels_describe_the_attack(cover: np.ndarray) -> None:
    x = to_tensor(cover[:64, :64]).repeat(8, 1, 1, 1)
    for column, kind in enumerate(attacks.KINDS):
        weights = tuple(float(k == kind) for k in attacks.KINDS)
        mixer = AttackMixer(AttackConfig(p_clean=0.0, kind_weights=weights))  # type: ignore[arg-type]
        attacked, level = mixer(x, 0, GEN().manual_seed(6))
        others = torch.cat([level[:, :column], level[:, column + 1 :]], 1)
        assert torch.equal(others, torch.zeros_like(others)), kind
        # with no curriculum the strength spans the range, and more level means more damage
        damage = (attacked - x).square().flatten(1).mean(1)
        order = torch.argsort(level[:, column])
        assert damage[order[-1]] > damage[order[0]], kind


def test_curriculum_starts_mild(cover: np.ndarray) -> None:
    x = to_tensor(cover[:64, :64]).repeat(32, 1, 1, 1)
    mixer = AttackMixer(AttackConfig(curriculum_steps=1000))
    start, start_level = mixer(x, 0, GEN().manual_seed(7))
    end, end_level = mixer(x, 1000, GEN().manual_seed(7))  # same kinds, same draws
    assert mse(start, x) < 0.5 * mse(end, x)
    assert float(start_level.max()) <= float(end_level.max())
    assert AttackConfig(curriculum_steps=1000).curriculum(500) == 0.5
    assert AttackConfig().curriculum(0) == 1.0  # no curriculum: the full range at once


@pytest.mark.parametrize(
    "fields",
    [{"jpeg_quality": (95, 50)}, {"noise_sigma": (-0.1, 0.1)}, {"resize_scale": (0.5, 1.5)}, {"p_clean": 2}],
)
def test_attack_config_rejects_bad_ranges(fields: dict) -> None:
    with pytest.raises(ValueError, match="AttackConfig"):
        AttackConfig(**fields)


# -- real attacks ---------------------------------------------------------------------------------


def test_real_attacks(cover: np.ndarray) -> None:
    flat = np.full((128, 128, 3), 128, np.uint8)
    noisy = distortions.real_gaussian_noise(flat, 5.0, np.random.default_rng(0))
    assert noisy.dtype == np.uint8 and (noisy.astype(float) - 128).std() == pytest.approx(5.0, rel=0.05)
    shot = distortions.real_poisson(flat, 500.0, np.random.default_rng(0)).astype(float) / 255
    assert shot.std() == pytest.approx((128 / 255 / 500) ** 0.5, rel=0.1)
    np.testing.assert_array_equal(distortions.real_resize(cover, 1.0), cover)
    assert psnr(distortions.real_resize(cover, 0.5), cover) < psnr(distortions.real_resize(cover, 0.9), cover)
    assert distortions.real_resize(cover, 0.5).shape == cover.shape
    assert psnr(distortions.real_blur(cover, 1.5), cover) < psnr(distortions.real_blur(cover, 0.5), cover)


def test_attack_image_order_and_seed(cover: np.ndarray) -> None:
    settings = {"jpeg": 70, "noise": 3.0, "resize": 0.75, "blur": 0.8}
    result = distortions.attack_image(cover, seed=3, **settings)
    expected = distortions.real_resize(cover, 0.75)
    expected = distortions.real_blur(expected, 0.8)
    expected = distortions.real_gaussian_noise(expected, 3.0, np.random.default_rng(3))
    assert result.jpeg_bytes == distortions.encode_jpeg(expected, 70)
    expected = distortions.real_jpeg(expected, 70)
    np.testing.assert_array_equal(result.pixels, expected)
    assert result.applied == ("resize 0.75", "blur 0.8", "noise 3", "jpeg Q70")
    other_seed = distortions.attack_image(cover, noise=3.0, seed=4).pixels
    assert not np.array_equal(other_seed, distortions.attack_image(cover, noise=3.0, seed=3).pixels)


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def work(tmp_path: Path, cover: np.ndarray) -> Path:
    Image.fromarray(cover).save(tmp_path / "in.png")
    return tmp_path


def read_pixels(data: bytes) -> tuple[str | None, np.ndarray]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format, np.asarray(image.convert("RGB"))


def test_cli_png_output(work: Path, cover: np.ndarray) -> None:
    run = invsteg(work, "attack", "in.png", "-o", "out.png", "--resize", "0.5", "--noise", "2")
    assert run.rc == 0, run.err
    assert run.out == b""
    lines = run.err.splitlines()
    assert len(lines) == 1 and "PSNR" in lines[0] and "out.png" in lines[0], run.err
    image_format, pixels = read_pixels((work / "out.png").read_bytes())
    assert image_format == "PNG"
    np.testing.assert_array_equal(
        pixels, distortions.attack_image(cover, resize=0.5, noise=2.0, seed=0).pixels
    )


def test_cli_jpeg_output_is_that_jpeg(work: Path, cover: np.ndarray) -> None:
    run = invsteg(work, "attack", "in.png", "-o", "out.jpg", "--jpeg", "60", "--blur", "1", "--json")
    assert run.rc == 0, run.err
    data = json.loads(run.out)
    assert data["output"] == "out.jpg" and data["attacks"]["jpeg"] == 60
    expected = distortions.attack_image(cover, jpeg=60, blur=1.0)
    assert (work / "out.jpg").read_bytes() == expected.jpeg_bytes
    assert data["psnr_db"] == pytest.approx(psnr(expected.pixels, cover))


def test_cli_stdin_to_stdout(work: Path, cover: np.ndarray) -> None:
    run = invsteg(work, "attack", "-", "-o", "-", "--jpeg", "80", stdin=(work / "in.png").read_bytes())
    assert run.rc == 0, run.err
    image_format, pixels = read_pixels(run.out)
    assert image_format == "PNG"  # stdout gets PNG: the pixels after the JPEG step
    np.testing.assert_array_equal(pixels, distortions.real_jpeg(cover, 80))
    assert sorted(os.listdir(work)) == ["in.png"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("--jpeg", "0"), "JPEG quality"),
        (("--jpeg", "101"), "JPEG quality"),
        (("--noise", "-1"), "noise sigma"),
        (("--blur", "-0.5"), "blur sigma"),
        (("--resize", "0"), "resize scale"),
        (("--resize", "1.5"), "resize scale"),
        (("--resize", "nan"), "resize scale"),
        ((), "at least one attack"),
        (("--noise", "1", "-o", "out.jpg"), "--jpeg"),
        (("--jpeg", "50", "-o", "out.webp"), "WEBP"),
        (("--jpeg", "50", "-o", "out.xyz"), "unknown image extension"),
    ],
)
def test_cli_bad_values(work: Path, args: tuple[str, ...], match: str) -> None:
    output = () if "-o" in args else ("-o", "out.png")
    run = invsteg(work, "attack", "in.png", *output, *args)
    assert run.rc == 2, run.err
    lines = run.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0], run.err
    assert sorted(os.listdir(work)) == ["in.png"]  # nothing written, no temp file left


@pytest.mark.parametrize("content", [None, b"not an image", b""])
def test_cli_unreadable_input(work: Path, content: bytes | None) -> None:
    if content is not None:
        (work / "bad.png").write_bytes(content)
    run = invsteg(work, "attack", "bad.png", "-o", "out.png", "--jpeg", "50")
    assert run.rc == 2, run.err
    assert run.err.startswith("error:") and "bad.png" in run.err, run.err
    assert not (work / "out.png").exists()


def test_cli_never_overwrites_without_force(work: Path) -> None:
    (work / "out.png").write_bytes(b"precious")
    refused = invsteg(work, "attack", "in.png", "-o", "out.png", "--blur", "1")
    assert refused.rc == 2 and "--force" in refused.err, refused.err
    assert (work / "out.png").read_bytes() == b"precious"
    forced = invsteg(work, "attack", "in.png", "-o", "out.png", "--blur", "1", "--force")
    assert forced.rc == 0, forced.err
    assert read_pixels((work / "out.png").read_bytes())[0] == "PNG"
    assert sorted(os.listdir(work)) == ["in.png", "out.png"]
