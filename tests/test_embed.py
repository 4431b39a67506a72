"""embed-file / extract-file / capacity: any file in an image's colours, recovered bit-exact.

The command-line tests run ``invsteg`` in this process (one round trip with a real key
derivation runs ``python -m invsteg``) on real PNG files and byte stdio; the library tests
call :mod:`invsteg.pipelines.embedding` on arrays that went through PNG too.
Every model is the tiny Steg-cINN from ``conftest.tiny_stegcinn_weights`` (never shipped
weights); covers are small crops of ``examples/cover.png`` (a photo: dark areas, clipping).
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import assert_error, invsteg, invsteg_process
from invsteg.errors import PayloadError
from invsteg.payload import NoPayloadError, PayloadTooLargeError, keyed
from invsteg.payload.errors import EmbeddingFailedError
from invsteg.pipelines import embedding, latents
from invsteg.pipelines.embedding import EmbedSettings
from invsteg.pipelines.tiling import balanced_grid

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cover.png"
FAKE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + bytes(range(256)) + b"\n%%EOF\n"


def listing(directory: Path) -> list[str]:
    """Every entry under ``directory``, hidden temp files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def crop_example(width: int, height: int, left: int = 60, top: int = 60) -> np.ndarray:
    with Image.open(EXAMPLE) as image:
        return np.asarray(image.convert("RGB").crop((left, top, left + width, top + height)))


def save_png(path: Path, pixels: np.ndarray) -> Path:
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def load_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def through_png(pixels: np.ndarray) -> np.ndarray:
    """What a PNG file gives back (it must be exactly the same pixels)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


# Cheap key derivations in this process (conftest); the tests that pin the real cost
# put it back, and ``python -m invsteg`` runs keep it.
pytestmark = pytest.mark.usefixtures("fast_kdf")


@pytest.fixture(scope="module")
def model(tiny_stegcinn_weights: Path):
    from invsteg.zoo import load_weights_file

    return load_weights_file(tiny_stegcinn_weights)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``cover.png`` (96x80 photo crop)."""
    directory = tmp_path_factory.mktemp("embed")
    save_png(directory / "cover.png", crop_example(96, 80))
    return directory


@pytest.fixture
def cwd(tmp_path: Path) -> Iterator[Path]:
    """An empty folder to run a command in (so anything written shows up in it)."""
    yield tmp_path


# -- command line ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def capacities(work: Path, tiny_stegcinn_weights: Path) -> dict[str, dict]:
    """``capacity --json`` of the cover: unencrypted with no name, and encrypted for 'report.pdf'."""
    out = {}
    for key, args in (("plain", ["--no-passphrase"]), ("encrypted", ["--name", "report.pdf"])):
        run = invsteg(work, "capacity", "cover.png", "--weights", tiny_stegcinn_weights, "--json", *args)
        assert run.rc == 0, run.err
        assert run.err == ""
        (row,) = json.loads(run.out)["models"]
        out[key] = row
    return out


def test_capacity_without_a_model_lists_format_3_then_every_embedding_model(work: Path) -> None:
    """No weights are loaded (capacity is the architecture's), so this needs no trained model."""
    from invsteg.pipelines.adaptive import capacity_bytes
    from invsteg.pipelines.embedding import default_embed_model
    from invsteg.zoo import list_models

    run = invsteg(work, "capacity", "cover.png", "--no-passphrase")
    assert run.rc == 0, run.err
    names = [line.split(":")[0] for line in run.err.splitlines()]
    assert names[0] == "adaptive (default, format 3)"
    assert names[1] == f"{default_embed_model()} (default model, format 2)"
    assert sorted(name.split(" (")[0] for name in names[1:]) == sorted(
        spec.name for spec in list_models("embed")
    )
    rows = {
        row["model"] or row["method"]: row
        for row in json.loads(invsteg(work, "capacity", "cover.png", "--json").out)["models"]
    }
    assert {row["method"] for name, row in rows.items() if name != "adaptive"} == {"steg-cinn"}
    assert rows["stegcinn-detail"]["carriers"] == 6 * 48 * 40  # the colour detail: 3 of 4 bands
    assert (rows["adaptive"]["model"], rows["adaptive"]["format"]) == (None, 3)
    assert rows["adaptive"]["net_bytes"] == capacity_bytes(96, 80, encrypted=True)
    assert rows["stegcinn-fast"]["carriers"] == 8 * 48 * 40


def test_capacity_reports_net_bytes_and_bpp(capacities: dict[str, dict]) -> None:
    plain, encrypted = capacities["plain"], capacities["encrypted"]
    assert plain["carriers"] == 8 * 48 * 40  # every latent of a 96x80 image
    assert plain["encrypted"] is False and encrypted["encrypted"] is True
    # header 11 + name length 1 + data length 4 + hash 8 = 24 bytes; encryption adds 8 (a GCM
    # tag of 16 for the hash; the salt sits in the head), the name 10
    assert plain["net_bytes"] == plain["container_bytes"] - 24
    assert encrypted["net_bytes"] == plain["net_bytes"] - 8 - len("report.pdf")
    assert plain["bpp"] == pytest.approx(8 * plain["net_bytes"] / (96 * 80))


def test_exact_capacity_through_stdin_and_stdout_pipes(
    cwd: Path, work: Path, tiny_stegcinn_weights: Path, capacities: dict[str, dict]
) -> None:
    """A file of exactly the reported size: stdin -> embed -> stdout -> extract -> stdout."""
    data = np.random.default_rng(0).bytes(capacities["plain"]["net_bytes"])
    weights = ["--weights", tiny_stegcinn_weights]
    run = invsteg(
        cwd, "embed-file", work / "cover.png", "-", "-o", "-", "--no-passphrase", *weights, stdin=data
    )
    assert run.rc == 0, run.err
    # with -o -, nothing to say but that a full cover is easier to detect
    assert run.err.startswith("note: ") and "safe size" in run.err and len(run.err.splitlines()) == 1
    stego = Image.open(io.BytesIO(run.out))
    assert (stego.format, stego.size) == ("PNG", (96, 80))
    back = invsteg(cwd, "extract-file", "-", "-o", "-", *weights, stdin=run.out)
    assert back.rc == 0, back.err
    assert back.out == data
    assert listing(cwd) == []


def test_one_byte_more_than_capacity_fails_and_says_what_fits(
    cwd: Path, work: Path, tiny_stegcinn_weights: Path, capacities: dict[str, dict]
) -> None:
    limit = capacities["plain"]["net_bytes"]
    data = np.random.default_rng(1).bytes(limit + 1)  # random: does not compress
    run = invsteg(
        cwd, "embed-file", work / "cover.png", "-", "-o", "out.png", "--no-passphrase",
        "--weights", tiny_stegcinn_weights, stdin=data,
    )  # fmt: skip
    assert_error(run, 1, f"holds at most {limit} bytes")
    assert listing(cwd) == []


def test_encrypted_pdf_at_capacity_round_trips_to_its_stored_name(
    cwd: Path, work: Path, tiny_stegcinn_weights: Path, capacities: dict[str, dict]
) -> None:
    """Encrypted, named, exactly at the encrypted capacity; extracted to ./report.pdf."""
    size = capacities["encrypted"]["net_bytes"]
    pdf = FAKE_PDF + np.random.default_rng(2).bytes(size - len(FAKE_PDF))
    (cwd / "in").mkdir()
    (cwd / "in" / "report.pdf").write_bytes(pdf)
    (cwd / "pass.txt").write_text("correct horse\n")
    weights = ["--weights", tiny_stegcinn_weights]
    # real processes: the real Argon2id, end to end
    run = invsteg_process(
        cwd, "embed-file", work / "cover.png", "in/report.pdf", "-o", "stego.png", *weights, "--json",
        env={"INVSTEG_PASSPHRASE": "correct horse"},
    )  # fmt: skip
    assert run.rc == 0, run.err
    report = json.loads(run.out)
    assert report["bytes"] == size and report["capacity_bytes"] == size
    assert report["encrypted"] is True and report["accepted"] is True
    assert report["correction_used"][-1] <= 0.5

    (cwd / "out").mkdir()
    back = invsteg_process(
        cwd / "out", "extract-file", "../stego.png", "--passphrase-file", "../pass.txt", *weights
    )
    assert back.rc == 0, back.err
    assert back.err.startswith("wrote report.pdf")
    assert (cwd / "out" / "report.pdf").read_bytes() == pdf

    # the wrong passphrase, or none: exit 1, one line, nothing written
    for env in ({"INVSTEG_PASSPHRASE": "wrong horse"}, {}):
        failed = invsteg(cwd / "out", "extract-file", "../stego.png", "-o", "other.pdf", *weights, env=env)
        assert_error(failed, 1, "no payload found")
    assert listing(cwd / "out") == ["report.pdf"]


def test_empty_file_round_trips(cwd: Path, work: Path, tiny_stegcinn_weights: Path) -> None:
    (cwd / "empty.txt").write_bytes(b"")
    weights = ["--weights", tiny_stegcinn_weights]
    run = invsteg(
        cwd, "embed-file", work / "cover.png", "empty.txt", "-o", "s.png", "--no-passphrase", *weights
    )
    assert run.rc == 0, run.err
    (cwd / "empty.txt").unlink()
    back = invsteg(cwd, "extract-file", "s.png", *weights, "--json")
    assert back.rc == 0, back.err
    assert json.loads(back.out) == {
        "schema": 2,
        "output": "empty.txt",
        "method": "steg-cinn",
        "model": str(tiny_stegcinn_weights),
        "file_name": "empty.txt",
        "bytes": 0,
        "encrypted": False,
        "compressed": False,
    }
    assert (cwd / "empty.txt").read_bytes() == b""


def test_crafted_stored_name_lands_in_cwd_and_never_overwrites(
    cwd: Path, work: Path, model, tiny_stegcinn_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stego crafted to store '../evil.txt' (embed-file itself stores base names only)."""
    monkeypatch.setattr(keyed, "_stored_name", lambda name: name.encode())
    cover = load_png(work / "cover.png")
    stego, _ = embedding.embed_file(cover, b"payload", file_name="../evil.txt", model=model)
    save_png(cwd / "s.png", stego)
    (cwd / "sub").mkdir()
    weights = ["--weights", tiny_stegcinn_weights]
    back = invsteg(cwd / "sub", "extract-file", "../s.png", *weights, "--json")
    assert back.rc == 0, back.err
    assert json.loads(back.out)["output"] == "evil.txt"
    assert json.loads(back.out)["file_name"] == "../evil.txt"
    assert listing(cwd) == ["s.png", "sub", "sub/evil.txt"]  # not ../evil.txt
    assert (cwd / "sub" / "evil.txt").read_bytes() == b"payload"

    (cwd / "sub" / "evil.txt").write_bytes(b"mine")
    again = invsteg(cwd / "sub", "extract-file", "../s.png", *weights)
    assert_error(again, 2, "output exists: evil.txt (pass --force")
    assert (cwd / "sub" / "evil.txt").read_bytes() == b"mine"
    forced = invsteg(cwd / "sub", "extract-file", "../s.png", *weights, "--force")
    assert forced.rc == 0, forced.err
    assert forced.err.startswith("wrote evil.txt (stored as '../evil.txt')")
    assert (cwd / "sub" / "evil.txt").read_bytes() == b"payload"


@pytest.fixture(scope="module")
def plain_stego(work: Path, tiny_stegcinn_weights: Path) -> tuple[Path, bytes]:
    """An unencrypted stego (default output name) holding 300 random bytes."""
    data = np.random.default_rng(3).bytes(300)
    (work / "secret.bin").write_bytes(data)
    run = invsteg(
        work, "embed-file", "cover.png", "secret.bin", "--no-passphrase", "--weights", tiny_stegcinn_weights
    )
    assert run.rc == 0, run.err
    assert run.err.startswith("wrote cover.stego.png: 300 of ")
    return work / "cover.stego.png", data


def test_a_few_changed_pixels_still_give_the_exact_file(
    cwd: Path, plain_stego: tuple[Path, bytes], tiny_stegcinn_weights: Path
) -> None:
    stego, data = plain_stego
    pixels = load_png(stego).astype(np.int16)
    rng = np.random.default_rng(4)
    for _ in range(5):
        y, x, c = rng.integers(0, 80), rng.integers(0, 96), rng.integers(0, 3)
        pixels[y, x, c] += rng.choice([-3, -2, -1, 1, 2, 3])
    save_png(cwd / "touched.png", np.clip(pixels, 0, 255).astype(np.uint8))
    back = invsteg(cwd, "extract-file", "touched.png", "-o", "-", "--weights", tiny_stegcinn_weights)
    assert back.rc == 0, back.err
    assert back.out == data


def test_heavy_noise_and_jpeg_give_one_clear_error_and_no_file(
    cwd: Path, plain_stego: tuple[Path, bytes], tiny_stegcinn_weights: Path
) -> None:
    stego = load_png(plain_stego[0])
    noisy = stego + np.random.default_rng(5).normal(0, 20, stego.shape)
    save_png(cwd / "noisy.png", np.clip(np.round(noisy), 0, 255).astype(np.uint8))
    Image.fromarray(stego).save(cwd / "stego.jpg", format="JPEG", quality=95)
    before = listing(cwd)
    for name, match in (("noisy.png", "no payload found"), ("stego.jpg", "JPEG: lossy compression")):
        run = invsteg(cwd, "extract-file", name, "-o", "out.bin", "--weights", tiny_stegcinn_weights)
        assert_error(run, 1, match)
    assert listing(cwd) == before


def test_usage_errors_exit_2_before_any_work(cwd: Path, work: Path, tiny_stegcinn_weights: Path) -> None:
    (cwd / "f.txt").write_bytes(b"x")
    cover, weights = work / "cover.png", ["--weights", tiny_stegcinn_weights]
    # no passphrase and no terminal: say so, do not silently skip encryption
    assert_error(invsteg(cwd, "embed-file", cover, "f.txt", "-o", "s.png", *weights), 2, "--no-passphrase")
    # a lossy stego would destroy the file
    run = invsteg(cwd, "embed-file", cover, "f.txt", "-o", "s.jpg", "--no-passphrase", *weights)
    assert_error(run, 2, "JPEG is lossy")
    # contradicting passphrase options
    (cwd / "p.txt").write_text("pw\n")
    run = invsteg(cwd, "extract-file", cover, "--passphrase-file", "p.txt", "--no-passphrase", *weights)
    assert_error(run, 2, "contradict")
    # not an embedding model
    run = invsteg(cwd, "capacity", cover, "--model", "hinet-small")
    assert_error(run, 2, "does not embed files")
    assert listing(cwd) == ["f.txt", "p.txt"]


def test_missing_shipped_weights_is_a_clear_weights_error(cwd: Path, work: Path) -> None:
    """With --model (and no --weights) the model's shipped file is needed; none here -> exit 2.
    The default method (format 3) needs no weights at all."""
    (cwd / "f.txt").write_bytes(b"x")
    (cwd / "no-weights").mkdir()
    no_weights = {"INVSTEG_WEIGHTS_DIR": str(cwd / "no-weights")}
    run = invsteg(
        cwd, "embed-file", work / "cover.png", "f.txt", "-o", "s.png", "--no-passphrase",
        "--model", "stegcinn-detail", env=no_weights,
    )  # fmt: skip
    assert_error(run, 2, "weights")
    assert listing(cwd) == ["f.txt", "no-weights"]
    run = invsteg(
        cwd, "embed-file", work / "cover.png", "f.txt", "-o", "s.png", "--no-passphrase", env=no_weights
    )
    assert run.rc == 0, run.err
    run = invsteg(cwd, "extract-file", "s.png", "--no-passphrase", "-o", "back.txt", env=no_weights)
    assert run.rc == 0, run.err
    assert (cwd / "back.txt").read_bytes() == b"x"


# -- library -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(64, 64), (67, 61)])
def test_one_byte_round_trips_at_any_size(model, width: int, height: int) -> None:
    cover = crop_example(width, height, left=20, top=100)
    stego, report = embedding.embed_file(cover, b"\x00", file_name="one.bin", passphrase="pw", model=model)
    assert stego.shape == cover.shape and stego.dtype == np.uint8
    assert report.accepted and report.correction_used[-1] <= EmbedSettings().accept_share
    unpacked = embedding.extract_file(through_png(stego), passphrase="pw", model=model)
    assert (unpacked.data, unpacked.file_name, unpacked.encrypted) == (b"\x00", "one.bin", True)


def test_odd_sizes_leave_the_half_padded_blocks_out(model) -> None:
    mask = latents.carrier_mask(model, 61, 67)
    assert mask.shape == (8, 31, 34)
    assert mask[:, :30, :33].all() and not mask[:, 30, :].any() and not mask[:, :, 33].any()
    assert embedding.capacity(np.zeros((61, 67, 3), np.uint8), model=model).carriers == 8 * 30 * 33


def test_exact_capacity_with_a_name_and_passphrase_on_an_odd_cover(model) -> None:
    cover = crop_example(67, 61)
    room = embedding.capacity(cover, model=model, passphrase="pw", file_name="a.txt").net_bytes
    data = np.random.default_rng(6).bytes(room)
    stego, report = embedding.embed_file(cover, data, file_name="a.txt", passphrase="pw", model=model)
    assert report.capacity_bytes == room == report.payload_bytes
    assert room * 8 / (67 * 61) > 0.5  # the floor for the maximum, net
    assert (stego[-1] == cover[-1]).all() and (stego[:, -1] == cover[:, -1]).all()  # padded blocks
    assert embedding.extract_file(through_png(stego), passphrase="pw", model=model).data == data
    with pytest.raises(PayloadTooLargeError, match=f"holds at most {room} bytes"):
        embedding.embed_file(cover, data + b"!", file_name="a.txt", passphrase="pw", model=model)


def test_the_change_grows_with_the_payload() -> None:
    """With the shipped model, a 1-byte file changes a few hundred samples, not the image,
    by one level or two; untouched blocks are the cover's own pixels; a larger file changes
    more."""
    model = embedding.load_embedding_model()
    cover = crop_example(256, 256, left=0, top=0)  # the whole example photo
    changed = []
    for size in (1, 400, 1600):
        stego, report = embedding.embed_file(cover, os.urandom(size), model=model)
        assert report.changed_samples == int((stego != cover).sum())
        moved = np.abs(stego.astype(int) - cover)[stego != cover]
        assert moved.mean() < 1.5 and (moved == 1).mean() > 0.9  # single-level edits, mostly
        data = embedding.extract_file(through_png(stego), model=model).data
        assert len(data) == size
        changed.append(report.changed_samples / cover.size)
    assert changed[0] < 0.01 and changed[0] < changed[1] < changed[2]


def test_a_new_salt_for_every_message(model) -> None:
    """Two stegos of one file under one passphrase change different carriers."""
    cover = crop_example(128, 128, left=0, top=0)
    first, _ = embedding.embed_file(cover, b"same file", passphrase="pw", model=model)
    second, _ = embedding.embed_file(cover, b"same file", passphrase="pw", model=model)
    changed = [(stego != cover).any(axis=2) for stego in (first, second)]
    assert (changed[0] & changed[1]).sum() < 0.5 * min(changed[0].sum(), changed[1].sum())
    for stego in (first, second):
        assert embedding.extract_file(stego, passphrase="pw", model=model).data == b"same file"


def test_the_verify_loop_routes_around_carriers_that_will_not_settle(model) -> None:
    """One steering round per pass leaves carriers wrong; later passes freeze them and the
    matrix code picks others, until the message reads back."""
    cover = crop_example(96, 80)
    data = os.urandom(embedding.capacity(cover, model=model, encrypted=False).net_bytes // 10)
    quick = EmbedSettings(steer_rounds=15, max_rounds=10)
    salt = np.random.default_rng(3).bytes
    stego, report = embedding.embed_file(cover, data, model=model, settings=quick, random_bytes=salt)
    wrong = report.wrong_carriers
    assert report.rounds == len(wrong) == len(report.correction_used) > 1
    assert wrong[0] > wrong[-1] and report.correction_used[0] > 1 and report.accepted
    assert embedding.extract_file(through_png(stego), model=model).data == data


def test_a_cover_that_cannot_carry_the_file_is_a_clear_error(model) -> None:
    cover = crop_example(96, 80)
    data = os.urandom(embedding.capacity(cover, model=model, encrypted=False).net_bytes)
    once = EmbedSettings(steer_rounds=1, max_rounds=1)
    with pytest.raises(EmbeddingFailedError, match="cannot carry the file"):
        embedding.embed_file(cover, data, model=model, settings=once)


def test_settings_are_checked_and_the_report_summarises_for_json(model) -> None:
    with pytest.raises(ValueError, match="max_rounds"):
        EmbedSettings(max_rounds=0)
    with pytest.raises(ValueError, match="accept_share"):
        EmbedSettings(accept_share=1.5)
    with pytest.raises(ValueError, match="margin"):
        EmbedSettings(margin=0.0)
    cover = crop_example(64, 64)
    _, report = embedding.embed_file(cover, b"abc", model=model)
    summary = report.summary()
    assert list(summary) == [
        "capacity_bytes", "safe_bytes", "carriers", "used_carriers", "flips", "changed_samples", "rounds",
        "steer_rounds", "wrong_carriers", "correction_used", "accepted", "exact", "psnr_db",
    ]  # fmt: skip
    assert json.loads(json.dumps(summary)) == summary  # plain JSON: lists, no infinity
    assert summary["psnr_db"] == report.psnr_db > 0
    assert dataclasses.replace(report, psnr_db=math.inf).summary()["psnr_db"] is None


def test_tiles_cover_the_image_the_same_way_at_any_size() -> None:
    tile = latents.TILE
    assert balanced_grid(2, 2, tile) == [(slice(0, 2), slice(0, 2))]
    assert balanced_grid(tile, 512, tile) == [(slice(0, tile), slice(0, 512))]
    grid = balanced_grid(3000, 2 * tile + 2, tile)
    assert len(grid) == 3 * 3
    covered = np.zeros((3000, 2 * tile + 2), dtype=int)
    for rows, cols in grid:
        assert rows.start % 2 == cols.start % 2 == 0 and rows.stop % 2 == cols.stop % 2 == 0
        assert rows.stop - rows.start <= tile and cols.stop - cols.start <= tile
        covered[rows, cols] += 1
    assert (covered == 1).all()


def test_tiled_embedding_round_trips(model, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small TILE makes this 70x58 cover 3x2 tiles: embedding and extraction agree."""
    monkeypatch.setattr(latents, "TILE", 32)
    assert len(balanced_grid(58, 70, latents.TILE)) == 2 * 3
    cover = crop_example(70, 58)
    stego, report = embedding.embed_file(cover, b"tiles", model=model)
    assert report.accepted
    assert embedding.extract_file(through_png(stego), model=model).data == b"tiles"


def test_carrier_channels_are_a_parameter(model) -> None:
    cover = crop_example(64, 64)
    stego, report = embedding.embed_file(cover, b"abc", model=model, channels=(0, 1, 2, 3))
    assert report.carriers == 4 * 32 * 32
    assert embedding.extract_file(stego, model=model, channels=(0, 1, 2, 3)).data == b"abc"
    with pytest.raises(NoPayloadError):
        embedding.extract_file(stego, model=model)  # all 8 channels: another bit layout


def test_wrong_passphrase_and_no_payload_are_typed_errors(model) -> None:
    cover = crop_example(64, 64)
    stego, _ = embedding.embed_file(cover, b"abc", passphrase="pw", model=model)
    with pytest.raises(NoPayloadError, match="wrong passphrase"):
        embedding.extract_file(stego, passphrase="other", model=model)
    with pytest.raises(NoPayloadError):
        embedding.extract_file(cover, model=model)
    assert issubclass(NoPayloadError, PayloadError)  # exit 1 through the CLI


def test_extraction_without_a_model_finds_the_one_that_embedded() -> None:
    """A stego from a model other than the default (an older default, say) extracts without
    naming it; a wrong passphrase fails once every shipped model has been tried."""
    from invsteg.payload.errors import NoPayloadError

    cover = crop_example(64, 48, left=20, top=100)
    fast = embedding.load_embedding_model("stegcinn-fast")
    stego, _ = embedding.embed_file(cover, b"from an older default", passphrase="pw", model=fast)
    unpacked, name = embedding.extract_file_any_model(stego, passphrase="pw")
    assert (unpacked.data, name) == (b"from an older default", "stegcinn-fast")
    with pytest.raises(NoPayloadError, match=f"tried the models {embedding.default_embed_model()}, "):
        embedding.extract_file_any_model(stego, passphrase="not it")


def test_model_loading_errors(tiny_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from invsteg.errors import ModelError, WeightsError

    with pytest.raises(ModelError, match="not a Steg-cINN"):
        embedding.load_embedding_model(weights=tiny_weights)  # a HiNet file
    with pytest.raises(ModelError, match="does not embed files"):
        embedding.load_embedding_model("hinet-small")
    monkeypatch.setenv("INVSTEG_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError):
        embedding.load_embedding_model()  # no shipped file here, whatever the registry says


def test_device_option_of_embed_and_extract(cwd: Path, work: Path, tiny_stegcinn_weights: Path) -> None:
    """--device picks where the model runs; a stego made on one device extracts on another
    (on a GPU machine: made on CUDA, read on the CPU)."""
    import torch

    data = b"on any device"
    weights = ["--weights", tiny_stegcinn_weights]
    made = invsteg(
        cwd, "embed-file", work / "cover.png", "-", "-o", "s.png", "--no-passphrase", "--device", "auto",
        *weights, stdin=data,
    )  # fmt: skip
    assert made.rc == 0, made.err
    back = invsteg(cwd, "extract-file", "s.png", "-o", "-", "--device", "cpu", *weights)
    assert back.rc == 0, back.err
    assert back.out == data
    bad = invsteg(cwd, "extract-file", "s.png", "-o", "-", "--device", "tpu", *weights)
    assert_error(bad, 2, "--device")
    if not torch.cuda.is_available():
        missing = invsteg(cwd, "extract-file", "s.png", "-o", "-", "--device", "cuda", *weights)
        assert_error(missing, 2, "no CUDA device")
