"""IRN rescaling: the official Haar layout, the tile grid both ways, the note, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from helpers import assert_one_error, invsteg, official_irn_haar, pixels, save_noise
from invsteg import api
from invsteg.io.images import decode_image, encode_image
from invsteg.nn import HaarSqueeze
from invsteg.ops.quantize import psnr
from invsteg.pipelines import rescaling
from invsteg.pipelines.rescaling import RescaleNote
from invsteg.zoo import create_model

pytestmark = pytest.mark.usefixtures("single_thread")


def test_haar_squeeze_is_irns_and_exactly_invertible() -> None:
    x = torch.rand(2, 3, 6, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    squeeze = HaarSqueeze()
    y = squeeze(x)
    assert torch.allclose(y, official_irn_haar(x), atol=1e-12)
    assert torch.allclose(y[:, :3], F.avg_pool2d(x, 2), atol=1e-12)  # the small image is the 2x2 mean
    assert (squeeze(y, reverse=True) - x).abs().max() < 1e-12


@pytest.fixture(scope="module")
def nets(tiny_irn_weights: dict[int, Path]) -> dict[int, torch.nn.Module]:
    return {scale: create_model(weights=path, task="rescale") for scale, path in tiny_irn_weights.items()}


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("scale", [2, 4])
def test_any_size_is_padded_and_cropped_back(nets, scale: int) -> None:
    image = noise(37, 50)
    small = rescaling.downscale(image, nets[scale], tile=64)
    assert small.shape == (-(-37 // scale), -(-50 // scale), 3)
    large = rescaling.upscale(small, nets[scale], tile=64, size=(50, 37))
    assert large.shape == image.shape
    assert rescaling.upscale(small, nets[scale], tile=64).shape == (
        small.shape[0] * scale,
        small.shape[1] * scale,
        3,
    )


@pytest.mark.parametrize("scale", [2, 4])
def test_both_ways_cut_the_same_tiles(nets, scale: int) -> None:
    """Each tile of a tiled run is the run of that tile alone, downscale and upscale alike,
    so a tile comes back from exactly the small tile its own downscale made."""
    net, image = nets[scale], noise(96, 80, seed=1)
    small = rescaling.downscale(image, net, tile=64)
    corner = rescaling.downscale(image[64:, :64], net, tile=1024)
    assert np.array_equal(small[64 // scale :, : 64 // scale], corner)
    large = rescaling.upscale(small, net, tile=64)
    corner_up = rescaling.upscale(small[64 // scale :, : 64 // scale], net, tile=1024)
    assert np.array_equal(large[64:, :64], corner_up)
    with pytest.raises(api.UsageError, match="multiple"):
        rescaling.downscale(image, net, tile=66 if scale == 4 else 65)


def test_temperature_draws_detail_reproducibly(nets) -> None:
    small = noise(16, 16, seed=2)
    mean = rescaling.upscale(small, nets[2])
    drawn = rescaling.upscale(small, nets[2], temperature=1.0, seed=3)
    assert not np.array_equal(mean, drawn)
    assert np.array_equal(drawn, rescaling.upscale(small, nets[2], temperature=1.0, seed=3))


def test_refining_moves_whole_levels_and_never_raises_the_error(nets) -> None:
    net, image = nets[2], torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        start = (net.downscale(image)[0].clamp(0, 1) * 255).round()
    refined = rescaling.refine_levels(net, image, start, passes=6)

    def error(levels: torch.Tensor) -> float:
        with torch.no_grad():
            return (net.upscale(levels / 255) - image).square().sum().item()

    assert torch.equal(refined, refined.round()) and refined.min() >= 0 and refined.max() <= 255
    assert not torch.equal(refined, start)
    assert error(refined) < error(start)
    assert torch.equal(rescaling.refine_levels(net, image, start, passes=0), start)


def test_refining_sharpens_the_shipped_models_restore() -> None:
    """On a photo (the golden cover), the default search restores better than the network's
    rounded output: the rounding alone costs IRN 0.1-1.4 dB (docs/design.md)."""
    photo = np.asarray(Image.open(Path(__file__).parent / "golden" / "cover.png").convert("RGB"))[:64, :64]
    net = api.load_rescaler(2)
    restored = {
        refine: api.rescale_up(api.rescale_down(photo, net=net, refine=refine).pixels, net=net).pixels
        for refine in (0, api.DEFAULT_REFINE_PASSES)
    }
    assert psnr(restored[api.DEFAULT_REFINE_PASSES], photo) > psnr(restored[0], photo) + 0.1


def test_the_cli_refines_as_the_library_does() -> None:
    from invsteg.cli import rescale

    assert rescale.DEFAULT_REFINE_PASSES == rescaling.DEFAULT_REFINE_PASSES


def test_the_note_travels_in_the_png_and_nothing_else_is_read() -> None:
    note = RescaleNote("irn-x4", 4, 1001, 667, 1024)
    data = encode_image(noise(8, 8), "PNG", text={**note.to_text()})
    loaded = decode_image(data, "small.png", "image")
    assert RescaleNote.from_text(loaded.text) == note
    foreign = Image.new("RGB", (4, 4))
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "not ours")
    path = Path(__file__).parent  # only to name it; the bytes stay in memory
    import io

    buffer = io.BytesIO()
    foreign.save(buffer, format="PNG", pnginfo=info)
    assert decode_image(buffer.getvalue(), str(path), "image").text == {}


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"version":2,"model":"irn-x2","scale":2,"width":4,"height":4,"tile":1024}',
        '{"version":1,"model":"irn-x2","scale":3,"width":4,"height":4,"tile":1024}',
        '{"version":1,"model":"irn-x2","scale":2,"width":-4,"height":4,"tile":1024}',
        '{"version":1,"model":"irn-x2","scale":2,"width":4,"height":4,"tile":1023}',
        '{"version":1,"model":"irn-x2","scale":2,"width":true,"height":4,"tile":1024}',
        '{"version":1,"model":2,"scale":2,"width":4,"height":4,"tile":1024}',
        '{"version":1,"model":"irn-x2","scale":2,"width":4,"height":4,"tile":1024,"code":"x"}',
        '{"version":1,"model":"irn-x2","scale":2,"width":4,"height":4,"tile":1e400}',
        "9" * 2000,
    ],
)
def test_a_bad_note_is_no_note(raw: str) -> None:
    assert RescaleNote.from_text({"invsteg:rescale": raw}) is None


def test_api_round_trip_follows_the_note(nets) -> None:
    image = noise(30, 42, seed=4)
    down = api.rescale_down(image, net=nets[4], tile=64)
    assert down.padded and down.note == RescaleNote("irn-x4", 4, 42, 30, 64)
    up = api.rescale_up(down.pixels, note=down.note, net=nets[4])
    assert up.pixels.shape == image.shape
    with pytest.raises(api.UsageError, match="4x smaller"):
        api.rescale_up(down.pixels, note=down.note, net=nets[2])


# -- the command line ----------------------------------------------------------------------------


def test_cli_down_and_up_restore_size_and_report(tmp_path: Path, tiny_irn_weights) -> None:
    save_noise(tmp_path / "big.png", 45, 34, seed=5)
    weights = tiny_irn_weights[2]
    down = invsteg(tmp_path, "rescale", "down", "big.png", "--weights", weights, "--json")
    assert down.rc == 0, down.err
    report = json.loads(down.out)
    assert report["small_size"] == [23, 17] and report["size"] == [45, 34] and report["padded"]
    assert "padded to 46x34" in down.err
    assert pixels(tmp_path / "big.down.png").shape == (17, 23, 3)
    up = invsteg(tmp_path, "rescale", "up", "big.down.png", "--weights", weights, "-o", "back.png")
    assert up.rc == 0, up.err
    assert "not made by" not in up.err
    assert pixels(tmp_path / "back.png").shape == (34, 45, 3)


def test_cli_up_of_a_foreign_image_says_so_in_one_line(tmp_path: Path, tiny_irn_weights) -> None:
    save_noise(tmp_path / "photo.png", 20, 16, seed=6)
    run = invsteg(tmp_path, "rescale", "up", "photo.png", "--weights", tiny_irn_weights[4], "--json")
    assert run.rc == 0, run.err
    assert [line for line in run.err_lines if "not made by" in line] == run.err_lines[:1]
    assert json.loads(run.out)["size"] == [80, 64]
    assert pixels(tmp_path / "photo.up.png").shape == (64, 80, 3)


def test_cli_pipes(tmp_path: Path, tiny_irn_weights) -> None:
    source = (save_noise(tmp_path / "in.png", 32, 32, seed=7)).read_bytes()
    weights = tiny_irn_weights[2]
    down = invsteg(tmp_path, "rescale", "down", "-", "-o", "-", "--weights", weights, stdin=source)
    assert down.rc == 0, down.err
    up = invsteg(tmp_path, "rescale", "up", "-", "-o", "-", "--weights", weights, stdin=down.out)
    assert up.rc == 0 and "not made by" not in up.err, up.err
    assert Image.open(__import__("io").BytesIO(up.out)).size == (32, 32)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["down", "big.png", "--scale", "3"], "--scale must be 2 or 4"),
        (["down", "big.png", "-o", "small.jpg"], "lossy"),
        (["down", "big.png", "--scale", "4", "--weights", "X2"], "rescales by 2, not by 4"),
        (["down", "big.png", "--model", "hinet-small"], "not a 'rescale' one"),
        (["up", "big.png", "--size", "0x3", "--weights", "X2"], "--size"),
        (["down", "missing.png"], "missing.png"),
    ],
)
def test_cli_bad_input_is_one_error(tmp_path: Path, tiny_irn_weights, args: list[str], match: str) -> None:
    save_noise(tmp_path / "big.png", 16, 16)
    args = [str(tiny_irn_weights[2]) if a == "X2" else a for a in args]
    run = invsteg(tmp_path, "rescale", *args)
    assert_one_error(run, match)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]


def test_cli_up_refuses_an_image_made_at_another_scale(tmp_path: Path, tiny_irn_weights) -> None:
    save_noise(tmp_path / "big.png", 16, 16)
    assert invsteg(tmp_path, "rescale", "down", "big.png", "--weights", tiny_irn_weights[4]).rc == 0
    run = invsteg(tmp_path, "rescale", "up", "big.down.png", "--weights", tiny_irn_weights[2])
    assert_one_error(run, "4x smaller")


def test_a_small_image_upscales_with_the_weights_that_made_it() -> None:
    """irn-x2-v2 replaced irn-x2 as `--scale 2`'s default; a small PNG irn-x2 made (its
    golden) still names irn-x2 and comes back exactly as irn-x2 restores it."""
    golden = Path(__file__).parent / "golden"
    small = decode_image((golden / "irn-x2.down.png").read_bytes(), "irn-x2.down.png", "small")
    note = RescaleNote.from_text(small.text)
    assert note.model == "irn-x2"
    restored = api.rescale_up(small.pixels, note=note).pixels
    assert np.array_equal(restored, np.asarray(Image.open(golden / "irn-x2.up.png").convert("RGB")))
    assert api.rescale_down(restored[:8, :8]).note.model == api.default_rescaler(2) == "irn-x2-v2"
    assert api.default_rescaler(4) == "irn-x4"
    with pytest.raises(ValueError, match="scale 3"):
        api.default_rescaler(3)
