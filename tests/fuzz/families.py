"""The fuzz suite's case families: each draws one hostile or faulty command line."""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cases import (
    FORMATS,
    MARKER,
    PASSPHRASE,
    SLOW_TIMEOUT,
    SUBPROCESS_SHARE,
    Build,
    Case,
    Fixtures,
    bitflip,
    bomb_header,
    exec_metadata,
    malicious_pickle,
    reencode,
    trainer_state_file,
    truncate,
    weights_bytes,
)

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


def generate_cases(
    count: int, seed: int = 0, *, quick: bool = False, subprocess_share: float = SUBPROCESS_SHARE
) -> list[Case]:
    """``count`` cases, the same ones for the same seed (``quick`` drops the slow ones). Cases
    that need a real process (signals, pipes, memory) get one, and ``subprocess_share`` of
    the others, drawn at random."""
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
            case.subprocess_only or case.signal_after is not None or rng.random() < subprocess_share
        )
        cases.append(case)
    return cases
