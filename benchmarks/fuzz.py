"""Fuzz the ``invsteg`` command line with malformed and malicious inputs (issue #12 item 6).

Every case runs one CLI command, in-process (``invsteg.cli.main`` with stdin, stdout and
stderr redirected) or, for a sampled share and every memory- or signal-related case, as a
real ``python -m invsteg`` subprocess with a timeout, an address-space cap and its own
peak RSS (``os.wait4``). Oracles, per case:

- a: no Python traceback on stderr, exit code in {0, 1, 2, 70, 130}, no timeout (except on a
  real image at the pixel limit, whose work takes minutes here: there only memory is checked);
- b: no file left in the output directory after a non-zero exit, no ``.*.tmp`` ever;
- c: never a wrong output with exit 0 (an extracted file equals the embedded one, a
  corrupt weights file is not used, inputs are never modified, nothing is written outside
  the output directory);
- d: no code from an input file runs (malicious files try to create a marker file);
- e: subprocess peak RSS < 3 GiB;
- f: a failure prints exactly one ``error:`` line on stderr (``note:``/``warning:`` allowed);
- g: malformed input is the user's error (1 or 2), never an internal error (70).

The run is deterministic for a seed. It prints a summary and rewrites the ``## Fuzzing``
section of ``benchmarks/results.md``::

    python -m benchmarks.fuzz --cases 2000 --seed 0
    python -m benchmarks.fuzz --cases 100 --quick --json violations.json
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # results_file, also under `python -m`
from results_file import command_line, publish

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results.md"
START, END = "<!-- fuzz:start -->", "<!-- fuzz:end -->"

ALLOWED_EXIT = frozenset({0, 1, 2, 70, 130})
INTERNAL_EXIT = 70
RSS_LIMIT_MB = 3072
ADDRESS_CAP = 5 << 30  # a runaway allocation fails here instead of taking the shared machine down
SUBPROCESS_SHARE = 0.1
TIMEOUT = 60.0
SLOW_TIMEOUT = 150.0
PASSPHRASE = "correct horse battery staple"
MARKER = "MARKER"
TRACEBACK = "Traceback (most recent call last)"
ORACLES = {
    "a": "traceback / exit code / timeout",
    "b": "file left behind after failure",
    "c": "wrong output with exit 0",
    "d": "code from an input file ran",
    "e": "peak RSS >= 3 GiB",
    "f": "not exactly one `error:` line",
    "g": "internal error (exit 70) on bad input",
}


# -- cases --------------------------------------------------------------------------------------

Build = Callable[[Path, "Fixtures", random.Random], None]


@dataclass
class Case:
    """One command line against one prepared directory.

    ``argv`` may use ``@IN`` (the case's input folder), ``@OUT`` (its output folder, also the
    working directory), ``@FX`` (the shared fixtures) and ``@CASE`` (the case folder, where
    the marker appears if an input's code runs).
    """

    command: str
    family: str
    argv: list[str]
    build: Build | None = None
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | str = b""  # bytes, or a path (e.g. /dev/zero) opened as stdin in a subprocess
    subprocess_only: bool = False
    slow: bool = False  # left out by --quick
    timeout: float = TIMEOUT
    expect_payload: bool = False  # exit 0 must produce exactly the fixture payload at `output`
    output: str | None = None  # "-" (stdout), a path under @OUT, or "*" (the one new file there)
    expect_failure: bool = False  # exit 0 would be a wrong result (e.g. NaN weights used)
    signal_after: float | None = None  # send SIGINT after this many seconds (subprocess)
    close_stdout: bool = False  # the reader of stdout goes away at once (subprocess)
    seed: int = 0
    index: int = 0
    subprocess: bool = False
    # a real image at the pixel limit: the work takes minutes here, so a timeout means slow,
    # not broken (its memory is still checked when it is stopped)
    may_time_out: bool = False

    def describe(self) -> str:
        return f"#{self.index} {self.command}/{self.family}: invsteg {' '.join(map(_show, self.argv))}"


def _show(arg: str) -> str:
    """An argument as a reader can retype it: escapes for the unprintable, long ones cut."""
    import shlex

    text = arg if arg.isprintable() else repr(arg)[1:-1]  # escapes, without repr's quotes
    if len(text) > 80:
        text = f"{text[:40]}...({len(arg)} chars)"
    return shlex.quote(text)


@dataclass
class Outcome:
    rc: int
    stdout: bytes
    stderr: str
    seconds: float
    mode: str
    rss_mb: float | None = None
    timed_out: bool = False


@dataclass
class Result:
    case: Case
    outcome: Outcome
    violations: list[tuple[str, str]]


# -- fixtures ----------------------------------------------------------------------------------

FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif", "GIF": ".gif"}
EMBED_MODELS = ("stegcinn-detail", "stegcinn-fast", "stegcinn-small")


class Fixtures:
    """Valid inputs made once per run (images, stegos, weights, training data) in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.images = self._images()
        self.payload = random.Random(7).randbytes(300)
        (root / "payload.bin").write_bytes(self.payload)
        self.weights = self._weights()
        self._training_data()
        self.stego_encrypted = self._stego(["--passphrase-file", str(self._passphrase_file())])
        self.stego_plain = self._stego(["--no-passphrase", "--name", "../../-evil\nname.sh"])
        self._bomb: Path | None = None

    def _images(self) -> dict[str, bytes]:
        from PIL import Image

        with Image.open(REPO / "examples" / "cover.png") as source:
            cover = source.convert("RGB")
        with Image.open(REPO / "examples" / "secret.png") as source:
            secret = source.convert("RGB")
        cover.resize((96, 96)).save(self.root / "cover96.png")
        secret.resize((64, 64)).save(self.root / "secret64.png")
        small = cover.crop((64, 64, 128, 128))
        images = {}
        for fmt, ext in FORMATS.items():
            buffer = io.BytesIO()
            small.save(buffer, format=fmt)
            images[fmt] = buffer.getvalue()
            (self.root / f"image{ext}").write_bytes(images[fmt])
        return images

    def _passphrase_file(self) -> Path:
        path = self.root / "passphrase.txt"
        path.write_text(PASSPHRASE + "\n")
        return path

    def _weights(self) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
        """Tiny perturbed models as (tensors, metadata), to be mutated per case."""
        import torch

        from invsteg.models.hinet import HiNet, HiNetConfig
        from invsteg.models.stegcinn import StegCINN, StegCINNConfig

        torch.manual_seed(0)
        models = {
            "hinet": (HiNet(HiNetConfig(blocks=2, growth=8)), "invsteg.models.hinet:HiNet"),
            "stegcinn": (
                StegCINN(StegCINNConfig(blocks=2, hidden=8, cond_channels=4)),
                "invsteg.models.stegcinn:StegCINN",
            ),
        }
        out = {}
        for key, (model, builder) in models.items():
            with torch.no_grad():
                for param in model.parameters():
                    param.add_(0.01)  # fresh models are near the identity: make them work
            data = project_weights_bytes(model, builder)
            tensors = {k: v.detach().float().contiguous() for k, v in model.state_dict().items()}
            out[key] = (tensors, safetensors_metadata(data))
            (self.root / f"{key}.safetensors").write_bytes(data)
        return out

    def _training_data(self) -> None:
        from PIL import Image

        with Image.open(REPO / "examples" / "cover2.png") as source:
            image = source.convert("RGB").resize((128, 128))
        for split in ("train", "val"):
            (self.root / split).mkdir(exist_ok=True)
            for i in range(2):
                image.rotate(90 * i).save(self.root / split / f"{i}.png")

    def _stego(self, options: list[str]) -> bytes:
        """embed-file of the payload into cover96 with the shipped default model."""
        out = self.root / f"stego{len(list(self.root.glob('stego*')))}.png"
        argv = ["embed-file", str(self.root / "cover96.png"), str(self.root / "payload.bin"), "-o", str(out)]
        outcome = run_in_process([*argv, *options], self.root, {}, b"", 300)
        if outcome.rc != 0:
            raise RuntimeError(f"cannot make the fixture stego: {outcome.stderr}")
        return out.read_bytes()

    def bomb(self) -> Path:
        """A real 10000x10000 (100 MP) black PNG, about 100 KB: built on first use."""
        if self._bomb is None:
            self._bomb = self.root / "bomb100mp.png"
            self._bomb.write_bytes(png_bytes(10_000, 10_000, idat=_zero_rows(10_000, 10_000)))
        return self._bomb


def project_weights_bytes(model: Any, builder: str) -> bytes:
    """The weights file invsteg itself writes for ``model``, whichever metadata format it uses."""
    from invsteg.zoo import _pretrained as pretrained

    try:
        return pretrained.weights_bytes(model)
    except TypeError:  # invsteg 0.1: the builder was passed in
        return pretrained.weights_bytes(model, builder)


def safetensors_metadata(data: bytes) -> dict[str, str]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]).get("__metadata__", {})


def weights_bytes(tensors: dict[str, Any], metadata: dict[str, str]) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata=metadata)


# -- malformed file builders --------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(width: int, height: int, *, idat: bytes | None = None) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB; ``idat`` is its (compressed) data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = idat if idat is not None else zlib.compress(bytes(64))
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def _zero_rows(width: int, height: int) -> bytes:
    squeeze = zlib.compressobj(9)
    row = bytes(1 + 3 * width)  # filter byte 0, black pixels
    return b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()


def bomb_header(fmt: str, width: int, height: int) -> bytes:
    """A small file of ``fmt`` whose header claims a huge image."""
    if fmt == "PNG":
        return png_bytes(width, height)
    if fmt == "BMP":
        info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
        return b"BM" + struct.pack("<IHHI", 54 + 64, 0, 0, 54) + info + bytes(64)
    if fmt == "GIF":
        screen = struct.pack("<HHBBB", min(width, 65535), min(height, 65535), 0, 0, 0)
        image = b"," + struct.pack("<HHHHB", 0, 0, min(width, 65535), min(height, 65535), 0)
        return b"GIF89a" + screen + image + b"\x02\x02\x44\x01\x00;"
    # TIFF: little endian, one IFD: width, height, 8-bit RGB, one strip of 16 bytes
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (262, 3, 1, 2)]
    entries += [(273, 4, 1, 8 + 2 + 12 * 7 + 4), (277, 3, 1, 3), (279, 4, 1, 16)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(4) + bytes(16)


def bitflip(data: bytes, rng: random.Random, flips: int) -> bytes:
    buf = bytearray(data)
    for _ in range(flips):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def reencode(data: bytes, rng: random.Random, how: str) -> bytes:
    """The image in ``data`` damaged in pixel space (or saved in another format)."""
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        pixels = np.array(image.convert("RGB"))
    gen = np.random.default_rng(rng.randrange(2**32))
    if how == "noise":
        count = rng.choice([1, 4, 32, 512])
        ys, xs = gen.integers(0, pixels.shape[0], count), gen.integers(0, pixels.shape[1], count)
        pixels[ys, xs] = gen.integers(0, 256, (count, 3))
    elif how == "lsb":
        pixels ^= (gen.random(pixels.shape) < rng.choice([0.001, 0.01, 0.1])).astype(np.uint8)
    elif how == "block":
        size = rng.choice([4, 16, 48])
        y, x = rng.randrange(pixels.shape[0] - size), rng.randrange(pixels.shape[1] - size)
        pixels[y : y + size, x : x + size] = 0
    elif how == "crop":
        pixels = pixels[rng.randrange(1, 9) :, rng.randrange(0, 9) :]
    elif how == "rotate":
        pixels = np.ascontiguousarray(np.rot90(pixels))
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    formats = {"jpeg": ("JPEG", {"quality": rng.choice([50, 95, 100])}), "bmp": ("BMP", {})}
    formats |= {"tiff": ("TIFF", {}), "webp-lossless": ("WEBP", {"lossless": True}), "gif": ("GIF", {})}
    fmt, options = formats.get(how, ("PNG", {}))
    if how == "resize":
        image = image.resize((image.width - 1, image.height + 1))
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


class _Reduce:
    """Pickles into a call of ``os.system(command)``: what a malicious checkpoint does."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


def touch_command(case_dir: Path) -> str:
    return f"touch '{case_dir / MARKER}'"


def malicious_pickle(case_dir: Path, *, torch_zip: bool) -> bytes:
    import pickle

    payload = {"config": _Reduce(touch_command(case_dir)), "net": {}}
    if not torch_zip:
        return pickle.dumps(payload)
    import torch

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def exec_metadata(case_dir: Path, variant: int) -> dict[str, str]:
    """Architecture metadata that names a code-running callable instead of a model class."""
    command = touch_command(case_dir)
    variants = [
        ("os:system", "builtins:str", {"object": command}),
        ("builtins:exec", "builtins:str", {"object": f"__import__('os').system({command!r})"}),
        ("subprocess:getoutput", "builtins:str", {"object": command}),
        ("invsteg.models.hinet:HiNet", "os:system", {"command": command}),
        ("posix:system", "builtins:str", {"object": command}),
    ]
    architectures = ["os:system", "invsteg.models.hinet:HiNet", "../../../tmp/x", "__import__"]
    if variant >= len(variants):  # the closed-table format: a name that is not in the table
        name = architectures[variant % len(architectures)]
        return {"invsteg.architecture": name, "invsteg.config": json.dumps({"object": command})}
    builder, config_class, config = variants[variant]
    return {
        "invsteg.builder": builder,
        "invsteg.config_class": config_class,
        "invsteg.config": json.dumps(config),
    }


def trainer_state_file(case_dir: Path, variant: str) -> bytes:
    """A ``last.safetensors`` checkpoint (safetensors + JSON state) that is malformed or hostile."""
    import torch
    from safetensors.torch import save

    config = {"model": "hinet-small", "steps": 1, "batch": 2, "crop": 64, "val_every": 1}
    documents: dict[str, Any] = {
        "huge-model": {"config": config | {"model_config": {"growth": 200_000}}},
        "exec-init": {"config": config | {"init_weights": str(case_dir / "in" / "evil.safetensors")}},
        "unknown-model": {"config": config | {"model": "os:system"}},
        "missing-tensor": {"config": config, "model": {"__tensor__": "/nowhere"}},
        "not-mapping": [1, 2, 3],
        "bad-config": {"config": {"crop": -64, "batch": 0}},
        "extra-keys": {"config": config | {"__class__": "os:system", "loss": {"nope": 1}}},
    }
    if variant == "deep-nesting":
        text = "[" * 100_000 + "]" * 100_000
    elif variant == "not-json":
        text = "{'config': __import__('os')}"
    else:
        text = json.dumps(documents[variant])
    return save({"x": torch.zeros(1)}, metadata={"invsteg.trainer_state": text})


# -- case families ---------------------------------------------------------------------------------

COMMANDS = ("hide", "reveal", "embed-file", "extract-file", "capacity", "attack", "models", "eval")
COMMANDS += ("train", "convert-weights")
IMAGE_COMMANDS = ("hide", "reveal", "embed-file", "extract-file", "capacity", "attack", "eval")


def image_argv(command: str, image: str, rng: random.Random) -> list[str]:
    """A valid command line of ``command`` that reads ``image`` as its (first) image."""
    if command == "hide":
        pair = [image, "@FX/secret64.png"] if rng.random() < 0.7 else ["@FX/cover96.png", image]
        return ["hide", *pair, "-o", "@OUT/stego.png"]
    if command == "reveal":
        return ["reveal", image, "-o", "@OUT/secret.png"]
    if command == "embed-file":
        return ["embed-file", image, "@FX/payload.bin", "-o", "@OUT/stego.png", "--no-passphrase"]
    if command == "extract-file":
        return ["extract-file", image, "-o", "@OUT/file.bin", "--no-passphrase"]
    if command == "capacity":
        return ["capacity", image]
    if command == "attack":
        return ["attack", image, "-o", "@OUT/attacked.png", "--noise", "2"]
    return ["eval", image, "--limit", "1", "--view", "full"]  # full: no upscaling to 256 px


def _write(name: str, make: Callable[[Path, Fixtures, random.Random], bytes]) -> Build:
    def build(case_dir: Path, fx: Fixtures, rng: random.Random) -> None:
        (case_dir / "in" / name).write_bytes(make(case_dir, fx, rng))

    return build


def fam_damaged_image(rng: random.Random) -> Case:
    fmt = rng.choice(list(FORMATS))
    how = rng.choice(["truncated", "bitflip", "bitflip"])
    ext = FORMATS[fmt] if rng.random() < 0.8 else rng.choice([".png", ".jpg", ".bin", ""])
    flips = rng.choice([1, 2, 8, 64])

    def make(_: Path, fx: Fixtures, r: random.Random) -> bytes:
        data = fx.images[fmt]
        return truncate(data, r) if how == "truncated" else bitflip(data, r, flips)

    command = rng.choice(IMAGE_COMMANDS)
    return Case(
        command, f"{how}-{fmt.lower()}", image_argv(command, f"@IN/x{ext}", rng), _write(f"x{ext}", make)
    )


def fam_bomb_header(rng: random.Random) -> Case:
    fmt = rng.choice(["PNG", "PNG", "BMP", "GIF", "TIFF"])
    width, height = rng.choice(
        [(100_000, 100_000), (30_000, 30_000), (12_000, 12_000), (2**31 - 1, 1), (0, 0)]
    )
    command = rng.choice(IMAGE_COMMANDS)
    ext = FORMATS[fmt]
    build = _write(f"bomb{ext}", lambda *_: bomb_header(fmt, width, height))
    argv = image_argv(command, f"@IN/bomb{ext}", rng)
    return Case(command, f"bomb-header-{fmt.lower()}", argv, build, subprocess_only=True)


def fam_real_bomb(rng: random.Random) -> Case:
    command = rng.choice(["capacity", "attack", "reveal"])
    argv = image_argv(command, "@FX/bomb100mp.png", rng)

    def build(_: Path, fx: Fixtures, __: random.Random) -> None:
        fx.bomb()

    return Case(
        command, "bomb-100mp", argv, build, subprocess_only=True, slow=True, timeout=120, may_time_out=True
    )


def _sparse(size: int) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        with open(case_dir / "in" / "huge.png", "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.truncate(size)

    return build


def fam_odd_input(rng: random.Random) -> Case:
    """Zero-byte, sparse-huge, /dev/zero, directories, dangling links and link loops."""
    kind = rng.choice(["empty", "sparse", "devzero", "devnull", "dir", "dangling", "loop", "missing"])
    command = rng.choice(IMAGE_COMMANDS)
    path, build, heavy = "@IN/x.png", None, kind in ("sparse", "devzero")
    if kind == "empty":
        build = _write("x.png", lambda *_: b"")
    elif kind == "sparse":
        path, build = "@IN/huge.png", _sparse(20 << 30)
    elif kind in ("devzero", "devnull"):
        path = f"/dev/{kind[3:]}"
    elif kind == "dir":
        build = _mkdir("x.png")
    elif kind == "dangling":
        build = _symlink("x.png", "nowhere.png")
    elif kind == "loop":
        build = _symlink_loop("x.png")
    return Case(command, f"input-{kind}", image_argv(command, path, rng), build, subprocess_only=heavy)


def _mkdir(name: str) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        (case_dir / "in" / name).mkdir()

    return build


def _symlink(name: str, target: str, folder: str = "in") -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        os.symlink(target, case_dir / folder / name)

    return build


def _symlink_loop(name: str, folder: str = "in") -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        os.symlink(f"{name}.b", case_dir / folder / name)
        os.symlink(name, case_dir / folder / f"{name}.b")

    return build


def _copy_fixture(fixture: str, name: str) -> Build:
    def build(case_dir: Path, fx: Fixtures, _: random.Random) -> None:
        shutil.copyfile(fx.root / fixture, case_dir / "in" / name)

    return build


def _chain(*builds: Build) -> Build:
    def build(case_dir: Path, fx: Fixtures, rng: random.Random) -> None:
        for step in builds:
            step(case_dir, fx, rng)

    return build


def _hardlink_output(source: str, link: str) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        try:
            os.link(case_dir / "in" / source, case_dir / "out" / link)
        except OSError:  # fs.protected_hardlinks refuses links to files we made unreadable
            os.symlink(case_dir / "in" / source, case_dir / "out" / link)

    return build


OUTPUT_COMMANDS = {
    "hide": ["hide", "@IN/cover.png", "@FX/secret64.png", "-o"],
    "reveal": ["reveal", "@IN/cover.png", "-o"],
    "embed-file": ["embed-file", "@IN/cover.png", "@FX/payload.bin", "--no-passphrase", "-o"],
    "attack": ["attack", "@IN/cover.png", "--blur", "1", "-o"],
}


def fam_odd_output(rng: random.Random) -> Case:
    """Outputs that are directories, links (to inputs too), hard links of inputs, missing dirs."""
    command = rng.choice(list(OUTPUT_COMMANDS))
    kind = rng.choice(["dir", "dangling", "loop", "link-to-input", "hardlink-input", "missing-dir", "exists"])
    cover = _copy_fixture("cover96.png", "cover.png")
    builds = {
        "dir": _mkdir_out("o.png"),
        "dangling": _symlink("o.png", "../in/nowhere.png", "out"),
        "loop": _symlink_loop("o.png", "out"),
        "link-to-input": _symlink("o.png", "../in/cover.png", "out"),
        "hardlink-input": _hardlink_output("cover.png", "o.png"),
        "missing-dir": None,
        "exists": _copy_out("secret64.png", "o.png"),
    }
    output = "@OUT/no/such/dir/o.png" if kind == "missing-dir" else "@OUT/o.png"
    force = ["--force"] if rng.random() < 0.5 else []
    extra = builds[kind]
    build = _chain(cover, extra) if extra else cover
    return Case(command, f"output-{kind}", [*OUTPUT_COMMANDS[command], output, *force], build)


def _copy_out(fixture: str, name: str) -> Build:
    def build(case_dir: Path, fx: Fixtures, _: random.Random) -> None:
        shutil.copyfile(fx.root / fixture, case_dir / "out" / name)

    return build


def _mkdir_out(name: str) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        (case_dir / "out" / name).mkdir()

    return build


def odd_name(rng: random.Random, ext: str) -> str:
    """Long (250-300 bytes), newline, non-UTF-8, leading-dash, unicode and shell-ish names."""
    kind = rng.choice(["long", "newline", "non-utf8", "dash", "unicode", "shell", "spaces"])
    if kind == "long":
        return "n" * (rng.randint(250, 300) - len(ext)) + ext
    return {
        "newline": f"a\nerror: fake{ext}",
        "non-utf8": f"bad\udcff\udcfe{ext}",
        "dash": f"-rf{ext}",
        "unicode": f"\u202eevil\u0301名{ext}",
        "shell": f"$(touch {MARKER}){ext}",
        "spaces": f" lead and trail {ext} ",
    }[kind]


def fam_odd_name(rng: random.Random) -> Case:
    """Odd names as an existing input, a missing input, or an output."""
    command = rng.choice(list(OUTPUT_COMMANDS))
    name = odd_name(rng, ".png")
    where = rng.choice(["input", "missing-input", "output"])
    argv = [a.replace("@IN/cover.png", "@FX/cover96.png") for a in OUTPUT_COMMANDS[command]]
    build = None
    if where == "output":
        argv = [*argv, f"@OUT/{name}"]
    else:
        argv = [a.replace("@FX/cover96.png", name if name.startswith("-") else f"@IN/{name}") for a in argv]
        argv.append("@OUT/o.png")
        if where == "input" and len(name.encode("utf-8", "surrogateescape")) <= 255:
            target = "out" if name.startswith("-") else "in"
            build = _copy_named(name, target)
    return Case(command, f"name-{where}", argv, build)


def _copy_named(name: str, folder: str, fixture: str = "cover96.png") -> Build:
    def build(case_dir: Path, fx: Fixtures, _: random.Random) -> None:
        shutil.copyfile(fx.root / fixture, os.fsencode(case_dir / folder) + b"/" + os.fsencode(name))

    return build


MODEL_OF_COMMAND = {"hide": "hinet", "reveal": "hinet", "eval": "hinet"}
WEIGHT_ARGV = {
    "hide": ["hide", "@FX/cover96.png", "@FX/secret64.png", "-o", "@OUT/s.png"],
    "reveal": ["reveal", "@FX/cover96.png", "-o", "@OUT/r.png"],
    "embed-file": ["embed-file", "@FX/cover96.png", "@FX/payload.bin", "-o", "@OUT/s.png", "--no-passphrase"],
    "extract-file": ["extract-file", "@FX/stego1.png", "-o", "@OUT/f.bin", "--no-passphrase"],
    "capacity": ["capacity", "@FX/cover96.png"],
    "eval": ["eval", "@FX/cover96.png", "--limit", "1", "--view", "full"],
}


def fam_weights(rng: random.Random) -> Case:
    """Malicious or corrupt ``--weights`` files."""
    command = rng.choice(list(WEIGHT_ARGV))
    key = MODEL_OF_COMMAND.get(command, "stegcinn")
    kind = rng.choice(
        [
            "exec",
            "exec",
            "huge-config",
            "nan",
            "inf",
            "truncated",
            "header-2^40",
            "bitflip",
            "empty",
            "bad-json",
            "config-list",
            "negative",
            "wrong-shape",
            "other-model",
            "dir",
            "no-metadata",
        ]
    )
    variant = rng.randrange(9)
    huge = rng.choice([{"growth": 200_000}, {"blocks": 10**9}, {"hidden": 200_000}, {"growth": 20_000}])

    def make(case_dir: Path, fx: Fixtures, r: random.Random) -> bytes:
        other = fx.weights["stegcinn" if key == "hinet" else "hinet"]
        return weights_variant(kind, fx.weights[key], other, case_dir, r, variant, huge)

    build = _mkdir("w.safetensors") if kind == "dir" else _write("w.safetensors", make)
    argv = [*WEIGHT_ARGV[command], "--weights", "@IN/w.safetensors"]
    case = Case(command, f"weights-{kind}", argv, build, expect_failure=kind in ("nan", "inf"))
    case.subprocess_only = kind == "huge-config"
    return case


def weights_variant(
    kind: str,
    valid: tuple[dict[str, Any], dict[str, str]],
    other: tuple[dict[str, Any], dict[str, str]],
    case_dir: Path,
    rng: random.Random,
    variant: int,
    huge: dict[str, int],
) -> bytes:
    import torch

    tensors, metadata = dict(valid[0]), dict(valid[1])
    if kind == "exec":
        return weights_bytes(tensors, exec_metadata(case_dir, variant))
    if kind in ("nan", "inf"):
        name = rng.choice(sorted(tensors))
        tensors[name] = tensors[name].clone().fill_(float(kind))
    elif kind == "huge-config":
        metadata["invsteg.config"] = json.dumps(json.loads(metadata["invsteg.config"]) | huge)
    elif kind == "bad-json":
        metadata["invsteg.config"] = "{not json"
    elif kind == "config-list":
        metadata["invsteg.config"] = "[1, 2, 3]"
    elif kind == "negative":
        config = json.loads(metadata["invsteg.config"])
        metadata["invsteg.config"] = json.dumps(
            {k: -1 if isinstance(v, int) else v for k, v in config.items()}
        )
    elif kind == "wrong-shape":
        name = rng.choice(sorted(tensors))
        tensors[name] = torch.zeros(3, 1)
    elif kind == "other-model":
        return weights_bytes(*other)
    elif kind == "no-metadata":
        metadata = {}
    data = weights_bytes(tensors, metadata)
    if kind == "truncated":
        return data[: rng.randrange(1, 8 + struct.unpack("<Q", data[:8])[0] + 8)]
    if kind == "header-2^40":
        return struct.pack("<Q", 2**40) + data[8:]
    if kind == "bitflip":
        return bitflip(data, rng, rng.choice([1, 4, 32]))
    return b"" if kind == "empty" else data


TRAIN_ARGV = ["train", "--data", "@FX/train", "--val", "@FX/val", "--out", "@OUT/run", "--steps", "1"]


def fam_train(rng: random.Random) -> Case:
    """Hostile run folders to resume, hostile --init weights, bad configs and options."""
    kind = rng.choice(
        ["pickle-pt", "pickle-raw", "state"] * 2 + ["init-exec", "config-garbage", "config-list", "option"]
    )
    argv, build = list(TRAIN_ARGV), None
    if kind in ("pickle-pt", "pickle-raw"):
        build = _run_file("last.pt", lambda d: malicious_pickle(d, torch_zip=kind == "pickle-pt"))
    elif kind == "state":
        variant = rng.choice(
            [
                "huge-model",
                "exec-init",
                "unknown-model",
                "missing-tensor",
                "not-mapping",
                "bad-config",
                "extra-keys",
                "deep-nesting",
                "not-json",
            ]
        )
        kind = f"state-{variant}"
        evil = _write(
            "evil.safetensors", lambda d, fx, _: weights_bytes(fx.weights["hinet"][0], exec_metadata(d, 0))
        )
        build = _chain(evil, _run_file("last.safetensors", lambda d: trainer_state_file(d, variant)))
    elif kind == "init-exec":
        argv += ["--init", "@IN/evil.safetensors"]
        build = _write(
            "evil.safetensors", lambda d, fx, _: weights_bytes(fx.weights["hinet"][0], exec_metadata(d, 1))
        )
    elif kind.startswith("config"):
        text = "{not json" if kind == "config-garbage" else "[1, 2]"
        argv += ["--config", "@IN/c.json"]
        build = _write("c.json", lambda *_: text.encode())
    else:
        option = rng.choice(
            [
                ["--steps", "-1"],
                ["--minutes", "-1"],
                ["--minutes", "nan"],
                ["--threads", "-1"],
                ["--data", "@IN/none"],
                ["--data", "@FX/cover96.png"],
                ["--model", "stegcinn-fast"],
            ]
        )
        argv = [*argv, *option]
        kind = f"option{option[0]}"
    slow = kind.startswith("option") or kind == "state-huge-model"
    return Case("train", kind, argv, build, subprocess_only=True, slow=slow, timeout=SLOW_TIMEOUT)


def _run_file(name: str, make: Callable[[Path], bytes]) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        run = case_dir / "out" / "run"
        run.mkdir(exist_ok=True)
        (run / name).write_bytes(make(case_dir))

    return build


def fam_convert(rng: random.Random) -> Case:
    """convert-weights on hostile or broken checkpoints."""
    import_kind = rng.choice(
        ["pickle-pt", "pickle-raw", "garbage", "empty", "truncated", "wrong-keys", "dir"]
    )
    argv = ["convert-weights", "@IN/ckpt.pt", "-o", "@OUT/w.safetensors"]

    def make(case_dir: Path, _: Fixtures, r: random.Random) -> bytes:
        return checkpoint_variant(import_kind, case_dir, r)

    build = _mkdir("ckpt.pt") if import_kind == "dir" else _write("ckpt.pt", make)
    if rng.random() < 0.2:  # output is the input, hard-linked
        build, argv = _chain(build, _hardlink_output("ckpt.pt", "w.safetensors")), [*argv, "--force"]
    return Case("convert-weights", import_kind, argv, build)


def checkpoint_variant(kind: str, case_dir: Path, rng: random.Random) -> bytes:
    import torch

    if kind in ("pickle-pt", "pickle-raw"):
        return malicious_pickle(case_dir, torch_zip=kind == "pickle-pt")
    if kind == "garbage":
        return rng.randbytes(rng.randrange(1, 4096))
    if kind == "empty":
        return b""
    buffer = io.BytesIO()
    torch.save({"net": {"module.weird": torch.ones(2, 2)}}, buffer)
    data = buffer.getvalue()
    return truncate(data, rng) if kind == "truncated" else data


def fam_damaged_stego(rng: random.Random) -> Case:
    """extract-file of the fixture stego, damaged: exit 0 only with the exact original bytes."""
    how = rng.choice(
        [
            "bitflip",
            "truncated",
            "noise",
            "lsb",
            "block",
            "crop",
            "rotate",
            "resize",
            "jpeg",
            "bmp",
            "tiff",
            "webp-lossless",
            "gif",
            "none",
        ]
    )
    encrypted = rng.random() < 0.6
    flips = rng.choice([1, 3, 16])
    ext = {"jpeg": ".jpg", "bmp": ".bmp", "tiff": ".tif", "webp-lossless": ".webp", "gif": ".gif"}.get(
        how, ".png"
    )

    def make(_: Path, fx: Fixtures, r: random.Random) -> bytes:
        data = fx.stego_encrypted if encrypted else fx.stego_plain
        if how == "bitflip":
            return bitflip(data, r, flips)
        if how == "truncated":
            return truncate(data, r)
        return data if how == "none" else reencode(data, r, how)

    key = ["--passphrase-file", "@FX/passphrase.txt"] if encrypted else ["--no-passphrase"]
    output = rng.choice(["@OUT/file.bin", "-", None])
    argv = ["extract-file", f"@IN/stego{ext}", *key]
    if output is not None:
        argv += ["-o", output]
    case = Case("extract-file", f"stego-{how}", argv, _write(f"stego{ext}", make))
    case.output = "*" if output is None else output.replace("@OUT/", "")
    case.expect_payload = True
    return case


def fam_passphrase(rng: random.Random) -> Case:
    """Wrong, missing, unexpected, empty, non-UTF-8, huge and special passphrases."""
    kind = rng.choice(
        [
            "wrong-env",
            "wrong-file",
            "none",
            "no-passphrase",
            "on-plain",
            "empty-file",
            "newline-only",
            "non-utf8",
            "huge-line",
            "dir",
            "devzero",
            "nfd",
            "embed-empty-env",
        ]
    )
    stego = "@FX/stego0.png" if kind != "on-plain" else "@FX/stego1.png"
    argv = ["extract-file", stego, "-o", "@OUT/f.bin"]
    env: dict[str, str] = {}
    contents = {
        "wrong-file": b"Correct horse battery staple\n",
        "on-plain": PASSPHRASE.encode(),
        "empty-file": b"",
        "newline-only": b"\n",
        "non-utf8": b"\xff\xfe\xfd\n",
        "huge-line": b"x" * (8 << 20),
        "nfd": "caf\u0065\u0301\n".encode(),
    }
    build = None
    if kind in contents:
        argv += ["--passphrase-file", "@IN/pass.txt"]
        build = _write("pass.txt", lambda *_: contents[kind])
    elif kind == "dir":
        argv += ["--passphrase-file", "@IN/pass"]
        build = _mkdir("pass")
    elif kind == "devzero":
        argv += ["--passphrase-file", "/dev/zero"]
    elif kind == "wrong-env":
        env["INVSTEG_PASSPHRASE"] = "wrong"
    elif kind == "no-passphrase":
        argv += ["--no-passphrase", "--passphrase-file", "@FX/passphrase.txt"][: rng.choice([1, 3])]
    elif kind == "embed-empty-env":
        argv = ["embed-file", "@FX/cover96.png", "@FX/payload.bin", "-o", "@OUT/s.png"]
        env["INVSTEG_PASSPHRASE"] = ""
    case = Case(
        "extract-file" if argv[0] == "extract-file" else "embed-file", f"passphrase-{kind}", argv, build
    )
    case.env, case.subprocess_only = env, kind in ("devzero", "huge-line")
    if argv[0] == "extract-file":
        case.output, case.expect_payload = "f.bin", True
    return case


ODD_OPTIONS: dict[str, list[tuple[list[str], bool]]] = {
    # (options, heavy): heavy ones run as subprocesses, with the RSS check
    "attack": [
        (["--blur", "1e30"], True),
        (["--blur", "nan"], False),
        (["--blur", "inf"], True),
        (["--blur", "-1"], False),
        (["--blur", "1e-300"], False),
        (["--blur", "500"], True),
        (["--noise", "nan"], False),
        (["--noise", "-1"], False),
        (["--noise", "inf"], False),
        (["--noise", "1e30"], False),
        (["--resize", "0"], False),
        (["--resize", "-1"], False),
        (["--resize", "nan"], False),
        (["--resize", "1e-9"], False),
        (["--resize", "1.5"], False),
        (["--resize", "1e-300"], False),
        (["--jpeg", "0"], False),
        (["--jpeg", "101"], False),
        (["--jpeg", "-5"], False),
        (["--noise", "1", "--seed", "-1"], False),
        (["--noise", "1", "--seed", str(2**70)], False),
        (["--noise", "1", "--seed", str(2**64)], False),
    ],
    "hide": [
        (["--tile", "0"], False),
        (["--tile", "-1"], False),
        (["--tile", "63"], False),
        (["--tile", str(2**31)], False),
        (["--tile", str(2**70)], False),
        (["--quality", "0"], False),
        (["--quality", "101"], False),
        (["--robust"], False),
        (["--model", "stegcinn-fast"], False),
        (["--model", "../../etc/passwd"], False),
        (["--allow-lossy", "-o", "@OUT/s.webp", "--force"], False),
    ],
    "reveal": [
        (["--size", "100000x100000"], True),
        (["--size", "20000x20000"], True),
        (["--size", "0x0"], False),
        (["--size", "-1x5"], False),
        (["--size", "1x1"], False),
        (["--size", "x"], False),
        (["--size", "1e3x2"], False),
        (["--size", "10x10x10"], False),
        (["--size", "99999999999999999999x1"], True),
        (["--tile", "64"], False),
        (["--tile", "0"], False),
        (["--robust", "-o", "@OUT/r.png"], False),
    ],
    "embed-file": [
        (["--max-rounds", "0"], False),
        (["--max-rounds", str(10**9)], False),
        (["--name", "x" * 10_000], False),
        (["--name", "../../../etc/cron.d/x"], False),
        (["--model", "hinet-small"], False),
        (["--model", "nope"], False),
        (["-o", "@OUT/s.jpg"], False),
        (["-o", "@OUT/s.gif"], False),
        (["-o", "@OUT/s"], False),
        (["-o", "-", "--json"], False),
    ],
    "capacity": [
        (["--name", "n" * 100_000], False),
        (["--model", "hinet-small"], False),
        (["--model", ""], False),
        (["--name", "\udcff"], False),
    ],
    "eval": [
        (["--limit", "-1"], False),
        (["--limit", "0"], False),
        (["--view", "bogus"], False),
        (["--figure", "@OUT"], False),
        (["--figure", "@OUT/f.jpg"], False),
    ],
    "models": [(["--json"], False), (["extra"], False), (["--bogus"], False)],
    "root": [([], False), (["--version"], False), (["nope"], False), (["--help"], False), (["hide"], False)],
}
BASE_ARGV = {
    "attack": ["attack", "@FX/image.png", "-o", "@OUT/a.png"],
    "hide": ["hide", "@FX/cover96.png", "@FX/secret64.png", "-o", "@OUT/s.png"],
    "reveal": ["reveal", "@FX/image.png", "-o", "@OUT/r.png"],
    "embed-file": ["embed-file", "@FX/cover96.png", "@FX/payload.bin", "-o", "@OUT/s.png", "--no-passphrase"],
    "capacity": ["capacity", "@FX/cover96.png"],
    "eval": ["eval", "@FX/cover96.png", "--view", "full"],
    "models": ["models"],
    "root": [],
}


def fam_odd_option(rng: random.Random) -> Case:
    command = rng.choice(list(ODD_OPTIONS))
    options, heavy = rng.choice(ODD_OPTIONS[command])
    argv = [*BASE_ARGV[command], *options]
    return Case(command, "option " + " ".join(o[:24] for o in options), argv, subprocess_only=heavy)


def fam_stdio(rng: random.Random) -> Case:
    """``-`` as input (garbage, empty, images, twice) and as output, and a vanishing reader."""
    kind = rng.choice(["garbage", "empty", "two-dashes", "json-stdout", "devzero", "closed-stdout", "image"])
    stdin: bytes | str = rng.randbytes(rng.randrange(1, 2048)) if kind == "garbage" else b""
    command = rng.choice(["hide", "reveal", "attack", "capacity", "embed-file", "extract-file"])
    argv = image_argv(command, "-", rng)
    case = Case(command, f"stdio-{kind}", argv, stdin=stdin)
    if kind == "two-dashes":
        case.argv = ["hide", "-", "-", "-o", "@OUT/s.png"]
    elif kind == "json-stdout":
        case.argv = ["hide", "@FX/cover96.png", "@FX/secret64.png", "-o", "-", "--json"]
    elif kind == "devzero":
        case.stdin, case.subprocess_only = "/dev/zero", True
    elif kind == "image":
        case.stdin = "@FX/image.png"
    elif kind == "closed-stdout":
        case.argv = ["reveal", "@FX/cover96.png", "-o", "-"]
        case.close_stdout, case.subprocess_only = True, True
    return case


def fam_signal(rng: random.Random) -> Case:
    """Ctrl-C at a random moment: exit 130 (or 0 if it had finished), no partial output."""
    argv = rng.choice(
        [
            [
                "embed-file",
                "@FX/cover96.png",
                "@FX/payload.bin",
                "-o",
                "@OUT/s.png",
                "--passphrase-file",
                "@FX/passphrase.txt",
            ],
            ["extract-file", "@FX/stego0.png", "-o", "@OUT/f.bin", "--passphrase-file", "@FX/passphrase.txt"],
            ["hide", "@FX/cover96.png", "@FX/secret64.png", "-o", "@OUT/s.png"],
        ]
    )
    case = Case(argv[0], "sigint", argv, subprocess_only=True)
    case.signal_after = round(rng.uniform(1.0, 3.5), 2)
    return case


def fam_embed_payload(rng: random.Random) -> Case:
    """embed-file of odd payload files: too large, directory, huge sparse, /dev/zero, the output."""
    kind = rng.choice(["too-large", "dir", "sparse", "devzero", "empty", "hardlink-output", "odd-name"])
    argv = ["embed-file", "@FX/cover96.png", "@IN/p.bin", "-o", "@OUT/s.png", "--no-passphrase"]
    build: Build | None = None
    if kind == "too-large":
        build = _write("p.bin", lambda _, __, r: r.randbytes(20_000))
    elif kind == "dir":
        build = _mkdir("p.bin")
    elif kind == "sparse":
        build = _chain(_sparse(20 << 30), _rename("huge.png", "p.bin"))
    elif kind == "devzero":
        argv[2] = "/dev/zero"
    elif kind == "empty":
        build = _write("p.bin", lambda *_: b"")
    elif kind == "hardlink-output":
        build = _chain(_copy_fixture("payload.bin", "p.bin"), _hardlink_output("p.bin", "s.png"))
        argv.append("--force")
    else:
        name = odd_name(rng, ".bin")
        argv[2] = f"@IN/{name}"
        if len(name.encode("utf-8", "surrogateescape")) <= 255:
            build = _copy_named(name, "in", "payload.bin")
    return Case("embed-file", f"payload-{kind}", argv, build, subprocess_only=kind in ("sparse", "devzero"))


def _rename(old: str, new: str) -> Build:
    def build(case_dir: Path, _: Fixtures, __: random.Random) -> None:
        (case_dir / "in" / old).rename(case_dir / "in" / new)

    return build


FAMILIES: list[tuple[Callable[[random.Random], Case], float]] = [
    (fam_damaged_image, 20),
    (fam_bomb_header, 4),
    (fam_real_bomb, 0.3),
    (fam_odd_input, 8),
    (fam_odd_output, 8),
    (fam_odd_name, 8),
    (fam_weights, 12),
    (fam_train, 3),
    (fam_convert, 4),
    (fam_damaged_stego, 14),
    (fam_passphrase, 6),
    (fam_odd_option, 10),
    (fam_stdio, 5),
    (fam_signal, 2),
    (fam_embed_payload, 4),
]


def generate_cases(count: int, seed: int = 0, *, quick: bool = False) -> list[Case]:
    """``count`` cases, the same ones for the same seed (``quick`` drops the slow ones)."""
    rng = random.Random(seed)
    families, weights = zip(*FAMILIES, strict=True)
    cases: list[Case] = []
    while len(cases) < count:
        family = rng.choices(families, weights)[0]
        case = family(random.Random(rng.randrange(2**32)))
        if quick and case.slow:
            continue
        case.index, case.seed = len(cases), rng.randrange(2**32)
        case.command = case.argv[0] if case.argv and case.argv[0] in COMMANDS else "root"
        case.subprocess = (
            case.subprocess_only or case.signal_after is not None or rng.random() < SUBPROCESS_SHARE
        )
        cases.append(case)
    return cases


# -- running a case ----------------------------------------------------------------------------


class _CaseTimeout(BaseException):
    """Raised by SIGALRM in an in-process case; a BaseException so no ``except Exception`` eats it."""


def _timeout(signum: int, frame: object) -> None:
    raise _CaseTimeout


@contextlib.contextmanager
def _redirected(cwd: Path, env: dict[str, str], stdin: bytes) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    """stdin/stdout/stderr, working directory, environment and SIGINT handler, restored after."""
    saved = (
        sys.stdin,
        sys.stdout,
        sys.stderr,
        os.getcwd(),
        dict(os.environ),
        signal.getsignal(signal.SIGINT),
    )
    out, err = io.BytesIO(), io.BytesIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    # Python's own choices for a non-terminal: strict stdout, backslash-escaping stderr.
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
    os.chdir(cwd)
    os.environ.update(env)
    try:
        yield out, err
    finally:
        wrappers = (sys.stdin, sys.stdout, sys.stderr)
        sys.stdin, sys.stdout, sys.stderr = saved[:3]
        for wrapper in wrappers:
            with contextlib.suppress(ValueError):  # a command may have closed one
                wrapper.flush()
                wrapper.detach()  # a collected TextIOWrapper would close the buffer we read
        os.chdir(saved[3])
        os.environ.clear()
        os.environ.update(saved[4])
        signal.signal(signal.SIGINT, saved[5])


def run_in_process(argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes, timeout: float) -> Outcome:
    """``invsteg.cli.main(argv)`` as the console script would run it; a traceback is printed
    to the captured stderr and exits 1, as the interpreter does."""
    from invsteg.cli import main

    start, rc, timed_out = time.perf_counter(), 0, False
    previous = signal.signal(signal.SIGALRM, _timeout)
    with _redirected(cwd, env, stdin) as (out, err):
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except _CaseTimeout:
            rc, timed_out = -signal.SIGALRM, True
        except Exception:
            traceback.print_exc()
            rc = 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    stderr = err.getvalue().decode("utf-8", "replace")
    return Outcome(rc, out.getvalue(), stderr, time.perf_counter() - start, "in-process", timed_out=timed_out)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_CAP, ADDRESS_CAP))


def run_subprocess(
    case: Case, argv: list[str], cwd: Path, env: dict[str, str], stdin: bytes | str
) -> Outcome:
    """``python -m invsteg ARGV``: exit code, output, and this child's own peak RSS (wait4)."""
    full_env = {k: v for k, v in os.environ.items() if k != "INVSTEG_PASSPHRASE"} | env
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(tempfile.TemporaryFile())
        err = stack.enter_context(tempfile.TemporaryFile())
        if isinstance(stdin, str):
            source = stack.enter_context(open(stdin, "rb"))
        else:
            source = stack.enter_context(tempfile.TemporaryFile())
            source.write(stdin)
            source.seek(0)
        proc = subprocess.Popen(
            [sys.executable, "-m", "invsteg", *map(os.fsencode, argv)],
            cwd=cwd,
            env=full_env,
            stdin=source,
            stdout=subprocess.PIPE if case.close_stdout else out,
            stderr=err,
            preexec_fn=_limit_memory,
        )
        if case.close_stdout and proc.stdout is not None:
            proc.stdout.close()
        status, usage, timed_out = _wait(proc, case.timeout, case.signal_after)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode("utf-8", "replace")
    rc = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return Outcome(rc, stdout, stderr, seconds, "subprocess", usage.ru_maxrss / 1024, timed_out)


def _wait(proc: subprocess.Popen, timeout: float, signal_after: float | None) -> tuple[int, Any, bool]:
    """Poll with ``wait4`` (its rusage is this child's alone); SIGINT or kill on schedule."""
    start, sent = time.monotonic(), False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, False
        elapsed = time.monotonic() - start
        if signal_after is not None and not sent and elapsed >= signal_after:
            proc.send_signal(signal.SIGINT)
            sent = True
        if elapsed > timeout:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, True
        time.sleep(0.01)


def _substitute(arg: str, case_dir: Path, fx: Fixtures) -> str:
    for token, path in (("@IN", case_dir / "in"), ("@OUT", case_dir / "out"), ("@FX", fx.root)):
        arg = arg.replace(token, str(path))
    return arg.replace("@CASE", str(case_dir))


def run_case(case: Case, fx: Fixtures, root: Path, *, keep: bool = False) -> Result:
    """Prepare the case folder, run the command, apply every oracle, clean up."""
    case_dir = root / f"case{case.index:05d}"
    shutil.rmtree(case_dir, ignore_errors=True)
    (case_dir / "in").mkdir(parents=True)
    (case_dir / "out").mkdir()
    if case.build:
        case.build(case_dir, fx, random.Random(case.seed))
    argv = [_substitute(a, case_dir, fx) for a in case.argv]
    stdin = _substitute(case.stdin, case_dir, fx) if isinstance(case.stdin, str) else case.stdin
    before = snapshot(case_dir)
    if case.subprocess:
        outcome = run_subprocess(case, argv, case_dir / "out", case.env, stdin)
    else:
        data = Path(stdin).read_bytes() if isinstance(stdin, str) else stdin
        outcome = run_in_process(argv, case_dir / "out", case.env, data, case.timeout)
    violations = check(case, outcome, before, snapshot(case_dir), case_dir, fx)
    if not keep or not violations:
        shutil.rmtree(case_dir, ignore_errors=True)
    return Result(case, outcome, violations)


# -- oracles -----------------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, str]]


def snapshot(folder: Path) -> Snapshot:
    """Every entry under ``folder``, links not followed: (kind, inode, content digest)."""
    entries: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                entries[rel] = ("link", info.st_ino, os.readlink(path))
            elif os.path.isdir(path):
                entries[rel] = ("dir", info.st_ino, "")
            else:
                entries[rel] = ("file", info.st_ino, _digest(path, info.st_size))
    return entries


def _digest(path: str, size: int) -> str:
    if size > 64 << 20:  # the sparse giants: size is enough
        return f"size {size}"
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _finished_before_signal(case: Case, outcome: Outcome) -> bool:
    """SIGINT that lands after the command finished (or during interpreter exit) kills the
    process by the signal, as an uncaught Ctrl-C should; the work was already complete."""
    killed = outcome.rc == -signal.SIGINT and case.signal_after is not None
    return killed and TRACEBACK not in outcome.stderr and "error:" not in outcome.stderr


def check(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> list[tuple[str, str]]:
    if _finished_before_signal(case, outcome):
        outcome = dataclasses.replace(outcome, rc=0)
    found = oracle_exit(outcome, case.may_time_out) + oracle_files(outcome, before, after)
    found += oracle_output(case, outcome, before, after, case_dir, fx)
    if (case_dir / MARKER).exists() or (case_dir / "out" / MARKER).exists():
        found.append(("d", "the marker file appeared: code from an input file ran"))
    if outcome.rss_mb is not None and outcome.rss_mb >= RSS_LIMIT_MB:
        found.append(("e", f"peak RSS {outcome.rss_mb:.0f} MB"))
    elif "MemoryError" in outcome.stderr or "not enough memory" in outcome.stderr:
        found.append(("e", "ran out of the address space the fuzzer allows (5 GiB)"))
    if not (case.close_stdout and outcome.rc == 1 and not outcome.stderr):  # silent EPIPE is fine
        found += oracle_message(outcome)
    return found


def oracle_exit(outcome: Outcome, may_time_out: bool = False) -> list[tuple[str, str]]:
    found = []
    if outcome.timed_out and not may_time_out:
        found.append(("a", f"timed out after {outcome.seconds:.0f} s"))
    if TRACEBACK in outcome.stderr:
        last = [line for line in outcome.stderr.splitlines() if line.strip()][-1]
        found.append(("a", f"traceback: {last[:200]}"))
    elif outcome.rc not in ALLOWED_EXIT and not outcome.timed_out:
        found.append(("a", f"exit code {outcome.rc}"))
    if outcome.rc == INTERNAL_EXIT:
        found.append(("g", first_lines(outcome.stderr)))
    return found


def oracle_files(outcome: Outcome, before: Snapshot, after: Snapshot) -> list[tuple[str, str]]:
    found = []
    changed = sorted(p for p in after if p.startswith("out") and after[p] != before.get(p))
    temps = [
        p for p in after if os.path.basename(p).startswith(".") and p.endswith(".tmp") and p not in before
    ]
    if outcome.rc != 0 and changed:
        found.append(("b", f"exit {outcome.rc} left {', '.join(map(repr, changed[:3]))}"))
    elif temps:
        found.append(("b", f"temp files left: {', '.join(map(repr, temps[:3]))}"))
    return found


def oracle_output(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> list[tuple[str, str]]:
    found = []
    touched = [p for p in set(before) | set(after) if after.get(p) != before.get(p)]
    outside = sorted(p for p in touched if not p.startswith("out" + os.sep) and p != MARKER)
    if outside:
        found.append(("c", f"modified outside the output folder: {', '.join(map(repr, outside[:3]))}"))
    if outcome.rc != 0:
        return found
    if case.expect_failure:
        found.append(("c", "exit 0 with a weights file that must be refused"))
    if case.expect_payload:
        problem = _wrong_extraction(case, outcome, before, after, case_dir, fx)
        if problem:
            found.append(("c", problem))
    return found


def _wrong_extraction(
    case: Case, outcome: Outcome, before: Snapshot, after: Snapshot, case_dir: Path, fx: Fixtures
) -> str | None:
    expected = fx.payload
    if case.output == "-":
        return (
            None
            if outcome.stdout == expected
            else f"exit 0 wrote {len(outcome.stdout)} wrong bytes to stdout"
        )
    if case.output == "*":
        new = [p for p in after if p not in before and after[p][0] == "file"]
        if len(new) != 1:
            return f"exit 0 but {len(new)} new files: {new[:3]}"
        name = os.path.basename(new[0])
        if name.startswith(("-", ".")) or not name.isprintable():
            return f"extracted under an unsafe name {name!r}"
        rel = new[0]
    else:
        rel = os.path.join("out", case.output or "")
    path = case_dir / rel
    if not path.is_file():
        return f"exit 0 but no output at {rel}"
    return None if path.read_bytes() == expected else "exit 0 with bytes that differ from the embedded file"


def first_lines(text: str, count: int = 2) -> str:
    return " | ".join(text.strip().splitlines()[:count])[:240]


def oracle_message(outcome: Outcome) -> list[tuple[str, str]]:
    """A failure says exactly one ``error:`` line (``note:`` and ``warning:`` lines aside)."""
    if outcome.rc == 0 or outcome.timed_out or TRACEBACK in outcome.stderr:
        return []  # a traceback is already oracle a
    lines = [line for line in outcome.stderr.splitlines() if not line.startswith(("note:", "warning:"))]
    if len(lines) == 1 and lines[0].startswith("error: "):
        return []
    return [("f", f"{len(lines)} line(s): {first_lines(outcome.stderr, 3)!r}")]


# -- the run ---------------------------------------------------------------------------------


def prepare(root: Path) -> Fixtures:
    """Fixtures in ``root/fixtures``, with torch on one thread (the machine is shared)."""
    import torch

    torch.set_num_threads(1)
    os.environ.pop("INVSTEG_PASSPHRASE", None)
    return Fixtures(root / "fixtures")


def run_cases(cases: list[Case], root: Path, *, progress: bool = False, keep: bool = False) -> list[Result]:
    fx = prepare(root)
    results = []
    for case in cases:
        results.append(run_case(case, fx, root, keep=keep))
        if progress and results[-1].violations:
            print(f"VIOLATION {case.describe()}: {results[-1].violations}", file=sys.stderr, flush=True)
        elif progress and case.index % 50 == 0:
            print(f"{case.index}/{len(cases)}", file=sys.stderr, flush=True)
    return results


def format_violations(results: list[Result]) -> str:
    """One paragraph per violating case: what ran, what happened."""
    lines = []
    for result in results:
        for oracle, detail in result.violations:
            o = result.outcome
            lines.append(f"[{oracle}] {result.case.describe()} -> exit {o.rc} ({o.mode}): {detail}")
    return "\n".join(lines)


def summary_lines(results: list[Result], seconds: float) -> list[str]:
    per_command: dict[str, Counter] = defaultdict(Counter)
    per_oracle: Counter = Counter()
    for result in results:
        row = per_command[result.case.command]
        row["cases"] += 1
        row["subprocess"] += result.case.subprocess
        row["violating"] += bool(result.violations)
        for oracle in {o for o, _ in result.violations}:
            per_oracle[oracle] += 1
            row[oracle] += 1
    lines = [
        "| command | cases | as subprocess | violating | " + " | ".join(ORACLES) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(ORACLES),
    ]
    for command in sorted(per_command):
        row = per_command[command]
        cells = [str(row[o]) for o in ORACLES]
        lines.append(
            f"| {command} | {row['cases']} | {row['subprocess']} | {row['violating']} | {' | '.join(cells)} |"
        )
    lines += ["", "| oracle | what it checks | violating cases |", "|---|---|---:|"]
    lines += [f"| {o} | {text} | {per_oracle[o]} |" for o, text in ORACLES.items()]
    rss = [r.outcome.rss_mb for r in results if r.outcome.rss_mb is not None]
    lines += [
        "",
        f"{len(results)} cases in {seconds / 60:.1f} min; "
        f"largest subprocess peak RSS {max(rss, default=0):.0f} MB.",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="leave out the slow cases")
    parser.add_argument("--json", type=Path, help="write every violation here")
    parser.add_argument("--keep", action="store_true", help="keep the folders of violating cases")
    parser.add_argument("--no-publish", action="store_true", help="do not rewrite benchmarks/results.md")
    args = parser.parse_args(argv)
    cases = generate_cases(args.cases, args.seed, quick=args.quick)
    start = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="invsteg-fuzz-"))
    try:
        results = run_cases(cases, root, progress=True, keep=args.keep)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(format_violations(results) or "no violations")
    if args.json:
        args.json.write_text(json.dumps([_as_json(r) for r in results if r.violations], indent=1))
    lines = [START, f"## Fuzzing ({date.today().isoformat()})", "", f"`{command_line(__file__)}`", ""]
    lines += [*summary_lines(results, time.perf_counter() - start), END]
    if args.no_publish:
        print("\n".join(lines))
    else:
        publish(START, END, RESULTS, lines)
    return 1 if any(r.violations for r in results) else 0


def _as_json(result: Result) -> dict[str, Any]:
    o = result.outcome
    return {
        "case": result.case.describe(),
        "command": result.case.command,
        "family": result.case.family,
        "mode": o.mode,
        "rc": o.rc,
        "rss_mb": o.rss_mb,
        "seconds": round(o.seconds, 2),
        "stderr": o.stderr[-2000:],
        "violations": result.violations,
    }


if __name__ == "__main__":
    sys.exit(main())
