"""embed-file --robust: the channel's maths, its framing, real attacks, the CLI and a golden stego."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import assert_error, assert_one_error, invsteg, photo_like
from invsteg.eval.pattern import pattern_strength, strongest_period
from invsteg.ops.distortions import real_downscale, real_jpeg
from invsteg.payload import spread
from invsteg.payload.errors import (
    NoPayloadError,
    PassphraseNotExpectedError,
    PayloadCorruptedError,
    PayloadTooLargeError,
)
from invsteg.payload.sealed import PUBLIC_LOCATOR
from invsteg.pipelines import robust_files as rf

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_STEGO = GOLDEN / "robust-file.v2.stego.jpg"
GOLDEN_TEXT = b"invsteg robust golden: this must extract forever\n"
GOLDEN_PASSPHRASE = "golden robust"


def golden_cover() -> np.ndarray:
    cover = Image.open(Path(__file__).parents[1] / "examples" / "cover.png").convert("RGB")
    return np.asarray(cover.resize((384, 384), Image.Resampling.BICUBIC))


# -- the grid ----------------------------------------------------------------------------------


@pytest.mark.parametrize("power", [0.0, 1.0])
@pytest.mark.parametrize(
    ("height", "width", "rows", "cols"), [(64, 64, 8, 8), (61, 97, 7, 12), (50, 33, 9, 5)]
)
def test_spread_change_moves_each_cell_mean_by_exactly_its_change(height, width, rows, cols, power):
    axes = rf.Grid(rows, cols).axes(width, height, power)
    change = np.random.default_rng(1).normal(0, 3, rows * cols)
    np.testing.assert_allclose(rf.cell_means(rf.spread_change(change, axes), axes), change, atol=1e-9)


def test_cell_means_of_a_resized_image_stay_close():
    """The grid is a fraction of the image: a smooth image read at 0.75x gives the same means."""
    cover = photo_like()
    grid = rf.Grid(24, 26)
    small = real_downscale(cover, 0.75)
    full = rf.cell_means(rf.luma(cover), grid.axes(400, 360, 1.0))
    part = rf.cell_means(rf.luma(small), grid.axes(small.shape[1], small.shape[0], 1.0))
    assert np.abs(full - part).mean() < 1.0


def test_grids_keep_the_aspect_ratio_and_cover_both_orientations():
    assert rf.Grid.fitted(1200, 800, 160) == rf.Grid(107, 160)
    assert rf.Grid.fitted(800, 1200, 160) == rf.Grid(160, 107)
    readable = rf._reading_grids(900, 600)
    assert rf.Grid.fitted(1200, 800, 160) in readable  # the stego, after a 0.75x resize


# -- framing -----------------------------------------------------------------------------------


def test_segment_change_makes_every_bit_read_back():
    rng = np.random.default_rng(2)
    means = rng.uniform(20, 230, 3000)
    segment = spread.Segment.keyed(np.arange(3000), 1000, b"k" * 32)
    bits = rng.integers(0, 2, 1000).astype(np.uint8)
    weights = rng.uniform(0.5, 2, 3000)
    step = 6.0
    moved = means.copy()
    moved[segment.cells] += segment.change(means, bits, step, weights)
    np.testing.assert_array_equal(segment.read(moved, step), bits)
    assert not np.array_equal(segment.read(means, step), bits)  # the cover alone does not
    # at the centre of the quantiser cell: noise under a quarter step changes nothing
    noisy = moved + rng.uniform(-0.24, 0.24, 3000) * step / np.sqrt(3)
    np.testing.assert_array_equal(segment.read(noisy, step), bits)


def test_a_cell_at_black_is_only_made_brighter():
    means = np.array([0.5, 0.5, 0.5, 0.5])
    segment = spread.Segment.keyed(np.arange(4), 2, b"s" * 32)
    for bits in ([0, 0], [0, 1], [1, 0], [1, 1]):
        change = segment.change(means, np.array(bits, np.uint8), 6.0, np.ones(4))
        assert (change >= 0).all()
        np.testing.assert_array_equal(segment.read(means + change, 6.0), bits)


def _sealed_means(data: bytes, cells: int = 20000, passphrase: str | None = None):
    rng = np.random.default_rng(3)
    means = rng.uniform(30, 220, cells)
    message = spread.seal(
        data, file_name="a.txt", wire_id=16, passphrase=passphrase, cells=cells, grid=b"grid"
    )
    return message, means + message.change(means, STEP, np.ones(cells))


STEP = spread.STEPS[8]


def test_seal_and_open_without_an_image():
    message, means = _sealed_means(b"hello " * 50)
    found = next(spread.find_heads(means, locator=PUBLIC_LOCATOR, grid=b"grid"))
    assert found.step == STEP
    unpacked = spread.open_found(means, found, encrypted=False)
    assert unpacked.data == b"hello " * 50 and unpacked.file_name == "a.txt"
    assert not list(spread.find_heads(means, locator=PUBLIC_LOCATOR, grid=b"gri2"))  # another grid
    assert message.correction_used(means, STEP) == 0


def test_a_body_damaged_beyond_repair_is_an_error_not_a_file():
    _, means = _sealed_means(b"x" * 300)
    found = next(spread.find_heads(means, locator=PUBLIC_LOCATOR, grid=b"grid"))
    damaged = means.copy()
    damaged[found.body.cells[::2]] += STEP / 2  # half a step: those bits all flip
    with pytest.raises(PayloadCorruptedError):
        spread.open_found(damaged, found, encrypted=False)


def test_capacity_is_exact():
    cells = 20000
    room = spread.max_blob_bytes(cells)
    assert room > 0
    assert spread.max_blob_bytes(spread.head_cells(cells)) < room
    assert spread.max_blob_bytes(100) == 0


# -- the pipeline on images --------------------------------------------------------------------


@pytest.fixture(scope="module")
def robust_stego():
    cover = photo_like()
    data = bytes(range(160))
    made = rf.embed_file(cover, data, file_name="doc.bin", random_bytes=lambda n: b"\x07" * n)
    return cover, data, made


def test_embedding_is_quiet(robust_stego):
    cover, _, made = robust_stego
    assert made.report.psnr_db > 38
    assert pattern_strength(cover, made.pixels)["worst"] < 1.0
    assert made.report.capacity_bytes >= made.report.payload_bytes == 160
    assert max(made.report.correction_used.values()) <= rf.ACCEPT_SHARE


@pytest.mark.parametrize(
    "attack",
    [
        lambda img: img,
        lambda img: real_jpeg(img, 90),
        lambda img: real_jpeg(img, 75),
        lambda img: real_downscale(img, 0.75),
        lambda img: real_jpeg(real_downscale(img, 0.75), 75),
        lambda img: np.asarray(Image.fromarray(img).resize((520, 468), Image.Resampling.LANCZOS)),
    ],
    ids=["clean", "jpeg90", "jpeg75", "resize0.75", "resize0.75+jpeg75", "upscale1.3"],
)
def test_the_file_survives_real_attacks(robust_stego, attack):
    _, data, made = robust_stego
    unpacked = rf.extract_file(attack(made.pixels))
    assert unpacked.data == data and unpacked.file_name == "doc.bin"


def test_an_image_without_a_payload_has_none():
    with pytest.raises(NoPayloadError):
        rf.extract_file(photo_like(seed=5))


@pytest.mark.usefixtures("fast_kdf")
def test_passphrases_are_checked():
    cover = photo_like(seed=6)
    made = rf.embed_file(cover, b"secret", passphrase="right")
    assert rf.extract_file(made.pixels, passphrase="right").data == b"secret"
    with pytest.raises(NoPayloadError):
        rf.extract_file(made.pixels, passphrase="wrong")
    with pytest.raises(NoPayloadError):
        rf.extract_file(made.pixels)
    plain = rf.embed_file(cover, b"open")
    with pytest.raises(PassphraseNotExpectedError):
        rf.extract_file(plain.pixels, passphrase="any")


def test_too_large_a_file_is_refused_with_the_capacity():
    cover = photo_like()
    room = rf.capacity_bytes(400, 360, file_name="", encrypted=False)
    with pytest.raises(PayloadTooLargeError, match=f"at most {room} bytes"):
        rf.embed_file(cover, np.random.default_rng(0).bytes(room + 200))


def test_a_jpeg_output_is_verified_as_written():
    cover = photo_like(seed=7)
    made = rf.embed_file(cover, b"jpeg", jpeg_output=90)
    assert made.jpeg is not None and made.jpeg[:2] == b"\xff\xd8"
    decoded = np.asarray(Image.open(io.BytesIO(made.jpeg)).convert("RGB"))
    np.testing.assert_array_equal(decoded, made.pixels)
    assert rf.extract_file(real_jpeg(decoded, 75)).data == b"jpeg"


def test_the_golden_robust_stego_extracts_forever():
    """A JPEG made by the first release of robust mode: later releases must read it."""
    pixels = np.asarray(Image.open(GOLDEN_STEGO).convert("RGB"))
    assert rf.extract_file(pixels, passphrase=GOLDEN_PASSPHRASE).data == GOLDEN_TEXT
    small = real_jpeg(real_downscale(pixels, 0.75), 75)
    assert rf.extract_file(small, passphrase=GOLDEN_PASSPHRASE).data == GOLDEN_TEXT


# -- pattern measure ---------------------------------------------------------------------------


def test_pattern_measure_finds_a_grating_and_ignores_noise():
    y, x = np.mgrid[0:128, 0:128]
    amplitude, period = strongest_period(2.5 * np.cos(2 * np.pi * (x / 8 + y / 16)))
    assert amplitude == pytest.approx(2.5) and period == pytest.approx(128 / np.hypot(16, 8))
    noise = np.random.default_rng(0).normal(0, 2, (128, 128))
    assert strongest_period(noise)[0] < 0.2
    assert strongest_period(np.cos(np.pi * x))[0] < 1e-9  # period 2 px is not a pattern
    cover = np.full((64, 64, 3), 100, np.uint8)
    striped = cover.copy()
    striped[..., 2] += (3 * (np.cos(2 * np.pi * y[:64, :64] / 8) > 0)).astype(np.uint8)
    assert pattern_strength(cover, striped)["b_g"] > 1.5


# -- the command line --------------------------------------------------------------------------


def test_cli_robust_round_trip_through_jpeg_and_resizing(tmp_path):
    Image.fromarray(photo_like(seed=8)).save(tmp_path / "cover.png")
    (tmp_path / "doc.txt").write_bytes(b"meet at noon\n" * 10)
    made = invsteg(
        tmp_path, "embed-file", "cover.png", "doc.txt", "--robust", "--no-passphrase", "-o", "st.jpg"
    )
    assert made.rc == 0, made.err
    assert "robust" in made.err and "verified after JPEG quality 75" in made.err
    assert (tmp_path / "st.jpg").read_bytes()[:2] == b"\xff\xd8"
    shared = Image.open(tmp_path / "st.jpg")
    shared.resize((shared.width * 3 // 4, shared.height * 3 // 4), Image.Resampling.BICUBIC).save(
        tmp_path / "shared.jpg", quality=80
    )
    got = invsteg(tmp_path, "extract-file", "shared.jpg", "--robust", "--no-passphrase", "-o", "out.txt")
    assert got.rc == 0, got.err
    assert (tmp_path / "out.txt").read_bytes() == b"meet at noon\n" * 10
    # found without --robust too, when it is the only match
    auto = invsteg(tmp_path, "extract-file", "st.jpg", "--no-passphrase", "-o", "auto.txt", "--json")
    assert auto.rc == 0, auto.err
    report = json.loads(auto.out)
    # named apart from the `robust` hiding model (JSON schema 2)
    assert (report["schema"], report["method"], report["model"]) == (2, "robust-file", None)
    # crushed far beyond what it was made for: one error, exit 1, no file
    Image.open(tmp_path / "st.jpg").save(tmp_path / "crushed.jpg", quality=5)
    crushed = invsteg(tmp_path, "extract-file", "crushed.jpg", "--robust", "--no-passphrase", "-o", "x.txt")
    assert_error(crushed, 1)
    assert not (tmp_path / "x.txt").exists()


def test_cli_robust_resize_option_survives_half_size_and_jpeg(tmp_path):
    Image.fromarray(photo_like(seed=11, height=480, width=560)).save(tmp_path / "cover.png")
    (tmp_path / "doc.txt").write_bytes(b"half\n")
    args = ["embed-file", "cover.png", "doc.txt", "--robust", "--no-passphrase", "--resize", "0.5", "--json"]
    made = invsteg(tmp_path, *args, "-o", "st.png")
    assert made.rc == 0, made.err
    assert json.loads(made.out)["resize"] == 0.5
    stego = np.asarray(Image.open(tmp_path / "st.png").convert("RGB"))
    Image.fromarray(real_jpeg(real_downscale(stego, 0.5), 75)).save(tmp_path / "half.png")
    got = invsteg(tmp_path, "extract-file", "half.png", "--robust", "--no-passphrase", "-o", "out.txt")
    assert got.rc == 0, got.err
    assert (tmp_path / "out.txt").read_bytes() == b"half\n"


def test_cli_robust_capacity_and_json(tmp_path):
    Image.fromarray(photo_like(seed=9)).save(tmp_path / "cover.png")
    run = invsteg(tmp_path, "capacity", "cover.png", "--robust", "--json")
    assert run.rc == 0, run.err
    rows = json.loads(run.out)["models"]
    assert (rows[0]["method"], rows[0]["model"]) == ("robust-file", None)
    assert rows[0]["net_bytes"] == rf.capacity_bytes(400, 360, encrypted=True)


def test_cli_robust_usage_errors(tmp_path):
    Image.fromarray(photo_like()).save(tmp_path / "cover.png")
    (tmp_path / "doc.txt").write_bytes(b"x")
    args = ["embed-file", "cover.png", "doc.txt", "--no-passphrase"]
    assert_one_error(invsteg(tmp_path, *args, "--jpeg", "80"), "--robust")
    assert_one_error(invsteg(tmp_path, *args, "--resize", "0.5"), "--robust")
    assert invsteg(tmp_path, *args, "--robust", "--resize", "2").rc == 2
    assert_one_error(invsteg(tmp_path, *args, "--robust", "--model", "stegcinn-detail"), "--model")
    assert_one_error(invsteg(tmp_path, *args, "--robust", "-o", "st.webp"), "lossy")
    assert_one_error(invsteg(tmp_path, *args, "-o", "st.jpg"), "--robust")
    assert not any(tmp_path.glob("st.*"))


def test_cli_robust_damaged_stego_exits_1(tmp_path):
    Image.fromarray(photo_like(seed=10)).save(tmp_path / "plain.png")
    run = invsteg(tmp_path, "extract-file", "plain.png", "--robust", "--no-passphrase", "-o", "out.bin")
    assert_error(run, 1, "no robust payload")
    assert not (tmp_path / "out.bin").exists()
