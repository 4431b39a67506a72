"""The fuzz suite's cases: what one case is, the valid inputs every case starts from
(:class:`Fixtures`), and builders of malformed files."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

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
        from .runner import run_in_process  # the runner imports these cases

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
    from invsteg import zoo

    try:
        return zoo.weights_bytes(model)
    except TypeError:  # invsteg 0.1: the builder was passed in
        return zoo.weights_bytes(model, builder)


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
