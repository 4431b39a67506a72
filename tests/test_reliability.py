"""Reliability (issue #29): signals, hostile files and folder runs keep what the README promises.

A signal is never an image's failure; numbers read from a file are bounded before they size
work; outputs are invisible until complete; a folder we made and left empty is removed.
Signals are real ones (sent to this process or to a real ``python -m invsteg``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers import ENV, Run, assert_error, assert_one_error, invsteg, save_noise
from invsteg.cli._main import Interrupted, _interrupt
from invsteg.errors import UsageError, WeightsError
from invsteg.io import files


def listing(directory: Path) -> list[str]:
    """Every entry under ``directory``, hidden temp files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@contextlib.contextmanager
def cli_signal_handlers() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted`, as under ``cli.main``; restored after."""
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in before:
        signal.signal(signum, _interrupt)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


# -- 1: a signal stops a folder run ---------------------------------------------------------------


def test_a_signal_during_a_folder_run_stops_it_and_is_no_images_failure(capsys) -> None:
    from invsteg.cli.batch import run_batch

    ran: list[str] = []

    def job(name: str, signum: int | None = None):
        def work() -> dict:
            ran.append(name)
            if signum is not None:
                os.kill(os.getpid(), signum)
                time.sleep(5)  # the handler raises before this ends
            return {}

        return work

    jobs = [("a.png", job("a")), ("b.png", job("b", signal.SIGTERM)), ("c.png", job("c"))]
    with cli_signal_handlers(), pytest.raises(Interrupted) as caught:
        run_batch("hide", jobs, as_json=False)
    assert caught.value.exit_code == 143
    assert ran == ["a", "b"]
    assert "error:" not in capsys.readouterr().err  # main prints the one error line


def _sigterm_caught(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_sigterm_during_a_folder_hide_exits_143(tmp_path: Path, tiny_weights: Path) -> None:
    covers, secrets, out = tmp_path / "covers", tmp_path / "secrets", tmp_path / "out"
    covers.mkdir()
    secrets.mkdir()
    count = 40
    for i in range(count):
        save_noise(covers / f"c{i:02}.png", 160, 160, seed=i)
        save_noise(secrets / f"s{i:02}.png", 160, 160, seed=100 + i)
    args = ["hide", "covers", "secrets", "-o", "out", "--weights", tiny_weights]
    proc = subprocess.Popen(
        [sys.executable, "-m", "invsteg", *map(str, args)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**ENV, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.is_dir() and any(out.glob("*.stego.png"))):
            time.sleep(0.02)
        assert _sigterm_caught(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_error(Run(proc.returncode, b"", err.decode()), 143, "error: terminated")
    written = listing(out)
    assert 0 < len(written) < count and all(name.endswith(".stego.png") for name in written)


# -- 2: many pages --------------------------------------------------------------------------------


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of ``pages`` one-pixel grey pages, all sharing one pixel (114 bytes a page)."""
    entries = [(256, 1), (257, 1), (258, 8), (259, 1), (262, 1), (273, 8), (278, 1), (279, 1)]
    size = 2 + 12 * len(entries) + 4
    out = bytearray(b"II*\x00" + struct.pack("<I", 9) + b"\x80")
    for page in range(pages):
        out += struct.pack("<H", len(entries))
        for tag, value in entries:
            long = tag in (273, 279)
            out += struct.pack("<HHI", tag, 4 if long else 3, 1)
            out += struct.pack("<I", value) if long else struct.pack("<HH", value, 0)
        out += struct.pack("<I", 9 + (page + 1) * size if page < pages - 1 else 0)
    return bytes(out)


def many_frame_gif(frames: int) -> bytes:
    """A GIF of ``frames`` one-pixel frames."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x21\xf9\x04\x00\x01\x00\x00\x00" + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
    frame += b"\x02\x02\x44\x01\x00"
    return head + frame * frames + b"\x3b"


@pytest.mark.parametrize("make", [many_page_tiff, many_frame_gif], ids=["tiff", "gif"])
def test_an_image_of_100000_pages_is_read_in_under_5_s(make) -> None:
    from invsteg.io.images import MAX_FRAMES_COUNTED, decode_image

    data = make(100_000)
    start = time.monotonic()
    loaded = decode_image(data, "many", "cover")
    took = time.monotonic() - start
    assert took < 5, f"{took:.1f} s"
    assert loaded.pixels.shape == (1, 1, 3)
    assert any(f"more than {MAX_FRAMES_COUNTED:,} frames" in notice for notice in loaded.notices)


def test_a_few_pages_are_still_counted() -> None:
    from invsteg.io.images import decode_image

    loaded = decode_image(many_page_tiff(3), "three.tif", "cover")
    assert any("(3 frames)" in notice for notice in loaded.notices)


def test_hide_refuses_a_100000_page_tiff_quickly(tmp_path: Path) -> None:
    (tmp_path / "many.tif").write_bytes(many_page_tiff(100_000))
    save_noise(tmp_path / "secret.png")
    start = time.monotonic()
    run = invsteg(tmp_path, "hide", "many.tif", "secret.png", "-o", "out.png")
    assert time.monotonic() - start < 5 + 5  # + the start of a Python process with torch
    assert run.rc == 2 and run.err_lines[-1] == "error: cover is 1x1; this model needs at least 8x8 pixels"
    assert "Traceback" not in run.err
    assert listing(tmp_path) == ["many.tif", "secret.png"]


# -- 3: no temp file is left by a signal, or (where the file system allows) seen at all --------


def _signal_after_the_temp_file_is_created(signum: int):
    """A profile hook that sends ``signum`` to this process once, right after the first
    ``os.open`` returns: the handler raises at the next bytecode, where a temp file already
    exists and the caller has not yet stored what it got back."""
    sent = []

    def hook(frame, event, arg) -> None:
        if event == "c_return" and arg is os.open and not sent:
            sent.append(True)
            os.kill(os.getpid(), signum)

    return hook


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named"])
def test_a_signal_right_after_the_temp_file_is_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    if not unnamed:
        monkeypatch.setattr(files, "_O_TMPFILE", 0)  # as on a platform without it
    hook = _signal_after_the_temp_file_is_created(signal.SIGTERM)
    with cli_signal_handlers(), pytest.raises(Interrupted):
        sys.setprofile(hook)
        try:
            files.write_output(b"x" * 1000, str(tmp_path / "out.bin"), force=False)
        finally:
            sys.setprofile(None)
    assert listing(tmp_path) == []


def test_writes_are_complete_and_private_on_both_paths(tmp_path: Path, monkeypatch) -> None:
    files.write_output(b"one", str(tmp_path / "a.bin"), force=False, mode=0o600)
    monkeypatch.setattr(files, "_O_TMPFILE", 0)
    files.write_output(b"two", str(tmp_path / "b.bin"), force=False, mode=0o600)
    for name, data in (("a.bin", b"one"), ("b.bin", b"two")):
        assert (tmp_path / name).read_bytes() == data
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    files.write_output(b"three", str(tmp_path / "a.bin"), force=True)
    assert (tmp_path / "a.bin").read_bytes() == b"three"
    assert listing(tmp_path) == ["a.bin", "b.bin"]


WRITER = """
import sys
from invsteg.io.files import write_output
data = b"x" * (4 << 20)
i = 0
while True:
    write_output(data, f"{sys.argv[1]}/f{i}.bin", force=False)
    i += 1
"""


def test_sigkill_during_writes_leaves_no_visible_temp_file(tmp_path: Path) -> None:
    if not files._links_unnamed_files(tmp_path):
        pytest.skip("here a file cannot be made without a name (O_TMPFILE) and named later")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], env=ENV)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(out.iterdir())) < 3:
            time.sleep(0.01)
        time.sleep(0.05)
        proc.kill()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    names = listing(out)
    assert len(names) >= 3 and all(name.startswith("f") and name.endswith(".bin") for name in names)


# -- 4: an output folder that cannot be made; a tile that is no multiple of the scale -----------


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_an_output_folder_that_cannot_be_made_is_exit_2(tmp_path: Path, tiny_weights: Path) -> None:
    for name in ("covers", "secrets"):
        (tmp_path / name).mkdir()
        save_noise(tmp_path / name / "a.png")
    # /proc takes no new folder, even from root (a read-only file system, as far as we are concerned)
    run = invsteg(tmp_path, "hide", "covers", "secrets", "-o", "/proc/invsteg-out", "--weights", tiny_weights)
    assert_one_error(run, "/proc/invsteg-out")


@pytest.mark.parametrize(("scale", "tile"), [(2, 65), (4, 66)])
def test_a_tile_that_is_no_multiple_of_the_scale_is_a_usage_error(
    tmp_path: Path, tiny_irn_weights: dict[int, Path], scale: int, tile: int
) -> None:
    save_noise(tmp_path / "photo.png", 64, 64)
    weights = tiny_irn_weights[scale]
    run = invsteg(tmp_path, "rescale", "down", "photo.png", "--weights", weights, "--tile", tile)
    assert_one_error(run, "tile")
    assert listing(tmp_path) == ["photo.png"]


# -- 5: the rescale note is bounded before it sizes work -------------------------------------------


def test_a_note_asking_for_tiny_tiles_is_no_note() -> None:
    from invsteg.pipelines.rescaling import MIN_RESCALE_TILE, RescaleNote

    assert MIN_RESCALE_TILE == 64  # what `--tile` allows
    for tile in (2, 4, 62):
        assert RescaleNote.from_text(RescaleNote("irn-x2", 2, 256, 256, tile).to_text()) is None
    assert RescaleNote.from_text(RescaleNote("irn-x2", 2, 256, 256, 64).to_text()) is not None


def test_the_library_refuses_tiny_tiles(tiny_irn_weights: dict[int, Path]) -> None:
    from invsteg.pipelines import rescaling
    from invsteg.zoo import load_weights_file

    net = load_weights_file(tiny_irn_weights[2])
    small = np.zeros((8, 8, 3), np.uint8)
    for call in (rescaling.upscale, rescaling.downscale):
        with pytest.raises(UsageError, match="tile"):
            call(small, net, tile=2)


def test_rescale_up_of_a_crafted_note_is_quick(tmp_path: Path, tiny_irn_weights: dict[int, Path]) -> None:
    from invsteg.io.images import encode_image
    from invsteg.pipelines.rescaling import RescaleNote

    small = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    note = RescaleNote("irn-x2-v2", 2, 256, 256, 2).to_text()
    (tmp_path / "small.png").write_bytes(encode_image(small, "PNG", text=note))
    start = time.monotonic()
    run = invsteg(tmp_path, "rescale", "up", "small.png", "--weights", tiny_irn_weights[2], "-o", "up.png")
    took = time.monotonic() - start
    assert run.rc == 0, run.err
    assert took < 5 + 5, f"{took:.1f} s"  # + the start of a Python process with torch
    assert "not made by `invsteg rescale down`" in run.err


# -- 6: a folder made for nothing is removed ------------------------------------------------------


def test_a_failed_folder_extract_into_a_new_folder_leaves_no_folder(
    tmp_path: Path, tiny_stegcinn_weights: Path
) -> None:
    (tmp_path / "stegos").mkdir()
    save_noise(tmp_path / "stegos" / "plain.png", 64, 64)
    args = ["extract-file", "stegos", "--no-passphrase", "--weights", tiny_stegcinn_weights, "-o"]
    run = invsteg(tmp_path, *args, "new")
    assert run.rc == 1, run.err
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    run = invsteg(tmp_path, *args, "kept")
    assert run.rc == 1 and (tmp_path / "kept").is_dir()  # it was there before: not ours to remove


# -- 7: weights of absurd magnitude ---------------------------------------------------------------


def _rewritten(source: Path, target: Path, change) -> Path:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    name = next(k for k, v in tensors.items() if v.numel() > 1 and v.abs().max() > 0)
    tensors[name] = change(tensors[name].clone())
    save_file(tensors, str(target), metadata=metadata)
    return target


def _flip_top_exponent_bit(tensor):
    import torch

    bits = tensor.view(torch.int32)
    bits.view(-1)[0] ^= 1 << 30
    return tensor


@pytest.mark.parametrize(
    "change", [lambda t: t * 1e30, _flip_top_exponent_bit], ids=["times-1e30", "exponent-bit"]
)
def test_weights_of_absurd_magnitude_are_refused(tmp_path: Path, tiny_weights: Path, change) -> None:
    from invsteg.zoo import load_weights_file

    bad = _rewritten(tiny_weights, tmp_path / "bad.safetensors", change)
    with pytest.raises(WeightsError, match="magnitude"):
        load_weights_file(bad)
    save_noise(tmp_path / "cover.png")
    save_noise(tmp_path / "secret.png", seed=1)
    run = invsteg(tmp_path, "hide", "cover.png", "secret.png", "-o", "stego.png", "--weights", bad)
    assert_one_error(run, "magnitude")
    assert not (tmp_path / "stego.png").exists()


def test_the_magnitude_bound_is_far_above_every_shipped_weight() -> None:
    from safetensors.torch import load_file

    from invsteg.zoo import MAX_WEIGHT_MAGNITUDE, list_models, weights_dir

    shipped = [spec.weights for spec in list_models() if spec.weights]
    largest = max(
        float(t.abs().max())
        for name in shipped
        for t in load_file(str(weights_dir() / name)).values()
        if t.is_floating_point()
    )
    assert 0 < largest < MAX_WEIGHT_MAGNITUDE / 1000  # measured: 0.37 (irn-x4)
