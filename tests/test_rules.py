"""The rules between the library and the command line, each in one place: which model a
task and its options mean, which formats an output may be written in, and how the
library's parameters become the CLI's flags."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from invsteg import api
from invsteg.cli.flags import FLAGS, as_flags
from invsteg.errors import UsageError
from invsteg.io import outputs

SRC = Path(__file__).resolve().parents[1] / "src" / "invsteg"
NOT_YET: set[str] = set()
API_NOT_YET: tuple[str, ...] = ()


def test_the_library_names_parameters_not_flags() -> None:
    flag = re.compile(r"--[a-z{]")
    found = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name.startswith("cli/") or name in NOT_YET:
            continue
        text = path.read_text()
        if name == "api.py":
            for start in API_NOT_YET:  # cut out these functions' bodies
                head, _, rest = text.partition(start)
                text = head + rest[rest.find("\ndef ") :]
        found += [f"{name}: {line.strip()}" for line in text.splitlines() if flag.search(line)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("library", "cli"),
    [
        ("`device='cuda:9'`: choose one of auto, cpu", "--device cuda:9: choose one of auto, cpu"),
        ("pass `allow_lossy=True` to try anyway", "pass --allow-lossy to try anyway"),
        ("raise `max_pixels` if it is right", "raise --max-pixels if it is right"),
        ("`passphrase_file` my pass.txt", "--passphrase-file my pass.txt"),
        ("`precision='fp 16'`: choose", "--precision 'fp 16': choose"),
        ("`secret_size=(640, 480)`", "--size (640, 480)"),
        ("see `invsteg models` and `reveal`", "see `invsteg models` and `reveal`"),  # not parameters
        ("no parameter here -- at all", "no parameter here -- at all"),
    ],
)
def test_as_flags_writes_parameters_as_the_cli_options(library: str, cli: str) -> None:
    assert as_flags(library) == cli


def test_every_mapped_flag_is_an_option_of_some_command() -> None:
    from typer.main import get_command

    from invsteg.cli import app

    def options(command) -> set[str]:
        found = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for sub in getattr(command, "commands", {}).values():
            found |= options(sub)
        return found

    assert set(FLAGS.values()) <= options(get_command(app))


def test_library_errors_reach_the_cli_as_flags(tmp_path: Path) -> None:
    from helpers import invsteg, save_noise

    save_noise(tmp_path / "cover.png")
    with pytest.raises(UsageError, match=r"`device='tpu'`"):
        api.resolve_device("tpu")
    run = invsteg(tmp_path, "attack", "cover.png", "-o", "out.png", "--blur", "1", "--seed", "-1")
    assert run.rc == 2 and run.err_lines == [
        "error: noise seed (--seed) must be a whole number >= 0, got -1"
    ], run.err
    run = invsteg(tmp_path, "attack", "cover.png", "-o", "out.png")
    assert run.err_lines == ["error: name at least one attack: --jpeg, --noise, --resize or --blur"]


# -- which model -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "chosen"),
    [
        ({}, api.DEFAULT_MODEL),
        ({"robust": True, "secrets": 1}, api.ROBUST_ONE),
        ({"robust": True, "secrets": 2}, "robust"),
        ({"robust": True}, "robust"),  # revealing: the default robust model
        ({"model": "robust-detail", "robust": True, "secrets": 2}, "robust-detail"),
        ({"weights": "w.safetensors"}, None),  # the file's own architecture
    ],
)
def test_one_call_chooses_the_hiding_model(options: dict, chosen: str | None) -> None:
    assert api.hiding_model_name(**options) == chosen


def test_several_secrets_need_a_robust_model() -> None:
    with pytest.raises(UsageError, match="2 secrets given"):
        api.hiding_model_name(secrets=2)
    with pytest.raises(UsageError, match="hides 2 secret image"):
        api.load_hiding_model("robust", robust=True, secrets=1)


def test_hide_with_a_loaded_robust_model_needs_no_robust_flag() -> None:
    """A folder run loads the model once and passes it: its own count of secrets decides."""
    import numpy as np

    net = api.load_hiding_model(robust=True, secrets=2)
    cover = np.full((32, 32, 3), 128, np.uint8)
    stego = api.hide(cover, [cover, cover], net=net, precision="fp32")
    assert stego.pixels.shape == cover.shape


# -- which formats -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "destination", "allow_lossy", "expected"),
    [
        (outputs.STEGO, "s.png", False, "PNG"),
        (outputs.STEGO, "-", False, "PNG"),
        (outputs.STEGO, "s.jpg", True, "JPEG"),
        (outputs.ROBUST_STEGO, "s.webp", False, "WEBP"),
        (outputs.SECRET, "s.jpeg", False, "JPEG"),
        (outputs.SMALL_IMAGE, "s.tif", False, "TIFF"),
        (outputs.ATTACKED_AS_JPEG, "s.jpg", False, "JPEG"),
        (outputs.ROBUST_FILE_STEGO, "s.jpg", False, "JPEG"),
        (outputs.FILE_STEGO, "s.bmp", False, "BMP"),
    ],
)
def test_output_formats_allowed(kind, destination, allow_lossy, expected) -> None:
    assert outputs.output_format(destination, kind, allow_lossy=allow_lossy).name == expected


@pytest.mark.parametrize(
    ("kind", "destination", "allow_lossy", "message"),
    [
        (outputs.STEGO, "s.jpg", False, "`allow_lossy=True`"),
        (outputs.SMALL_IMAGE, "s.webp", False, "would destroy the hidden data"),
        (outputs.ATTACKED, "s.jpg", True, "compression nobody asked for"),
        (outputs.ATTACKED_AS_JPEG, "s.webp", False, "give `jpeg`"),
        (outputs.FILE_STEGO, "s.jpg", True, "`robust=True`"),
        (outputs.ROBUST_FILE_STEGO, "s.webp", False, "destroy the hidden file"),
        (outputs.SECRET, "s.gif", False, "unknown image extension"),
    ],
)
def test_output_formats_refused(kind, destination, allow_lossy, message) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        outputs.output_format(destination, kind, allow_lossy=allow_lossy)


def test_only_a_risky_lossy_output_is_warned_about() -> None:
    assert outputs.output_format("s.jpg", outputs.STEGO, allow_lossy=True).warning == (
        "JPEG is lossy; the secret will not survive in s.jpg"
    )
    assert outputs.output_format("s.jpg", outputs.ROBUST_STEGO).warning == ""
    assert outputs.output_format("s.jpg", outputs.SMALL_IMAGE, allow_lossy=True).warning == ""


def test_robust_defaults_live_in_the_library() -> None:
    from invsteg.cli import files
    from invsteg.pipelines import robust_files

    assert (
        robust_files.RobustSettings().jpeg_quality,
        robust_files.RobustSettings().scales[0],
    ) == (api.ROBUST_JPEG_QUALITY, api.ROBUST_RESIZE)
    helps = {p.name: p.help for p in _params(files.embed_file)}
    assert f"[default: {api.ROBUST_JPEG_QUALITY}]" in helps["jpeg"]
    assert f"[default: {api.ROBUST_RESIZE}]" in helps["resize"]


def _params(function):
    from typer.main import get_command

    from invsteg.cli import app

    command = get_command(app).commands[function.__name__.replace("_", "-")]
    return command.params
