"""The shipped default model, end to end on real 8-bit PNG files in examples/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import invsteg
from invsteg.eval.quality import compare, evaluate_pair, summarize
from invsteg.io.images import read_image
from invsteg.pipelines import hiding

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def net():
    return hiding.load_hiding_model()


def crop(name: str, size: int = 128) -> np.ndarray:
    return read_image(str(EXAMPLES / name), name).pixels[:size, :size]


def test_revealed_secret_is_far_closer_to_the_secret_than_to_the_cover(net, tmp_path) -> None:
    cover, secret = crop("cover2.png"), crop("secret2.png")
    stego = hiding.hide(cover, secret, net=net).stego
    path = tmp_path / "stego.png"
    from PIL import Image

    Image.fromarray(stego).save(path)
    revealed = hiding.reveal(read_image(str(path), "stego").pixels, net=net)
    to_secret, to_cover = compare(revealed, secret)["psnr"], compare(revealed, cover)["psnr"]
    assert to_secret > to_cover + 10, (to_secret, to_cover)
    assert to_secret > 25
    assert compare(stego, cover)["psnr"] > 35


def test_cli_demo_round_trip(tmp_path) -> None:
    """The README's demo path: files in, PNG stego, revealed secret from that PNG."""

    def run(*args: str) -> None:
        done = invsteg(tmp_path, *args)
        assert done.rc == 0, done.err

    run("hide", str(EXAMPLES / "cover.png"), str(EXAMPLES / "secret.png"), "-o", "stego.png")
    run("reveal", "stego.png", "-o", "revealed.png")
    revealed = read_image(str(tmp_path / "revealed.png"), "revealed").pixels
    secret = read_image(str(EXAMPLES / "secret.png"), "secret").pixels
    assert compare(revealed, secret)["psnr"] > 25


def test_evaluation_reports_fragility_to_jpeg(net) -> None:
    cover, secret = crop("cover.png", 64), crop("secret.png", 64)
    summary = summarize([evaluate_pair("example", cover, secret, net)])
    assert summary["secret_png"]["psnr"] > summary["secret_jpeg95"]["psnr"]
    assert set(summary) >= {"stego", "stego_worst", "secret_noise1", "secret_png_worst"}
    assert 0 <= summary["stego"]["pattern"] <= summary["stego"]["pattern_max"] < 256
