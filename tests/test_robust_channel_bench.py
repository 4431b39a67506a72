"""``benchmarks/robust_channel.py``'s machinery on one small cover: the attacks do what their
names say, a case is recovered exactly with no attack and lost to a crop, and a rerun reads
the cache. The peers' tests skip when the ``peers`` extra is not installed."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `benchmarks`

from benchmarks import robust_channel as rc

from helpers import photo_like
from invsteg.ops import distortions as dist


@pytest.fixture(scope="module")
def cover() -> np.ndarray:
    return photo_like(360, 400, seed=3)


def test_crop_keeps_the_centre_share_of_each_side(cover: np.ndarray) -> None:
    cropped = dist.real_center_crop(cover, 0.7)
    assert cropped.shape == (252, 280, 3)  # round(0.7 * 360), round(0.7 * 400)
    np.testing.assert_array_equal(cropped, cover[54:306, 60:340])
    assert dist.real_center_crop(cover, 1.0).shape == cover.shape


def test_rotation_keeps_the_size_turns_the_content_and_blackens_corners(cover: np.ndarray) -> None:
    turned = dist.real_rotate(cover, 5)
    assert turned.shape == cover.shape
    assert (turned[:3, :3] == 0).all() and (turned[-3:, -3:] == 0).all()  # corners from outside
    centre = (slice(170, 190), slice(190, 210))
    assert np.abs(turned[centre].astype(int) - cover[centre]).mean() < 12  # the centre barely moves
    # a point 150 px right of the centre moves up by 150 * sin(5 degrees), about 13 px
    y, x = 180, 350
    assert (
        np.abs(turned[y - 13, x].astype(int) - cover[y, x]).sum()
        < np.abs(turned[y, x].astype(int) - cover[y, x]).sum() + 30
    )
    np.testing.assert_array_equal(dist.real_rotate(cover, 0), cover)
    nudged = dist.real_rotate(cover, 0.01).astype(float)  # a turn, not a darkening (Pillow's 8-bit
    assert abs((nudged - cover).mean()) < 0.02  # rotation truncates: half a level darker)


def test_brightness_scales_and_contrast_stretches_about_the_mean(cover: np.ndarray) -> None:
    bright = dist.real_brightness(cover, 1.5).astype(int)
    expected = np.clip(np.rint(cover * 1.5), 0, 255)
    assert np.abs(bright - expected).max() <= 1
    grey = cover @ np.array([0.299, 0.587, 0.114])  # Pillow's mean is of its grey image
    low = dist.real_contrast(cover, 0.7) @ np.array([0.299, 0.587, 0.114])
    assert low.std() == pytest.approx(0.7 * grey.std(), rel=0.05)
    assert low.mean() == pytest.approx(grey.mean(), abs=1)


def test_chat_resizes_only_images_over_its_long_side() -> None:
    big = np.zeros((1000, 2000, 3), np.uint8)
    assert dist.real_fit_long_side(big, 1600).shape == (800, 1600, 3)
    small = np.zeros((864, 1152, 3), np.uint8)
    assert dist.real_fit_long_side(small, 1600).shape == small.shape
    assert rc.combination(np.full((100, 80, 3), 100, np.uint8)).shape == (50, 40, 3)


def test_grid_names_every_family_and_covers_are_one_megapixel() -> None:
    grid = rc.attack_grid()
    assert set(rc.CORE) <= set(grid)
    for family in ("JPEG", "resize", "crop", "rotate", "brightness", "contrast", "chat", "+"):
        assert any(family in name for name in grid), family
    photo_4k = np.zeros((2160, 3840, 3), np.uint8)
    assert rc.one_megapixel(photo_4k).shape == (864, 1152, 3)


def test_invsteg_case_exact_without_attack_lost_to_a_crop_and_cached(
    cover: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    method = rc.InvstegRobust(8)
    grid = rc.attack_grid()
    attacks = {name: grid[name] for name in ("none", "crop 0.7")}
    cache = rc.Cache(tmp_path)
    record = rc.run_case(method, "cover", cover, attacks, cache)
    assert record["outcomes"]["none"] == {"exact": True, "bit_accuracy": 1.0}
    crop = record["outcomes"]["crop 0.7"]
    assert not crop["exact"] and crop["bit_accuracy"] < 0.7  # the grid moved: bits at chance
    assert record["quality"]["psnr"] > 40

    def no_embedding(*args: object) -> None:
        raise AssertionError("the cached stego must be reused")

    monkeypatch.setattr(rc.InvstegRobust, "embed", no_embedding)
    assert rc.run_case(rc.InvstegRobust(8), "cover", cover, attacks, cache) == record
    more = attacks | {"JPEG Q90": grid["JPEG Q90"]}  # a new attack: read on the cached stego
    assert rc.run_case(rc.InvstegRobust(8), "cover", cover, more, cache)["outcomes"]["JPEG Q90"]["exact"]


def test_cells_count_covers_and_mark_decoder_failures() -> None:
    records = [
        {"embedded": True, "outcomes": {"a": {"exact": True, "bit_accuracy": 1.0}}},
        {"embedded": True, "outcomes": {"a": {"exact": False, "bit_accuracy": 0.5}}},
        {"embedded": True, "outcomes": {"a": {"exact": False, "bit_accuracy": None}}},
        {"embedded": False, "outcomes": {}},
    ]
    assert rc.cell(records, "a") == "1/4 (75.0)†"
    assert rc.cell(records, "b") == ""


def test_trustmark_is_reported_not_faked() -> None:
    assert rc.trustmark_status().startswith("TrustMark: ")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # blind-watermark on a black image
@pytest.mark.parametrize(
    ("module", "make"),
    [
        ("imwatermark", lambda: rc.InvisibleWatermark("dwtDctSvd", 64)),
        ("blind_watermark", lambda: rc.BlindWatermark(64)),
    ],
)
def test_peers_read_their_own_clean_stego(module: str, make, cover: np.ndarray) -> None:
    pytest.importorskip(module)
    method = make()
    embedded = method.embed(cover, np.random.default_rng(0))
    assert embedded.stego.shape == cover.shape and embedded.stego.dtype == np.uint8
    outcome = method.read(embedded, embedded.stego)
    assert outcome.bit_accuracy is not None and outcome.bit_accuracy >= 0.9
    tiny = method.read(embedded, np.zeros((100, 100, 3), np.uint8))  # under its 256x256 minimum
    assert not tiny.exact


def test_why_counts_codeword_load_and_crop_erasures(cover: np.ndarray) -> None:
    from benchmarks import robust_channel_why as why

    right, erased = np.ones(8 * 300, bool), np.zeros(8 * 300, bool)
    assert why.codeword_load(right, erased, 128) == 0.0
    right[3] = False  # one wrong byte in the first codeword
    erased[8 * 10 : 8 * 10 + 2] = True  # one erased byte
    assert why.codeword_load(right, erased, 128) == 3 / 128
    grid = rc.robust_files.Grid(18, 20)  # cells of 20 x 20 px on the 400 x 360 cover
    means, lost = why.crop_read(cover, 1.0, grid)
    assert not lost.any() and np.allclose(means, why.grid_means(cover, grid))
    _, lost = why.crop_read(cover, 0.5, grid)  # 200 x 180 px kept: 10 x 9 whole cells at most
    assert 0 < (~lost).sum() <= 90
