"""The pure helpers of ``benchmarks/steganalysis.py``: crops, payloads, splits and scores.

None of them needs the ``steganalysis`` extra (sealwatch, conseal), torch or the photos.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: `benchmarks`

from benchmarks import steganalysis as sa


@pytest.mark.parametrize(
    ("height", "width", "limit", "expected"),
    [
        (255, 1000, 4, 0),  # too small
        (256, 256, 4, 1),
        (768, 1024, 4, 4),
        (768, 1024, 2, 2),
        (600, 520, 4, 4),
        (3000, 4000, 4, 4),
    ],
)
def test_crops_fit_do_not_overlap_and_are_not_resampled(
    height: int, width: int, limit: int, expected: int
) -> None:
    size = 256
    positions = sa.crop_positions(height, width, size, limit)
    assert len(positions) == expected
    photo = np.arange(height * width, dtype=np.int64).reshape(height, width)  # every pixel unique
    covered = np.zeros((height, width), dtype=int)
    for top, left in positions:
        assert top >= 0 and left >= 0 and top + size <= height and left + size <= width
        crop = photo[top : top + size, left : left + size]
        # a crop is the photo's own pixels, one step apart: no scaling, no interpolation
        assert np.all(np.diff(crop, axis=1) == 1) and np.all(np.diff(crop, axis=0) == width)
        covered[top : top + size, left : left + size] += 1
    assert covered.max() <= 1  # no overlap
    assert positions == sa.crop_positions(height, width, size, limit)  # deterministic


def test_crops_spread_over_the_photo() -> None:
    positions = sa.crop_positions(2048, 2048, 256, 4)
    assert positions[0] == (0, 0) and positions[-1] == (1792, 1792)


def test_photo_order_is_fixed_and_mixes_names() -> None:
    paths = [Path(f"train/{prefix}_{i}.png") for prefix in ("a", "b") for i in range(10)]
    order = sa.photo_order(paths)
    assert order == sa.photo_order(list(reversed(paths)))
    assert sorted(order) == sorted(paths) and order != sorted(paths)


def test_min_pe_on_known_scores() -> None:
    assert sa.min_pe(np.array([0.0, 1, 2]), np.array([3.0, 4, 5])) == 0.0  # separable
    assert sa.min_pe(np.array([3.0, 4, 5]), np.array([0.0, 1, 2])) == 0.5  # reversed: guess
    assert sa.min_pe(np.zeros(5), np.zeros(7)) == 0.5  # all ties
    # one stego below every cover: threshold 1.5 misses it (P_MD 1/4), no false alarm
    assert sa.min_pe(np.array([1.0, 1, 1, 1]), np.array([0.0, 2, 2, 2])) == pytest.approx(0.125)
    # one cover above the stegos: best to accept one false alarm of four
    assert sa.min_pe(np.array([0.0, 0, 0, 9]), np.array([5.0, 5, 5, 5])) == pytest.approx(0.125)


def test_auc_on_known_scores() -> None:
    assert sa.auc(np.array([0.0, 1]), np.array([2.0, 3])) == 1.0
    assert sa.auc(np.array([2.0, 3]), np.array([0.0, 1])) == 0.0
    assert sa.auc(np.zeros(3), np.zeros(4)) == 0.5
    assert sa.auc(np.array([0.0, 2]), np.array([1.0, 2])) == pytest.approx((1 + 0 + 1 + 0.5) / 4)


def test_source_splits_keep_a_photo_on_one_side() -> None:
    sources = [f"p{i // 4}" for i in range(40)] + ["q0", "q1", "q2"]
    masks = sa.source_splits(sources, repeats=6, seed=3)
    assert len(masks) == 6 and len({m.tobytes() for m in masks}) > 1
    names = np.array(sources)
    for train in masks:
        assert not set(names[train]) & set(names[~train])
        assert len(set(names[train])) == len(set(sources)) // 2
    again = sa.source_splits(sources, repeats=6, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(masks, again, strict=True))


def test_payload_arithmetic() -> None:
    assert sa.parse_payloads("0.05, 0.1,max") == ["0.05", "0.1", "max"]
    with pytest.raises(Exception, match="payload"):
        sa.parse_payloads("0")
    assert sa.payload_bytes(0.4, 256, 256) == 3277
    # the references spread the same bits over the three colour samples of a pixel
    assert sa.channel_rate(sa.payload_bytes(0.3, 256, 256), 256, 256) == pytest.approx(0.1, rel=1e-3)


def test_latent_features() -> None:
    rng = np.random.default_rng(0)
    normal = sa.latent_features(rng.standard_normal((6, 64, 64)))
    assert normal.shape == (sa.HIST_BINS + 3,)
    assert normal[: sa.HIST_BINS].sum() == pytest.approx(1.0)
    assert normal[-3] == pytest.approx(0.08, abs=0.01)  # P(|z| < 0.1) of N(0, 1)
    assert abs(normal[-1]) < 0.2  # excess kurtosis of a normal
    z = rng.standard_normal((6, 64, 64))
    drawn = np.sign(z) * (0.6 + np.abs(z) % 1.0)  # carriers with a margin: no |z| < 0.6
    margin = sa.latent_features(drawn)
    assert margin[-3] == 0 and margin[-2] == 0 and margin[: sa.HIST_BINS][:6].sum() == 0


def test_format_row_reports_losses() -> None:
    row = {
        "embedder": "invsteg",
        "payload": "max",
        "bpp": 0.736,
        "embedded": 38,
        "does_not_fit": 0,
        "failed": 2,
        "covers": 40,
        "changed": 0.8,
        "scores": {"spam_rgb": {"pe_mean": 0.01, "pe_sd": 0.005}},
    }
    line = sa.format_row(row, ["spam_rgb", "model_aware"])
    assert "38/40 (2 failed)" in line and "80.00" in line and "0.010 ± 0.005" in line
    assert line.count("|") == 9  # 5 fixed + 2 P_E + 1 AUC columns


def test_cache_names_follow_versions(tmp_path: Path) -> None:
    covers = sa.Covers(np.zeros((1, 4, 4, 3), np.uint8), ["train/a"], [(0, 0)], "1x4-abc")
    cache = sa.Cache(tmp_path, covers, {"invsteg": "invsteg-0123"})
    assert cache.path("meta", "invsteg", "max").name == "meta_invsteg-0123_max.npz"
    assert cache.path("meta", "hill", "max").name == "meta_hill_max.npz"
    assert cache.load("meta", "hill", "max") is None
    cache.save({"x": np.arange(3)}, "meta", "hill", "max")
    assert np.array_equal(cache.load("meta", "hill", "max")["x"], np.arange(3))
    assert (
        sa.stable_seed("hill", "0.1", 3)
        == sa.stable_seed("hill", "0.1", 3)
        != sa.stable_seed("hill", "0.1", 4)
    )


def test_embedding_resumes_from_a_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pixels = np.random.default_rng(1).integers(0, 255, (5, 8, 8, 3), dtype=np.uint8)
    covers = sa.Covers(pixels, [f"p{i}" for i in range(5)], [(0, 0)] * 5, "5x8-test")
    cache = sa.Cache(tmp_path, covers)
    calls: list[int] = []

    def fake(cover: np.ndarray, nbytes: int, seed: int) -> sa.Embedded:
        calls.append(nbytes)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is stopped during the third image
        if nbytes > 20:
            return sa.Embedded(None, sa.NO_FIT)
        return sa.Embedded(cover + 1, sa.OK)

    monkeypatch.setitem(sa.EMBED, "fake", fake)
    monkeypatch.setattr(sa, "CHECKPOINT_S", -1.0)  # save after every image
    nbytes = np.array([1, 2, 3, 30, 5])
    with pytest.raises(KeyboardInterrupt):
        sa.stego_set("fake", "0.1", covers, nbytes, cache, seed=0)
    made = sa.stego_set("fake", "0.1", covers, nbytes, cache, seed=0)
    assert calls == [1, 2, 3, 3, 30, 5]  # images 0 and 1 were not embedded again
    assert list(made.status) == [sa.OK, sa.OK, sa.OK, sa.NO_FIT, sa.OK]
    assert np.array_equal(made.changed, [1, 1, 1, 0, 1])
    assert not cache.path("partial", "fake", "0.1").exists()
    again = sa.stego_set("fake", "0.1", covers, nbytes, cache, seed=0)  # from the cache now
    assert len(calls) == 6 and again.digest == made.digest
