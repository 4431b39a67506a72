"""Command-line hardening (issue #12): long and empty names, odd passphrases, signals,
internal errors, resource limits, and what ``--force`` may never overwrite.

Most tests run the command in this process (``helpers.invsteg``) and fail before any model
runs; signals, the prompt (driven through a pseudo-terminal) and a held-open pipe need a
real ``python -m invsteg``. The few that embed use the tiny Steg-cINN from ``conftest``,
never shipped weights.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import ENV, Run, assert_error, invsteg, save_noise
from invsteg import cli
from invsteg.errors import InputFileError, OutputFileError, UsageError
from invsteg.io import files

LONG_NAME = "n" * 251 + ".txt"  # 255 bytes: the most a file name may have, too long for the old temp name


def listing(directory: Path) -> list[str]:
    """Every entry under ``directory``, hidden temp files included."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """``tmp_path`` holding ``cover.png`` and ``secret.png`` (48x40 noise)."""
    save_noise(tmp_path / "cover.png", seed=1)
    save_noise(tmp_path / "secret.png", seed=2)
    return tmp_path


# -- D3, D4: names at and over the file system's limit ----------------------------------------


def test_output_name_over_255_bytes_is_one_error_before_any_work(images: Path) -> None:
    run = invsteg(images, "hide", "cover.png", "secret.png", "-o", "a" * 300 + ".png")
    assert_error(run, 2, "output name too long (304 bytes; the file system allows 255)")
    # the default <stem>.stego.png of a long input name: 246 + 10 bytes
    long_cover = "c" * 246 + ".png"
    (images / "cover.png").rename(images / long_cover)
    run = invsteg(images, "hide", long_cover, "secret.png")
    assert_error(run, 2, "output name too long (256 bytes; the file system allows 255)")
    assert listing(images) == sorted([long_cover, "secret.png"])


def test_check_output_refuses_a_long_name_without_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(OutputFileError, match=r"output name too long \(260 bytes"):
        files.check_output(str(tmp_path / ("x" * 256 + ".bin")), force=True)
    with pytest.raises(OutputFileError, match="output path too long"):
        files.check_output(str(tmp_path / ("d" * 300) / "out.png"), force=True)


def test_output_names_of_242_to_255_bytes_are_written(images: Path, tiny_weights: Path) -> None:
    """The temp name used to add 14 bytes to the output's: 242+ byte names failed at the end."""
    name = "s" * 251 + ".png"
    run = invsteg(images, "hide", "cover.png", "secret.png", "-o", name, "--weights", tiny_weights)
    assert run.rc == 0, run.err
    assert listing(images) == sorted(["cover.png", "secret.png", name])


@pytest.fixture(scope="module")
def plain_stego(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unencrypted stego (format 3) holding b'hello' under the 255-byte name LONG_NAME."""
    work = tmp_path_factory.mktemp("stego")
    save_noise(work / "cover.png", 96, 80, seed=3)
    (work / "hello.bin").write_bytes(b"hello")
    run = invsteg(
        work, "embed-file", "cover.png", "hello.bin", "--name", LONG_NAME, "--no-passphrase",
        "-o", "stego.png",
    )  # fmt: skip
    assert run.rc == 0, run.err
    return work / "stego.png"


def test_long_stored_name_extracts_privately(plain_stego: Path, tmp_path: Path) -> None:
    run = invsteg(tmp_path, "extract-file", plain_stego)
    assert run.rc == 0, run.err
    assert listing(tmp_path) == [LONG_NAME]
    extracted = tmp_path / LONG_NAME
    assert extracted.read_bytes() == b"hello"
    assert stat.S_IMODE(extracted.stat().st_mode) == 0o600  # private, whatever the umask


def test_a_stored_name_too_long_for_the_file_system_is_shortened_with_a_note(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(files, "name_max", lambda directory: 100)
    fitted = cli.files.extracted_name(LONG_NAME)
    assert fitted == "n" * 96 + ".txt"
    assert "note: the stored name is 255 bytes, this file system allows 100" in capsys.readouterr().err
    assert cli.files.extracted_name("short.txt") == "short.txt"
    # multi-byte characters are never cut in half
    assert files.fit_name("é" * 100 + ".tar", 11) == "é" * 3 + ".tar"


# -- D6: passphrases that are not UTF-8 ----------------------------------------------------------


@pytest.mark.parametrize("command", ["embed-file", "extract-file"])
def test_non_utf8_passphrase_is_refused_without_echoing_it(
    command: str, images: Path, tiny_stegcinn_weights: Path
) -> None:
    (images / "f.txt").write_bytes(b"x")
    args = ["cover.png", "f.txt"] if command == "embed-file" else ["cover.png", "-o", "out.bin"]
    env = {b"INVSTEG_PASSPHRASE": b"caf\xe9 secret"}
    run = invsteg(images, command, *args, "--weights", tiny_stegcinn_weights, env=env)
    assert_error(run, 2, "not valid UTF-8")
    assert "caf" not in run.err and "secret" not in run.err


def test_non_utf8_passphrase_file_is_refused_without_quoting_its_bytes(images: Path) -> None:
    (images / "pw.txt").write_bytes(b"caf\xe9\n")
    run = invsteg(images, "extract-file", "cover.png", "--passphrase-file", "pw.txt", "-o", "out.bin")
    assert_error(run, 2, "not UTF-8 text")
    assert "0xe9" not in run.err and "position" not in run.err


# -- D10: empty names, end of input at the prompt, a passphrase where none is needed -----------


def test_empty_file_names_say_so(images: Path) -> None:
    run = invsteg(images, "hide", "", "secret.png", "-o", "out.png")
    assert_error(run, 2, "empty file name")
    assert "directory" not in run.err
    run = invsteg(images, "hide", "cover.png", "secret.png", "-o", "")  # not the default name
    assert_error(run, 2, "empty file name")
    run = invsteg(images, "extract-file", "")
    assert_error(run, 2, "empty file name")
    assert listing(images) == ["cover.png", "secret.png"]


def test_with_env_passphrase_an_unencrypted_stego_says_how_to_extract(
    plain_stego: Path, tmp_path: Path
) -> None:
    run = invsteg(
        tmp_path, "extract-file", plain_stego, "-o", "out.bin", env={"INVSTEG_PASSPHRASE": "something"}
    )
    assert_error(run, 1, "not encrypted")
    assert "unset INVSTEG_PASSPHRASE" in run.err and "--no-passphrase" in run.err
    assert listing(tmp_path) == []


def on_terminal(cwd: Path, args: list[object], answers: list[bytes]) -> Run:
    """Run with stdin and stderr on a pseudo-terminal (in a new session, so getpass uses
    them, not /dev/tty); each answer is typed once a prompt ending in ':' has appeared."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "invsteg", *map(str, args)],
        cwd=cwd,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=ENV,
        start_new_session=True,
    )
    os.close(slave)
    screen, pending = b"", list(answers)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                screen += chunk
                if pending and screen.rstrip().endswith(b":"):
                    time.sleep(0.3)  # getpass flushes typed-ahead input when it starts
                    os.write(master, pending.pop(0))
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = screen.decode(errors="replace").replace("\r", "")
    lines = [line.strip() for line in text.splitlines()]
    errors = "\n".join(line for line in lines if line and not line.startswith("Passphrase"))
    return Run(proc.returncode, out, errors)


def test_end_of_input_at_the_prompt_is_a_clear_error(images: Path, tiny_stegcinn_weights: Path) -> None:
    (images / "f.txt").write_bytes(b"x")
    args = ["embed-file", "cover.png", "f.txt", "-o", "s.png", "--weights", tiny_stegcinn_weights]
    run = on_terminal(images, args, [b"\x04"])  # Ctrl-D
    assert_error(run, 2, "no passphrase entered")
    assert "--no-passphrase" in run.err
    assert not (images / "s.png").exists()


def test_an_empty_passphrase_at_the_prompt_is_refused(images: Path, tiny_stegcinn_weights: Path) -> None:
    args = ["extract-file", "cover.png", "-o", "out.bin", "--weights", tiny_stegcinn_weights]
    run = on_terminal(images, args, [b"\n", b"\n"])
    assert_error(run, 2, "empty passphrase; to extract a file embedded without one, pass --no-passphrase")
    assert not (images / "out.bin").exists()


def test_extracted_file_is_not_printed_on_a_terminal_without_force(images: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "invsteg", "extract-file", "cover.png", "-o", "-"],
            cwd=images,
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=ENV,
            timeout=180,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert_error(Run(proc.returncode, b"", proc.stderr.decode()), 2, "stdout is a terminal")


# -- D11: --force never overwrites an input; an empty --model is no model ------------------------


def test_force_never_overwrites_a_passphrase_or_weights_file(images: Path, tiny_weights: Path) -> None:
    (images / "pw.png").write_bytes(b"passphrase\n")
    (images / "f.txt").write_bytes(b"x")
    (images / "w.png").write_bytes(tiny_weights.read_bytes())  # weights named like an image
    before = {name: (images / name).read_bytes() for name in listing(images)}
    for args in (
        ["embed-file", "cover.png", "f.txt", "--passphrase-file", "pw.png", "-o", "pw.png", "--force"],
        ["extract-file", "cover.png", "--passphrase-file", "pw.png", "-o", "./pw.png", "--force"],
        ["hide", "cover.png", "secret.png", "--weights", "w.png", "-o", "w.png", "--force"],
        ["reveal", "cover.png", "--weights", "./w.png", "-o", "w.png", "--force"],
    ):
        assert_error(invsteg(images, *args), 2, "is also an input")
    assert {name: (images / name).read_bytes() for name in listing(images)} == before


@pytest.mark.parametrize(
    "args",
    [
        ["hide", "cover.png", "secret.png", "-o", "out.png"],
        ["reveal", "cover.png", "-o", "out.png"],
        ["embed-file", "cover.png", "cover.png", "-o", "out.png", "--no-passphrase"],
        ["capacity", "cover.png"],
    ],
    ids=lambda args: args[0],
)
def test_empty_model_is_a_usage_error(args: list[str], images: Path) -> None:
    assert_error(invsteg(images, *args, "--model", ""), 2, "--model is empty")


# -- item 3: resource limits --------------------------------------------------------------------


def test_endless_inputs_end_promptly(images: Path) -> None:
    start = time.monotonic()
    run = invsteg(images, "capacity", "/dev/zero")
    assert_error(run, 2, "cover /dev/zero is larger than 400,000,000 bytes; raise --max-pixels")
    run = invsteg(images, "embed-file", "cover.png", "-", "-o", "s.png", "--no-passphrase",
                  stdin=bytes(256 * 2**20 + 1))  # fmt: skip
    assert_error(run, 2, "payload from stdin is larger than 268,435,456 bytes")
    assert time.monotonic() - start < 120
    assert listing(images) == ["cover.png", "secret.png"]


def test_max_pixels_reaches_every_image_reader(images: Path, tiny_weights: Path) -> None:
    for args in (
        ["hide", "cover.png", "secret.png", "-o", "out.png", "--weights", tiny_weights],
        ["reveal", "cover.png", "-o", "out.png", "--weights", tiny_weights],
        ["embed-file", "cover.png", "cover.png", "-o", "out.png", "--no-passphrase"],
        ["extract-file", "cover.png", "-o", "out.bin"],
        ["capacity", "cover.png"],
        ["attack", "cover.png", "-o", "out.png", "--blur", "1"],
    ):
        assert_error(invsteg(images, *args, "--max-pixels", "1000"), 2, "over the limit")
    assert listing(images) == ["cover.png", "secret.png"]


@pytest.mark.parametrize(
    ("size", "match"),
    [("70000x10", "at most 65535"), ("100x100", "more than --max-pixels 5,000")],
)
def test_reveal_size_is_bounded(size: str, match: str, images: Path, tiny_weights: Path) -> None:
    args = ["reveal", "cover.png", "-o", "out.png", "--size", size, "--max-pixels", "5000"]
    assert_error(invsteg(images, *args, "--weights", tiny_weights), 2, match)


def test_read_bytes_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    (tmp_path / "ten").write_bytes(bytes(10))
    assert files.read_bytes(str(tmp_path / "ten"), "file", limit=10) == bytes(10)
    with pytest.raises(InputFileError, match=r"file .*ten is larger than 9 bytes; that is the most"):
        files.read_bytes(str(tmp_path / "ten"), "file", limit=9)
    with pytest.raises(InputFileError, match="larger than 4,096 bytes; raise it"):
        files.read_bytes("/dev/zero", "image", limit=4096, hint="raise it")


# -- item 4: signals, internal errors, warnings ------------------------------------------------


def _sigterm_caught(pid: int) -> bool:
    """Whether ``pid`` has installed its SIGTERM handler (bit 15 of SigCgt)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    ("signum", "rc", "word"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
def test_signals_exit_with_128_plus_the_signal(signum: int, rc: int, word: str, images: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "invsteg", "attack", "-", "-o", "out.png", "--blur", "1"],
        cwd=images,
        stdin=subprocess.PIPE,  # held open: the command waits for the image
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 60
        while not _sigterm_caught(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert_error(Run(proc.returncode, b"", err.decode()), rc, word)
    assert listing(images) == ["cover.png", "secret.png"]


def _run_main(cwd: Path, *args: str, env: dict | None = None) -> tuple[int, list[str]]:
    run = invsteg(cwd, *args, env=env)
    return run.rc, run.err_lines


def _fail_with(exc: BaseException):
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    return fail


ATTACK = ["attack", "cover.png", "-o", "out.png", "--blur", "1"]


def test_internal_error_is_one_line_and_exit_70(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.images, "check_stdio", _fail_with(RuntimeError("boom\nsecond line")))
    code, err = _run_main(tmp_path, *ATTACK)
    assert code == 70
    assert err == [
        "error: internal error: RuntimeError: boom second line (run with --debug for the traceback)"
    ]

    code, err = _run_main(tmp_path, "--debug", *ATTACK)
    assert code == 70
    assert err[0] == "Traceback (most recent call last):" and "RuntimeError: boom" in err, err

    code, err = _run_main(tmp_path, *ATTACK, env={"INVSTEG_DEBUG": "1"})
    assert code == 70 and err[0].startswith("Traceback")


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 bytes"),
    ],
    ids=["MemoryError", "torch-allocator"],
)
def test_out_of_memory_is_a_clear_error(
    exc: Exception, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.images, "check_stdio", _fail_with(exc))
    code, err = _run_main(tmp_path, *ATTACK)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: out of memory"), err


def test_python_warnings_become_one_note_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def warn_then_fail(*args: object, **kwargs: object) -> None:
        warnings.warn("something odd\nhappened", UserWarning, stacklevel=1)
        raise UsageError("stop here")

    monkeypatch.setattr(cli.images, "check_stdio", warn_then_fail)
    code, err = _run_main(tmp_path, *ATTACK)
    assert code == 2
    assert err == ["note: something odd happened", "error: stop here"]


def test_an_interrupted_write_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", _fail_with(cli.Interrupted(signal.SIGINT)))
    with pytest.raises(cli.Interrupted):
        files.write_output(b"new data", str(target), force=True)
    assert listing(tmp_path) == ["out.bin"]
    assert target.read_bytes() == b"old"


def test_write_output_mode(tmp_path: Path) -> None:
    files.write_output(b"a", str(tmp_path / "private"), force=False, mode=0o600)
    files.write_output(b"b", str(tmp_path / "public"), force=False)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644 & ~umask
    assert listing(tmp_path) == ["private", "public"]


def test_the_rename_is_made_durable_where_the_platform_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
        synced.append(is_dir)
        if is_dir:  # as on platforms that cannot fsync a directory: ignored
            raise OSError("not supported")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    files.write_output(b"data", str(tmp_path / "out.bin"), force=False)
    assert synced == [False, True]  # the file, then its directory
    assert (tmp_path / "out.bin").read_bytes() == b"data"


def test_the_cli_default_pixel_limit_is_imageio_s() -> None:
    from invsteg.io import images

    assert cli.DEFAULT_MAX_PIXELS == images.DEFAULT_MAX_PIXELS


# -- found by the 2000-case fuzz run (benchmarks/fuzz.py --seed 1) --------------------------


def test_a_damaged_tiff_is_a_damaged_image_not_an_internal_error(tmp_path: Path) -> None:
    import io as bytes_io

    from invsteg.io import images

    buffer = bytes_io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="TIFF")
    data = bytearray(buffer.getvalue())
    for offset in range(8, len(data)):  # every single-byte corruption of the header and IFD
        damaged = bytes(data[:offset]) + bytes([data[offset] ^ 0xFF]) + bytes(data[offset + 1 :])
        with contextlib.suppress(InputFileError):  # said clearly; other corruptions may decode
            images.decode_image(damaged, "x.tif", "input")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "{cover}", "--out", "{out}"], "--data"),
        (["train", "--data", "{missing}", "--out", "{out}"], "--data"),
        (["train", "--threads", "-1", "--out", "{out}"], "--threads"),
        (
            ["train", "--config", "{config}", "--data", "{dir}", "--val", "{dir}", "--out", "{out}"],
            "LossWeights",
        ),
        ([], "no command given"),
    ],
)
def test_bad_training_options_and_a_bare_command_are_one_error_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    save_noise(tmp_path / "cover.png")
    (tmp_path / "config.json").write_text('{"loss": {"nope": 1}}')
    paths = {
        "cover": tmp_path / "cover.png",
        "missing": tmp_path / "none",
        "out": tmp_path / "run",
        "config": tmp_path / "config.json",
        "dir": tmp_path,
    }
    code, err = _run_main(tmp_path, *[a.format(**paths) for a in args])
    assert code == 2
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert not (tmp_path / "run").exists()


def test_a_resumed_run_with_an_invalid_stored_config_is_a_weights_error(tmp_path: Path) -> None:
    from invsteg.errors import WeightsError
    from invsteg.train import TrainConfig, Trainer
    from invsteg.train.checkpoint import save_checkpoint
    from invsteg.train.trainer import CHECKPOINT

    (tmp_path / "run").mkdir()
    save_checkpoint({"config": {"loss": {"nope": 1}}}, tmp_path / "run" / CHECKPOINT)
    with pytest.raises(WeightsError, match="stored config is invalid"):
        Trainer(TrainConfig(out_dir=str(tmp_path / "run")))


def test_a_signal_that_python_wrapped_is_still_an_interrupt() -> None:
    """SIGINT during class creation (a lazy import) surfaces as a RuntimeError caused by it."""
    from invsteg.cli._main import Interrupted, _interrupted_inside

    try:
        try:
            raise Interrupted(signal.SIGINT)
        except Interrupted as inner:
            raise RuntimeError("Error calling __set_name__") from inner
    except RuntimeError as outer:
        assert _interrupted_inside(outer) is outer.__cause__
    assert _interrupted_inside(RuntimeError("a bug")) is None
