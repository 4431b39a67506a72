"""Directory mode: one model load for a folder; a bad image is reported and the rest go on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import assert_one_error, invsteg, pixels, save_noise


def folders(root: Path, count: int = 3) -> tuple[Path, Path]:
    covers, secrets = root / "covers", root / "secrets"
    covers.mkdir()
    secrets.mkdir()
    for i in range(count):
        save_noise(covers / f"c{i}.png", 32, 24, seed=i)
        save_noise(secrets / f"s{i}.png", 32, 24, seed=10 + i)
    return covers, secrets


def test_hide_and_reveal_folders_pair_by_name(tmp_path: Path, tiny_weights: Path) -> None:
    folders(tmp_path)
    hide = invsteg(tmp_path, "hide", "covers", "secrets", "-o", "stegos", "--weights", tiny_weights, "--json")
    assert hide.rc == 0, hide.err
    report = json.loads(hide.out)
    assert report["failed"] == 0 and [r["stego"] for r in report["results"]] == [
        f"stegos/c{i}.stego.png" for i in range(3)
    ]
    assert [r["secrets"] for r in report["results"]] == [[f"secrets/s{i}.png"] for i in range(3)]
    reveal = invsteg(tmp_path, "reveal", "stegos", "-o", "out", "--weights", tiny_weights)
    assert reveal.rc == 0, reveal.err
    assert reveal.err_lines[-1] == "reveal: 3 of 3 image(s) done"
    for i in range(3):
        # the same as revealing each stego alone
        alone = invsteg(
            tmp_path, "reveal", f"stegos/c{i}.stego.png", "-o", f"alone{i}.png", "--weights", tiny_weights
        )
        assert alone.rc == 0, alone.err
        assert np.array_equal(
            pixels(tmp_path / "out" / f"c{i}.stego.secret.png"), pixels(tmp_path / f"alone{i}.png")
        )


def test_a_bad_image_is_reported_and_the_rest_go_on(tmp_path: Path, tiny_weights: Path) -> None:
    covers, _ = folders(tmp_path)
    (covers / "c1.png").write_bytes(b"not an image")
    run = invsteg(tmp_path, "hide", "covers", "secrets", "-o", "stegos", "--weights", tiny_weights, "--json")
    assert run.rc == 1
    report = json.loads(run.out)
    assert report["failed"] == 1 and [r["ok"] for r in report["results"]] == [True, False, True]
    assert report["results"][1]["error"] == "input_file"
    assert sorted(p.name for p in (tmp_path / "stegos").iterdir()) == ["c0.stego.png", "c2.stego.png"]
    assert [line for line in run.err_lines if line.startswith("error:")] == [
        f"error: covers/c1.png: {report['results'][1]['message']}"
    ]
    assert run.err_lines[-1] == "hide: 2 of 3 image(s) done, 1 failed"


def test_folder_mistakes_are_one_error(tmp_path: Path, tiny_weights: Path) -> None:
    _, secrets = folders(tmp_path)
    save_noise(secrets / "s9.png", 32, 24, seed=9)
    weights = ["--weights", tiny_weights]
    assert_one_error(
        invsteg(tmp_path, "hide", "covers", "secrets", "-o", "out", *weights), "paired by sorted name"
    )
    (secrets / "s9.png").unlink()
    assert_one_error(
        invsteg(tmp_path, "hide", "covers", "secrets/s0.png", "-o", "out", *weights), "folder of secrets"
    )
    assert_one_error(invsteg(tmp_path, "hide", "covers", "secrets", *weights), "-o OUT_FOLDER")
    assert_one_error(
        invsteg(tmp_path, "embed-file", "covers", "secrets/s0.png", "--no-passphrase"),
        "one file in one cover",
    )
    (tmp_path / "empty").mkdir()
    assert_one_error(invsteg(tmp_path, "reveal", "empty", "-o", "out", *weights), "no images")


def test_extract_file_from_a_folder_of_stegos(tmp_path: Path, tiny_stegcinn_weights: Path) -> None:
    (tmp_path / "stegos").mkdir()
    weights = ["--weights", tiny_stegcinn_weights]
    for i in range(2):
        save_noise(tmp_path / f"cover{i}.png", 64, 64, seed=20 + i)
        (tmp_path / f"note{i}.txt").write_text(f"message {i}")
        run = invsteg(
            tmp_path,
            "embed-file",
            f"cover{i}.png",
            f"note{i}.txt",
            "-o",
            f"stegos/s{i}.png",
            "--no-passphrase",
            *weights,
        )
        assert run.rc == 0, run.err
    run = invsteg(tmp_path, "extract-file", "stegos", "-o", "files", "--no-passphrase", *weights, "--json")
    assert run.rc == 0, run.err
    assert [r["output"] for r in json.loads(run.out)["results"]] == ["files/note0.txt", "files/note1.txt"]
    assert (tmp_path / "files" / "note1.txt").read_text() == "message 1"


# -- a folder run and single runs go through the same call ------------------------------------


def _same_files(folder: Path, singles: Path) -> None:
    """Every file of ``folder`` is byte-identical to the same-named file in ``singles``."""
    names = sorted(p.name for p in folder.iterdir())
    assert names and names == sorted(p.name for p in singles.iterdir())
    for name in names:
        assert (folder / name).read_bytes() == (singles / name).read_bytes(), name


@pytest.mark.parametrize(
    ("secret_folders", "options"),
    [
        (1, ["--weights", "{tiny}"]),
        (1, ["--robust", "--tile", "64"]),  # picks robust-one
        (2, ["--robust", "--precision", "fp32"]),  # two secret folders: every pair hidden
    ],
    ids=["weights", "robust-one-secret", "robust-two-secrets"],
)
def test_hide_and_reveal_agree_in_folder_and_single_mode(
    tmp_path: Path, tiny_weights: Path, secret_folders: int, options: list[str]
) -> None:
    options = [o.replace("{tiny}", str(tiny_weights)) for o in options]
    (tmp_path / "covers").mkdir()
    folders = [tmp_path / f"s{k}" for k in range(secret_folders)]
    for k, folder in enumerate(folders):
        folder.mkdir()
        for i in range(2):
            save_noise(folder / f"x{i}.png", 40, 32, seed=10 * k + 10 + i)
    for i in range(2):
        save_noise(tmp_path / "covers" / f"c{i}.png", 40, 32, seed=i)
    run = invsteg(tmp_path, "hide", "covers", *[f.name for f in folders], "-o", "stegos", *options, "--json")
    assert run.rc == 0, run.err
    assert json.loads(run.out)["failed"] == 0
    (tmp_path / "single").mkdir()
    for i in range(2):
        secrets = [f"{f.name}/x{i}.png" for f in folders]
        alone = invsteg(
            tmp_path, "hide", f"covers/c{i}.png", *secrets, "-o", f"single/c{i}.stego.png", *options
        )
        assert alone.rc == 0, alone.err
    _same_files(tmp_path / "stegos", tmp_path / "single")

    reveal_options = (
        [*options, "--model", "robust-one"] if secret_folders == 1 and "--robust" in options else options
    )
    run = invsteg(tmp_path, "reveal", "stegos", "-o", "revealed", *reveal_options)
    assert run.rc == 0, run.err
    (tmp_path / "revealed_single").mkdir()
    for i in range(2):
        output = f"revealed_single/c{i}.stego.secret" + ("_{i}.png" if secret_folders == 2 else ".png")
        alone = invsteg(tmp_path, "reveal", f"stegos/c{i}.stego.png", "-o", output, *reveal_options)
        assert alone.rc == 0, alone.err
    _same_files(tmp_path / "revealed", tmp_path / "revealed_single")
    assert len(list((tmp_path / "revealed").iterdir())) == 2 * secret_folders


def test_extract_file_agrees_in_folder_and_single_mode(tmp_path: Path, tiny_stegcinn_weights: Path) -> None:
    """embed-file takes one cover only; what it wrote extracts the same from a folder and alone."""
    (tmp_path / "stegos").mkdir()
    options = ["--weights", str(tiny_stegcinn_weights), "--no-passphrase"]
    for i in range(2):
        save_noise(tmp_path / f"cover{i}.png", 64, 64, seed=30 + i)
        (tmp_path / f"note{i}.txt").write_bytes(bytes(range(i, 40 + i)))
        run = invsteg(
            tmp_path, "embed-file", f"cover{i}.png", f"note{i}.txt", "-o", f"stegos/s{i}.png", *options
        )
        assert run.rc == 0, run.err
    run = invsteg(tmp_path, "extract-file", "stegos", "-o", "files", *options)
    assert run.rc == 0, run.err
    (tmp_path / "single").mkdir()
    for i in range(2):
        alone = invsteg(tmp_path, "extract-file", f"stegos/s{i}.png", "-o", f"single/note{i}.txt", *options)
        assert alone.rc == 0, alone.err
    _same_files(tmp_path / "files", tmp_path / "single")
    assert (tmp_path / "files" / "note1.txt").read_bytes() == bytes(range(1, 41))


# -- --force in a folder run: never an input, never two results into one file ---------------


def test_folder_hide_never_overwrites_an_input_of_the_run(tmp_path: Path, tiny_weights: Path) -> None:
    """-o the covers folder: a.png's stego would be the cover a.stego.png; --force or not."""
    covers, secrets = tmp_path / "covers", tmp_path / "secrets"
    covers.mkdir()
    secrets.mkdir()
    for i, name in enumerate(["a.png", "a.stego.png"]):
        save_noise(covers / name, 32, 24, seed=i)
        save_noise(secrets / f"s{i}.png", 32, 24, seed=10 + i)
    before = (covers / "a.stego.png").read_bytes()
    run = invsteg(tmp_path, "hide", "covers", "secrets", "-o", "covers", "--force", "--weights", tiny_weights)
    assert_one_error(run, "covers/a.stego.png is also an input")
    assert (covers / "a.stego.png").read_bytes() == before
    assert sorted(p.name for p in covers.iterdir()) == ["a.png", "a.stego.png"]


@pytest.mark.parametrize("command", ["hide", "reveal"])
def test_two_inputs_of_one_output_name_are_refused_before_any_work(
    tmp_path: Path, tiny_weights: Path, command: str
) -> None:
    """x.png and x.jpg both make x.stego.png (x.stego.secret.png): with --force one result
    would silently replace the other while the summary said 2 of 2 done."""
    covers, secrets = tmp_path / "covers", tmp_path / "secrets"
    covers.mkdir()
    secrets.mkdir()
    save_noise(covers / "x.png", 32, 24, seed=1)
    save_noise(covers / "x.jpg", 32, 24, seed=2)
    for i in range(2):
        save_noise(secrets / f"s{i}.png", 32, 24, seed=10 + i)
    (tmp_path / "out").mkdir()
    args = ["covers", "secrets"] if command == "hide" else ["covers", "--allow-lossy"]
    run = invsteg(tmp_path, command, *args, "-o", "out", "--force", "--weights", tiny_weights)
    name = "x.stego.png" if command == "hide" else "x.secret.png"
    assert_one_error(run, f"covers/x.jpg and covers/x.png would both write out/{name}")
    assert list((tmp_path / "out").iterdir()) == []


def _format3_stego(tmp_path: Path, path: str, payload: bytes, name: str, seed: int) -> None:
    save_noise(tmp_path / "cover.png", 64, 64, seed=seed)
    (tmp_path / "payload.bin").write_bytes(payload)
    args = ["cover.png", "payload.bin", "-o", path, "--name", name, "--no-passphrase", "--force"]
    run = invsteg(tmp_path, "embed-file", *args)
    assert run.rc == 0, run.err


def test_folder_extract_never_overwrites_a_stego_of_the_run(tmp_path: Path) -> None:
    """extract-file st/ -o st/ --force, where s0's stored name is s1.png, another stego."""
    (tmp_path / "st").mkdir()
    _format3_stego(tmp_path, "st/s0.png", b"first", "s1.png", seed=1)
    _format3_stego(tmp_path, "st/s1.png", b"second", "note.txt", seed=2)
    before = (tmp_path / "st" / "s1.png").read_bytes()
    run = invsteg(tmp_path, "extract-file", "st", "-o", "st", "--force", "--no-passphrase", "--json")
    assert run.rc == 1, run.err
    assert (tmp_path / "st" / "s1.png").read_bytes() == before
    assert (tmp_path / "st" / "note.txt").read_bytes() == b"second"
    results = json.loads(run.out)["results"]
    assert [r["ok"] for r in results] == [False, True]
    assert "st/s1.png is also an input" in results[0]["message"]
    assert run.err_lines[-1] == "extract-file: 1 of 2 image(s) done, 1 failed"


def test_folder_extract_never_writes_two_files_into_one(tmp_path: Path) -> None:
    """Two stegos storing the same name: the second is refused, --force or not, not lost."""
    (tmp_path / "st").mkdir()
    _format3_stego(tmp_path, "st/s0.png", b"first", "note.txt", seed=1)
    _format3_stego(tmp_path, "st/s1.png", b"second", "note.txt", seed=2)
    run = invsteg(tmp_path, "extract-file", "st", "-o", "files", "--force", "--no-passphrase")
    assert run.rc == 1, run.err
    assert (tmp_path / "files" / "note.txt").read_bytes() == b"first"
    errors = [line for line in run.err_lines if line.startswith("error:")]
    assert errors == [
        "error: st/s1.png: files/note.txt was extracted from st/s0.png in this run; "
        "extract st/s1.png alone with -o"
    ]
    assert run.err_lines[-1] == "extract-file: 1 of 2 image(s) done, 1 failed"
