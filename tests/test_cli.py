"""The ``invsteg`` command line: exit codes, stdout, stderr, files.

Run in this process (``helpers.invsteg``) except the round trip, the pipe and ``--version``,
which run ``python -m invsteg`` as a user would.

Contract: exit 0 ok, 1 payload problem, 2 usage or bad input; messages on stderr, ``--json``
data on stdout; a failed command leaves no output and no temp file behind. Every call uses
the tiny weights from ``conftest.tiny_weights``, never the shipped ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import ENV, Run, assert_one_error, invsteg, invsteg_process, pixels, save_noise
from invsteg import __version__

HIDE_JSON_KEYS = {
    "schema",
    "stego",
    "model",
    "size",
    "secrets",
    "secret_size",
    "secret_fitted",
    "stego_psnr_db",
}
REVEAL_JSON_KEYS = {"schema", "secret", "secrets", "size"}


def image_info(path: Path) -> tuple[str | None, tuple[int, int]]:
    with Image.open(path) as image:
        return image.format, image.size


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry under ``directory`` (hidden temp files included) with its bytes."""
    return {
        str(p.relative_to(directory)): None if p.is_dir() else p.read_bytes()
        for p in sorted(directory.rglob("*"))
    }


# -- hide -> reveal through files, stdin/stdout and the api ------------------------------------


@dataclass
class RoundTrip:
    work: Path
    cover: Path
    secret: Path
    stego: Path
    revealed: Path
    hide: Run
    reveal: Run


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory: pytest.TempPathFactory, tiny_weights: Path) -> RoundTrip:
    """``hide`` and ``reveal`` with default output names; inputs sit in a subdirectory."""
    work = tmp_path_factory.mktemp("roundtrip")
    (work / "in").mkdir()
    cover = save_noise(work / "in" / "cover.png", 48, 40, seed=1)
    secret = save_noise(work / "in" / "secret.png", 48, 40, seed=2)
    hide = invsteg_process(work, "hide", "in/cover.png", "in/secret.png", "--weights", tiny_weights)
    reveal = invsteg_process(work, "reveal", "cover.stego.png", "--weights", tiny_weights, "--json")
    return RoundTrip(
        work, cover, secret, work / "cover.stego.png", work / "cover.stego.secret.png", hide, reveal
    )


def test_hide_then_reveal_through_png_files(roundtrip: RoundTrip) -> None:
    hide, reveal = roundtrip.hide, roundtrip.reveal
    assert hide.rc == 0, hide.err
    assert hide.out == b""  # without --json, stdout stays empty
    assert len(hide.err_lines) == 1 and hide.err_lines[0].startswith("wrote cover.stego.png"), hide.err
    # default names: <cover stem>.stego.png and <stego stem>.secret.png, in the cwd
    assert not (roundtrip.work / "in" / "cover.stego.png").exists()
    assert image_info(roundtrip.stego) == ("PNG", (48, 40))

    assert reveal.rc == 0, reveal.err
    assert reveal.err == ""
    data = json.loads(reveal.out)
    assert set(data) == REVEAL_JSON_KEYS
    assert data == {
        "schema": 2,
        "secret": "cover.stego.secret.png",
        "secrets": ["cover.stego.secret.png"],
        "size": [48, 40],
    }
    assert image_info(roundtrip.revealed) == ("PNG", (48, 40))
    assert not list(roundtrip.work.glob(".*.tmp"))


def test_pipeline_through_stdin_and_stdout(roundtrip: RoundTrip, tiny_weights: Path) -> None:
    hide = invsteg_process(
        roundtrip.work, "hide", "-", "in/secret.png", "-o", "-", "--weights", tiny_weights,
        stdin=roundtrip.cover.read_bytes(),
    )  # fmt: skip
    assert hide.rc == 0, hide.err
    assert hide.err == ""
    # the same stego as through files, but for float rounding ties: with several threads a
    # convolution's sums may come out in another order from one run to the next
    assert_nearly_same_png(hide.out, roundtrip.stego.read_bytes())

    reveal = invsteg(roundtrip.work, "reveal", "-", "-o", "-", "--weights", tiny_weights, stdin=hide.out)
    assert reveal.rc == 0, reveal.err
    assert_nearly_same_png(reveal.out, roundtrip.revealed.read_bytes())


def assert_nearly_same_png(a: bytes, b: bytes) -> None:
    import io

    from PIL import Image

    first, second = (np.asarray(Image.open(io.BytesIO(x)).convert("RGB")).astype(int) for x in (a, b))
    assert first.shape == second.shape
    assert np.abs(first - second).max() <= 1
    assert np.count_nonzero(first != second) <= 0.01 * first.size


def test_files_match_the_api(roundtrip: RoundTrip, tiny_weights: Path) -> None:
    from invsteg.pipelines import hiding
    from invsteg.zoo import load_weights_file

    net = load_weights_file(tiny_weights)
    cover = pixels(roundtrip.cover)
    result = hiding.hide(cover, pixels(roundtrip.secret), net=net, precision="auto")  # hide's default
    assert not np.array_equal(result.stego, cover)  # the tiny model is not the identity
    np.testing.assert_array_equal(pixels(roundtrip.stego), result.stego)
    np.testing.assert_array_equal(pixels(roundtrip.revealed), hiding.reveal(result.stego, net=net))


def test_never_overwrites_without_force(roundtrip: RoundTrip, tiny_weights: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    args = ("hide", roundtrip.cover, roundtrip.secret, "-o", "out.png", "--weights", tiny_weights)
    refused = invsteg(tmp_path, *args)
    assert_one_error(refused, "--force")
    assert snapshot(tmp_path) == {"out.png": b"precious"}

    forced = invsteg(tmp_path, *args, "--force")
    assert forced.rc == 0, forced.err
    assert target.read_bytes() == roundtrip.stego.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


# -- sizes, lossy formats, image modes --------------------------------------------------------


def test_secret_of_another_size(tiny_weights: Path, tmp_path: Path) -> None:
    save_noise(tmp_path / "cover.png", 37, 29, seed=3)  # odd sizes: padded and cropped back
    save_noise(tmp_path / "secret.png", 48, 40, seed=4)
    hide = invsteg(
        tmp_path, "hide", "cover.png", "secret.png", "-o", "stego.png", "--json", "--weights", tiny_weights
    )
    assert hide.rc == 0, hide.err
    assert "--size 48x40" in hide.err
    data = json.loads(hide.out)
    assert set(data) == HIDE_JSON_KEYS
    assert data["stego"] == "stego.png"
    assert data["model"] == str(tiny_weights)
    assert data["size"] == [37, 29]
    assert data["secret_size"] == [48, 40]
    assert data["secret_fitted"] is True
    assert isinstance(data["stego_psnr_db"], float)
    assert image_info(tmp_path / "stego.png") == ("PNG", (37, 29))

    reveal = invsteg(
        tmp_path, "reveal", "stego.png", "--size", "48x40", "-o", "back.png", "--weights", tiny_weights
    )
    assert reveal.rc == 0, reveal.err
    assert reveal.out == b""
    assert image_info(tmp_path / "back.png") == ("PNG", (48, 40))

    bad = invsteg(
        tmp_path, "reveal", "stego.png", "--size", "abc", "-o", "bad.png", "--weights", tiny_weights
    )
    assert_one_error(bad, "--size")
    assert not (tmp_path / "bad.png").exists()


def test_lossy_output_and_lossy_stego(tiny_weights: Path, tmp_path: Path) -> None:
    save_noise(tmp_path / "cover.png", 48, 40, seed=5)
    save_noise(tmp_path / "secret.png", 48, 40, seed=6)
    hide = ("hide", "cover.png", "secret.png", "-o", "stego.jpg", "--weights", tiny_weights)
    refused = invsteg(tmp_path, *hide)
    assert_one_error(refused, "lossy")
    assert not (tmp_path / "stego.jpg").exists()

    allowed = invsteg(tmp_path, *hide, "--allow-lossy")
    assert allowed.rc == 0, allowed.err
    assert any(line.startswith("warning:") for line in allowed.err_lines), allowed.err
    assert image_info(tmp_path / "stego.jpg") == ("JPEG", (48, 40))

    reveal = ("reveal", "stego.jpg", "-o", "secret-out.png", "--weights", tiny_weights)
    refused = invsteg(tmp_path, *reveal)
    assert_one_error(refused, "JPEG")
    assert not (tmp_path / "secret-out.png").exists()

    allowed = invsteg(tmp_path, *reveal, "--allow-lossy")
    assert allowed.rc == 0, allowed.err
    assert image_info(tmp_path / "secret-out.png") == ("PNG", (48, 40))


def _exif_rotated_jpeg(path: Path) -> tuple[int, int]:
    image = Image.fromarray(np.random.default_rng(7).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    image.save(path, "JPEG", exif=exif.tobytes())
    return 40, 48  # the displayed (w, h): width and height swapped


def _converted(mode: str) -> Callable[[Path], tuple[int, int]]:
    def make(path: Path) -> tuple[int, int]:
        rng = np.random.default_rng(8)
        if mode == "I;16":
            image = Image.fromarray(rng.integers(0, 65536, (40, 48), dtype=np.uint16))
        else:
            image = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).convert(mode)
        image.save(path)
        with Image.open(path) as saved:
            assert saved.mode == mode
        return 48, 40

    return make


@pytest.mark.parametrize(
    ("name", "make", "note"),
    [
        ("rgba.png", _converted("RGBA"), "alpha"),
        ("gray.png", _converted("L"), "grayscale"),
        ("palette.png", _converted("P"), "palette"),
        ("gray16.png", _converted("I;16"), "16-bit"),
        ("rotated.jpg", _exif_rotated_jpeg, "EXIF orientation"),
    ],
    ids=["RGBA", "L", "P", "I;16", "EXIF-6"],
)
def test_converted_covers(
    name: str, make: Callable[[Path], tuple[int, int]], note: str, tiny_weights: Path, tmp_path: Path
) -> None:
    size = make(tmp_path / name)
    save_noise(tmp_path / "secret.png", *size, seed=9)
    run = invsteg(tmp_path, "hide", name, "secret.png", "-o", "stego.png", "--weights", tiny_weights)
    assert run.rc == 0, run.err
    notes = [line for line in run.err_lines if line.startswith("note:")]
    assert len(notes) == 1 and note in notes[0], run.err
    assert image_info(tmp_path / "stego.png") == ("PNG", size)


# -- bad input: exit 2, one `error:` line, nothing written ------------------------------------


def _missing_cover(d: Path) -> list[str]:
    return ["hide", "missing.png", "secret.png", "-o", "out.png"]


def _text_cover(d: Path) -> list[str]:
    (d / "notes.txt").write_text("this is not an image\n")
    return ["hide", "notes.txt", "secret.png", "-o", "out.png"]


def _truncated_cover(d: Path) -> list[str]:
    data = (d / "cover.png").read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    return ["hide", "truncated.png", "secret.png", "-o", "out.png"]


def _empty_cover(d: Path) -> list[str]:
    (d / "empty.png").write_bytes(b"")
    return ["hide", "empty.png", "secret.png", "-o", "out.png"]


def _tiny_cover(d: Path) -> list[str]:
    save_noise(d / "tiny.png", 4, 4, seed=10)
    return ["hide", "tiny.png", "secret.png", "-o", "out.png"]


def _missing_output_dir(d: Path) -> list[str]:
    return ["hide", "cover.png", "secret.png", "-o", "no-such-dir/out.png"]


def _unwritable_output_dir(d: Path) -> list[str]:
    if os.geteuid() == 0:  # root writes into 0o555 directories; a regular file as the directory fails
        return ["hide", "cover.png", "secret.png", "-o", "secret.png/out.png"]
    (d / "locked").mkdir()
    (d / "locked").chmod(0o555)
    return ["hide", "cover.png", "secret.png", "-o", "locked/out.png"]


def _output_is_input(d: Path) -> list[str]:
    return ["hide", "cover.png", "secret.png", "-o", "./secret.png", "--force"]


def _both_stdin(d: Path) -> list[str]:
    return ["hide", "-", "-", "-o", "out.png"]


def _json_to_stdout_image(d: Path) -> list[str]:
    return ["hide", "cover.png", "secret.png", "-o", "-", "--json"]


def _unknown_model(d: Path) -> list[str]:
    return ["hide", "cover.png", "secret.png", "-o", "out.png", "--model", "no-such-model"]


def _missing_weights(d: Path) -> list[str]:
    return ["hide", "cover.png", "secret.png", "-o", "out.png", "--weights", "missing.safetensors"]


def _corrupt_weights(d: Path) -> list[str]:
    (d / "corrupt.safetensors").write_bytes(np.random.default_rng(11).bytes(4096))
    return ["hide", "cover.png", "secret.png", "-o", "out.png", "--weights", "corrupt.safetensors"]


@pytest.mark.parametrize(
    ("prepare", "match"),
    [
        pytest.param(_missing_cover, "not found", id="missing-cover"),
        pytest.param(_text_cover, "not an image", id="text-cover"),
        pytest.param(_truncated_cover, "truncated", id="truncated-png"),
        pytest.param(_empty_cover, "empty", id="zero-byte-cover"),
        pytest.param(_tiny_cover, "at least", id="cover-below-min-size"),
        pytest.param(_missing_output_dir, "does not exist", id="missing-output-dir"),
        pytest.param(_unwritable_output_dir, "output directory", id="unwritable-output-dir"),
        pytest.param(_output_is_input, "also an input", id="output-is-input"),
        pytest.param(_both_stdin, "stdin", id="both-inputs-stdin"),
        pytest.param(_json_to_stdout_image, "--json", id="json-with-stdout-image"),
        pytest.param(_unknown_model, "unknown model", id="unknown-model"),
        pytest.param(_missing_weights, "not found", id="missing-weights"),
        pytest.param(_corrupt_weights, "cannot read weights", id="corrupt-weights"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    prepare: Callable[[Path], list[str]], match: str, tiny_weights: Path, tmp_path: Path
) -> None:
    save_noise(tmp_path / "cover.png", 48, 40, seed=12)
    save_noise(tmp_path / "secret.png", 48, 40, seed=13)
    args = prepare(tmp_path)
    if "--weights" not in args:
        args += ["--weights", str(tiny_weights)]
    before = snapshot(tmp_path)
    try:
        run = invsteg(tmp_path, *args)
        after = snapshot(tmp_path)
    finally:
        if (tmp_path / "locked").exists():
            (tmp_path / "locked").chmod(0o755)
    assert_one_error(run, match)
    if "--json" in args:  # the error, as JSON, is all stdout gets
        assert json.loads(run.out)["error"] == "usage"
    else:
        assert run.out == b""
    assert after == before  # no output, no .*.tmp, inputs unchanged


# -- the command line itself ----------------------------------------------------------------


def test_version_and_help(tmp_path: Path) -> None:
    version = invsteg_process(tmp_path, "--version")
    assert version.rc == 0, version.err
    assert version.out.decode().strip() == f"invsteg {__version__}"

    help_ = invsteg(tmp_path, "--help")
    assert help_.rc == 0, help_.err
    assert b"hide" in help_.out and b"reveal" in help_.out


def test_importing_the_cli_does_not_import_torch(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import invsteg.cli"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "invsteg.cli" in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.rstrip().endswith(" torch")]


def test_models_json(tmp_path: Path) -> None:
    run = invsteg(tmp_path, "models", "--json")
    assert run.rc == 0, run.err
    parameters = {row["name"]: row["parameters"] for row in json.loads(run.out)["models"]}
    assert parameters["hinet-official"] == 4050240
    assert parameters["hinet-small"] > 0


def test_json_psnr_of_an_unchanged_cover_is_null(tmp_path: Path) -> None:
    """A fresh HiNet is the identity: the stego equals the cover and its PSNR is infinite,
    which JSON cannot hold (``Infinity`` is not JSON), so it is reported as null."""
    from invsteg.models.hinet import HiNet, HiNetConfig
    from invsteg.zoo import save_weights

    weights = tmp_path / "identity.safetensors"
    save_weights(HiNet(HiNetConfig(blocks=1, growth=4)), weights)
    cover = save_noise(tmp_path / "cover.png", 48, 40, seed=14)
    stego = tmp_path / "stego.png"
    args = ["hide", cover, cover, "-o", stego, "--json", "--weights", weights]
    result = invsteg(tmp_path, *args)
    assert result.rc == 0, result.err

    def reject(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    data = json.loads(result.out, parse_constant=reject)
    assert data["stego_psnr_db"] is None
    np.testing.assert_array_equal(pixels(stego), pixels(cover))


def test_eval_reports_metrics_and_draws_a_figure(tmp_path, tiny_weights) -> None:
    covers = tmp_path / "covers"
    covers.mkdir()
    for seed in range(3):
        save_noise(covers / f"{seed}.png", 40, 32, seed)
    run = invsteg(tmp_path, "eval", covers, "--view", "full", "--weights", tiny_weights, "--json",
                  "--figure", "fig.png")  # fmt: skip
    assert run.rc == 0, run.err
    summary = json.loads(run.out)
    assert summary["images"] == 3 and len(summary["per_image"]) == 3
    assert set(summary["stego"]) == {"psnr", "psnr_y", "ssim", "pattern", "pattern_max"}
    for key in ("secret_png", "secret_jpeg95", "secret_noise1"):
        assert set(summary[key]) == {"psnr", "psnr_y", "ssim"}
    assert image_info(tmp_path / "fig.png") == ("PNG", (6 * 40, 32))
    assert invsteg(tmp_path, "eval", covers, "--view", "nope", "--weights", tiny_weights).rc == 2
    plain = invsteg(tmp_path, "eval", covers, "--weights", tiny_weights, "--json", "--device", "cpu",
                    "--precision", "fp32")  # fmt: skip
    assert plain.rc == 0, plain.err
    assert json.loads(plain.out)["images"] == 3
    assert_one_error(
        invsteg(tmp_path, "eval", covers, "--weights", tiny_weights, "--precision", "fp16"), "--precision"
    )
    assert_one_error(
        invsteg(tmp_path, "eval", covers, "--weights", tiny_weights, "--device", "tpu"), "--device"
    )


# -- conventions: --json errors, -q/-v, completion ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "rc", "kind"),
    [
        (["hide", "missing.png", "cover.png", "--json"], 2, "input_file"),
        (["hide", "cover.png", "cover.png", "--json", "--bogus"], 2, "usage"),
        (["extract-file", "cover.png", "--no-passphrase", "--json", "-o", "x.bin"], 1, "payload"),
        (["hide", "cover.png", "cover.png", "--json", "-m", "nope"], 2, "model"),
    ],
)
def test_errors_under_json_are_a_json_object_with_the_same_exit_code(
    tmp_path: Path, args: list[str], rc: int, kind: str
) -> None:
    save_noise(tmp_path / "cover.png", 32, 32)
    run = invsteg(tmp_path, *args)
    assert run.rc == rc, run.err
    data = json.loads(run.out)
    assert data["schema"] == 2 and data["error"] == kind
    assert run.err_lines == [f"error: {data['message']}"]


def test_quiet_prints_nothing_and_verbose_says_how_long(tmp_path: Path, tiny_weights: Path) -> None:
    save_noise(tmp_path / "cover.png", 32, 32)
    weights = ["--weights", tiny_weights]
    quiet = invsteg(tmp_path, "-q", "hide", "cover.png", "cover.png", "-o", "a.png", *weights)
    assert quiet.rc == 0 and quiet.err == "" and (tmp_path / "a.png").exists()
    loud = invsteg(tmp_path, "--verbose", "hide", "cover.png", "cover.png", "-o", "b.png", *weights)
    assert loud.rc == 0 and "wrote b.png" in loud.err
    assert loud.err_lines[-1].startswith("done in ") and loud.err_lines[-1].endswith(" s")
    failing = invsteg(tmp_path, "-q", "hide", "cover.png", "cover.png", "-o", "a.png", *weights)
    assert_one_error(failing, "a.png")  # errors still speak under --quiet
    assert_one_error(invsteg(tmp_path, "-q", "-v", "models"), "--quiet and --verbose")


def test_shell_completion_is_offered(tmp_path: Path) -> None:
    """What the installed bash completion script asks the program: complete "res"."""
    env = {"_INVSTEG_COMPLETE": "complete_bash", "COMP_WORDS": "invsteg res", "COMP_CWORD": "1"}
    run = invsteg(tmp_path, env=env)
    assert run.rc == 0, run.err
    assert run.out.decode().split() == ["rescale"]


def test_precision_option(tmp_path: Path, tiny_weights: Path) -> None:
    """--precision fp32 and bf16 give stegos equal up to rounding; an unknown precision is
    one usage error, and nothing is written."""
    save_noise(tmp_path / "cover.png", 32, 32)
    weights = ["--weights", tiny_weights]
    for name in ("fp32", "bf16"):
        run = invsteg(
            tmp_path, "hide", "cover.png", "cover.png", "-o", f"{name}.png", "--precision", name, *weights
        )
        assert run.rc == 0, run.err
    change = np.abs(pixels(tmp_path / "fp32.png").astype(int) - pixels(tmp_path / "bf16.png"))
    assert change.max() <= 2
    run = invsteg(tmp_path, "reveal", "fp32.png", "-o", "secret.png", *weights)
    assert run.rc == 0, run.err
    assert_one_error(
        invsteg(tmp_path, "hide", "cover.png", "cover.png", "-o", "x.png", "--precision", "half", *weights),
        "--precision",
    )
    assert not (tmp_path / "x.png").exists()


def test_device_option(tmp_path: Path, tiny_weights: Path) -> None:
    import torch

    save_noise(tmp_path / "cover.png", 32, 32)
    weights = ["--weights", tiny_weights]
    run = invsteg(tmp_path, "hide", "cover.png", "cover.png", "-o", "a.png", "--device", "cpu", *weights)
    assert run.rc == 0, run.err
    auto = invsteg(tmp_path, "hide", "cover.png", "cover.png", "-o", "b.png", "--device", "auto", *weights)
    assert auto.rc == 0, auto.err
    if not torch.cuda.is_available():  # auto is the CPU here, and gives the same stego
        assert np.array_equal(pixels(tmp_path / "a.png"), pixels(tmp_path / "b.png"))
        missing = invsteg(tmp_path, "reveal", "a.png", "-o", "c.png", "--device", "cuda", *weights)
        assert_one_error(missing, "no CUDA device")
    assert_one_error(
        invsteg(tmp_path, "reveal", "a.png", "-o", "d.png", "--device", "tpu", *weights), "--device"
    )
