"""Robust files and robust watermarking tools through the same channel grid, side by side.

An attack grid in the style of OmniSealBench: JPEG Q40-Q90, resizing to 0.32-0.75 of each
side (read at the smaller size, never scaled back), centre crops keeping 0.9-0.5 of each
side, rotations by 1-5 degrees (same size, black corners), brightness and contrast 0.7-1.5,
a chat app (resize to a 1600 px long side, never enlarging, then JPEG Q62; and the issue's
0.75x + Q62, since a 1 MP cover is already under 1600 px), and a combination (crop 0.5,
brightness 1.5, then saved as JPEG Q80). Attacks are ``invsteg.ops.distortions``'.

Methods, each embedding a fresh random payload per cover:

- ``invsteg``: ``robust_files.embed_file`` with the default settings (what ``embed-file``
  in robust mode calls; verified against JPEG Q75 and a 0.75x resize), no passphrase, a
  random file of 8, 256 or 1024 bytes; recovered = ``extract_file`` gives it back bit-exact.
  Its bit accuracy is the coded bits (head and body, before Reed-Solomon) read on the
  embedding grid at the embedding step: what the error correction was handed;
- the ``peers`` extra: invisible-watermark's dwtDct, dwtDctSvd (64 bits and 2,048 bits, the
  size of a 256-byte file) and rivaGan (32 bits, its ONNX model ships in the package), and
  blind-watermark (64 and 2,048 bits); recovered = every bit right. TrustMark is reported
  as unavailable when its weights are not installed (they download at first use).

Covers: each val photo box-resized to an 864 px short side and its centre 1152x864 cut
(1.0 MP). Beside each method: stego PSNR, SSIM and the strongest periodic component of
``stego - cover`` (:mod:`invsteg.eval.pattern`). Each (method, cover) is cached under
``--cache`` (the stego and every attack's outcome), keyed by the method's code version, so
a rerun only computes what is missing. Writes its section of ``benchmarks/results.md``::

    pip install -e '.[peers]'
    OMP_NUM_THREADS=1 python benchmarks/robust_channel.py --val ../data/val
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from statistics import mean
from typing import Any, Protocol

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `benchmarks.results_file`, also as `python benchmarks/robust_channel.py`

from benchmarks.results_file import command_line, publish  # noqa: E402

from invsteg.errors import PayloadError  # noqa: E402
from invsteg.ops import distortions as dist  # noqa: E402
from invsteg.payload import spread  # noqa: E402
from invsteg.payload.sealed import SALT_LEN, locator_key  # noqa: E402
from invsteg.pipelines import robust_files  # noqa: E402

START, END = "<!-- robust_channel:start -->", "<!-- robust_channel:end -->"
CACHE_VERSION = 2  # bump when an attack or a method's adapter changes meaning
COVER_SIZE = (1152, 864)  # width, height: 1.0 MP at 4:3
CHAT_LONG_SIDE, CHAT_QUALITY = 1600, 62

Attack = Callable[[np.ndarray], np.ndarray]


# -- the attack grid ----------------------------------------------------------------------------


def combination(img: np.ndarray) -> np.ndarray:
    """Crop 0.5, brightness 1.5, then saved as JPEG Q80 (an edit, then the save)."""
    return dist.real_jpeg(dist.real_brightness(dist.real_center_crop(img, 0.5), 1.5), 80)


def attack_grid() -> dict[str, Attack]:
    """Every attack of the grid by name, the name saying its parameter."""
    grid: dict[str, Attack] = {"none": lambda img: img}
    for q in (90, 80, 70, 60, 50, 40):
        grid[f"JPEG Q{q}"] = lambda img, q=q: dist.real_jpeg(img, q)
    for s in (0.75, 0.5, 0.32):
        grid[f"resize {s:g}"] = lambda img, s=s: dist.real_downscale(img, s)
    for k in (0.9, 0.7, 0.5):
        grid[f"crop {k:g}"] = lambda img, k=k: dist.real_center_crop(img, k)
    for deg in (1, 2, 5):
        grid[f"rotate {deg}°"] = lambda img, deg=deg: dist.real_rotate(img, deg)
    for f in (0.7, 1.3, 1.5):
        grid[f"brightness {f:g}"] = lambda img, f=f: dist.real_brightness(img, f)
    for f in (0.7, 1.3, 1.5):
        grid[f"contrast {f:g}"] = lambda img, f=f: dist.real_contrast(img, f)
    grid[f"chat ({CHAT_LONG_SIDE} px, Q{CHAT_QUALITY})"] = lambda img: dist.real_jpeg(
        dist.real_fit_long_side(img, CHAT_LONG_SIDE), CHAT_QUALITY
    )
    grid[f"chat 0.75x, Q{CHAT_QUALITY}"] = lambda img: dist.real_jpeg(
        dist.real_downscale(img, 0.75), CHAT_QUALITY
    )
    grid["JPEG 80 + crop 0.5 + brightness 1.5"] = combination
    return grid


# One or two attacks of each family and the baselines: what the slower peers run.
CORE = (
    "none",
    "JPEG Q80",
    "JPEG Q50",
    "resize 0.5",
    "crop 0.7",
    "rotate 2°",
    "brightness 1.5",
    "contrast 0.7",
    f"chat ({CHAT_LONG_SIDE} px, Q{CHAT_QUALITY})",
    f"chat 0.75x, Q{CHAT_QUALITY}",
    "JPEG 80 + crop 0.5 + brightness 1.5",
)


# -- covers -------------------------------------------------------------------------------------


def one_megapixel(photo: np.ndarray, size: tuple[int, int] = COVER_SIZE) -> np.ndarray:
    """Box-resize ``(H, W, 3)`` so that it just covers ``size`` (never enlarging), then cut
    its centre ``size``: a 1 MP view of the whole photo, not a zoomed-in corner."""
    w, h = size
    scale = max(w / photo.shape[1], h / photo.shape[0])
    if scale < 1:
        shape = (max(w, round(photo.shape[1] * scale)), max(h, round(photo.shape[0] * scale)))
        photo = np.asarray(Image.fromarray(photo).resize(shape, Image.Resampling.BOX))
    top, left = max(0, (photo.shape[0] - h) // 2), max(0, (photo.shape[1] - w) // 2)
    return np.ascontiguousarray(photo[top : top + h, left : left + w])


def load_covers(folder: Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    from invsteg.train.data import image_paths, load_rgb

    return [(p.stem, one_megapixel(np.asarray(load_rgb(p)))) for p in image_paths(folder)[:limit]]


# -- methods ------------------------------------------------------------------------------------


@dataclass
class Embedded:
    """One method's stego of one cover, what it hid (``secret``), and JSON-ready facts."""

    stego: np.ndarray
    secret: bytes
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    exact: bool
    bit_accuracy: float | None  # None: no bits to compare (the decoder failed)


class Method(Protocol):
    key: str  # names the method in the cache and the table
    bits: int
    cost: str  # "full": every attack; "core": the CORE attacks; "slow": CORE on fewer covers

    def version(self) -> str: ...
    def embed(self, cover: np.ndarray, rng: np.random.Generator) -> Embedded: ...
    def read(self, embedded: Embedded, attacked: np.ndarray) -> Outcome: ...


def bits_outcome(sent: np.ndarray, got: np.ndarray) -> Outcome:
    right = np.asarray(got, dtype=bool).reshape(-1) == np.asarray(sent, dtype=bool).reshape(-1)
    return Outcome(bool(right.all()), float(right.mean()))


@cache
def invsteg_fingerprint() -> str:
    """12 hex digits of invsteg's Python sources: what its stegos and extraction depend on."""
    import invsteg

    digest = hashlib.sha256()
    package = Path(invsteg.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class InvstegRobust:
    """invsteg's robust files at ``size`` bytes, default settings, no passphrase."""

    size: int
    cost: str = "full"
    _messages: dict[bytes, spread.Message] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"invsteg {self.size} B"

    @property
    def bits(self) -> int:
        return 8 * self.size

    def version(self) -> str:
        return invsteg_fingerprint()

    def embed(self, cover: np.ndarray, rng: np.random.Generator) -> Embedded:
        data, salt = rng.bytes(self.size), rng.bytes(SALT_LEN)
        stego = robust_files.embed_file(cover, data, random_bytes=lambda n: salt[:n])
        report = stego.report
        facts = {
            "salt": salt.hex(),
            "grid": list(report.grid),
            "step": report.step,
            "cell_px": report.cell_px,
        }
        return Embedded(stego.pixels, data, facts)

    def message(self, embedded: Embedded) -> spread.Message:
        """The layout the embedder wrote, rebuilt from the file, its salt and its grid."""
        salt = bytes.fromhex(embedded.facts["salt"])
        if salt not in self._messages:
            grid = robust_files.Grid(*embedded.facts["grid"])
            self._messages[salt] = spread.seal(
                embedded.secret,
                file_name="",
                wire_id=robust_files.ROBUST_WIRE_ID,
                passphrase=None,
                cells=grid.cells,
                grid=grid.label,
                locator=locator_key(None),
                random_bytes=lambda n: salt[:n],
            )
        return self._messages[salt]

    def coded_bits(self, embedded: Embedded, attacked: np.ndarray, gain: float = 1.0) -> np.ndarray:
        """Which coded bits (head, then body) read right on the embedding grid and step;
        ``gain``: a known brightness factor the step is scaled by (an oracle reader)."""
        message = self.message(embedded)
        grid = robust_files.Grid(*embedded.facts["grid"])
        h, w = attacked.shape[:2]
        means = robust_files.cell_means(robust_files.luma(attacked), grid.axes(w, h))
        step = embedded.facts["step"] * gain
        head = message.head.read(means, step) == message.head_bits
        body = message.body.read(means, step) == message.body_bits
        return np.concatenate([head, body])

    def read(self, embedded: Embedded, attacked: np.ndarray) -> Outcome:
        try:
            exact = robust_files.extract_file(attacked).data == embedded.secret
        except PayloadError:
            exact = False
        return Outcome(exact, float(self.coded_bits(embedded, attacked).mean()))


def _rgb_bgr(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[..., ::-1])


@cache
def _riva_loaded() -> None:
    """rivaGan's ONNX sessions on one thread (its own loader takes every core)."""
    import os

    import imwatermark
    import onnxruntime
    from imwatermark.rivaGan import RivaWatermark

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    folder = os.path.dirname(imwatermark.__file__)
    for part in ("encoder", "decoder"):
        session = onnxruntime.InferenceSession(os.path.join(folder, f"rivagan_{part}.onnx"), options)
        setattr(RivaWatermark, part, session)


@dataclass(frozen=True)
class InvisibleWatermark:
    """invisible-watermark (``imwatermark``) with ``method`` at ``bits``, its default strength."""

    method: str
    bits: int
    cost: str = "full"

    @property
    def key(self) -> str:
        return f"{self.method} {self.bits} bits"

    def version(self) -> str:
        return importlib.metadata.version("invisible-watermark")

    def embed(self, cover: np.ndarray, rng: np.random.Generator) -> Embedded:
        from imwatermark import WatermarkEncoder

        if self.method == "rivaGan":
            _riva_loaded()
        sent = rng.integers(0, 2, self.bits, dtype=np.uint8)
        encoder = WatermarkEncoder()
        encoder.set_watermark("bits", sent.tolist())
        stego = _rgb_bgr(encoder.encode(_rgb_bgr(cover), self.method))
        return Embedded(stego, np.packbits(sent).tobytes())

    def read(self, embedded: Embedded, attacked: np.ndarray) -> Outcome:
        from imwatermark import WatermarkDecoder

        if self.method == "rivaGan":
            _riva_loaded()
        sent = np.unpackbits(np.frombuffer(embedded.secret, np.uint8))[: self.bits]
        try:
            got = WatermarkDecoder("bits", self.bits).decode(_rgb_bgr(attacked), self.method)
        except Exception:  # its decoder refuses images under 256x256 (and may fail inside)
            return Outcome(False, None)
        return bits_outcome(sent, got)


@dataclass(frozen=True)
class BlindWatermark:
    """blind-watermark at ``bits``, its default strength; the passwords drawn per cover."""

    bits: int
    cost: str = "core"

    @property
    def key(self) -> str:
        return f"blind-watermark {self.bits} bits"

    def version(self) -> str:
        return importlib.metadata.version("blind-watermark")

    @staticmethod
    def _mark(password: int) -> Any:
        import blind_watermark

        blind_watermark.bw_notes.close()  # it prints a banner on first use
        return blind_watermark.WaterMark(password_wm=password, password_img=password)

    def embed(self, cover: np.ndarray, rng: np.random.Generator) -> Embedded:
        sent = rng.integers(0, 2, self.bits).astype(bool)
        password = int(rng.integers(1, 2**31))
        mark = self._mark(password)
        mark.read_img(img=_rgb_bgr(cover))
        mark.read_wm(sent.copy(), mode="bit")  # it shuffles the array it is given
        stego = np.clip(np.rint(mark.embed()), 0, 255).astype(np.uint8)  # it returns floats
        return Embedded(_rgb_bgr(stego), np.packbits(sent).tobytes(), {"password": password})

    def read(self, embedded: Embedded, attacked: np.ndarray) -> Outcome:
        sent = np.unpackbits(np.frombuffer(embedded.secret, np.uint8))[: self.bits]
        try:
            got = self._mark(embedded.facts["password"]).extract(
                embed_img=_rgb_bgr(attacked), wm_shape=self.bits, mode="bit"
            )
        except Exception:  # too few blocks left in a small image
            return Outcome(False, None)
        return bits_outcome(sent, np.asarray(got) >= 0.5)


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def peer_methods() -> tuple[list[Method], list[str]]:
    """The peers that are installed, the slowest last, and a line for each that is not."""
    found: list[Method] = []
    missing: list[str] = []
    if installed("imwatermark"):
        found += [InvisibleWatermark(m, b) for b in (64, 2048) for m in ("dwtDct", "dwtDctSvd")]
    else:
        missing.append("invisible-watermark: not installed (the `peers` extra)")
    if installed("blind_watermark"):
        found += [BlindWatermark(64), BlindWatermark(2048)]
    else:
        missing.append("blind-watermark: not installed (the `peers` extra)")
    if installed("imwatermark") and installed("onnxruntime"):
        found.append(InvisibleWatermark("rivaGan", 32, cost="slow"))
    elif installed("imwatermark"):
        missing.append("rivaGan: onnxruntime is not installed")
    missing.append(trustmark_status())
    return found, missing


def trustmark_status() -> str:
    """TrustMark needs weights that it downloads on first use: say whether they are here."""
    if not installed("trustmark"):
        return (
            "TrustMark: not run, not installed. Its package (0.9.2) ships no weights: it downloads "
            "them from Adobe's server on first use, which needs the internet (and it needs torchvision)"
        )
    import trustmark

    folder = Path(trustmark.__file__).parent / "models"
    if not any(folder.glob("*.ckpt")):
        return f"TrustMark: not run, its weights are not in {folder} (they download on first use)"
    return "TrustMark: weights found, but this benchmark has no adapter for it yet"


# -- cases and the cache ------------------------------------------------------------------------


class Cache:
    """Per (method, cover): ``<key>.npz`` (stego, secret) and ``<key>.json`` (facts, quality,
    every attack's outcome). ``root=None`` keeps nothing."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _base(self, method: Method, cover: str) -> Path | None:
        if self.root is None:
            return None
        folder = self.root / f"v{CACHE_VERSION}" / f"{method.key.replace(' ', '_')}-{method.version()}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / cover

    def load(self, method: Method, cover: str) -> tuple[dict[str, Any], Embedded | None]:
        base = self._base(method, cover)
        if base is None or not base.with_suffix(".json").exists():
            return {}, None
        record = json.loads(base.with_suffix(".json").read_text())
        embedded = None
        if base.with_suffix(".npz").exists():
            with np.load(base.with_suffix(".npz")) as arrays:
                embedded = Embedded(arrays["stego"], arrays["secret"].tobytes(), record["facts"])
        return record, embedded

    def save(self, method: Method, cover: str, record: dict[str, Any], embedded: Embedded) -> None:
        base = self._base(method, cover)
        if base is None:
            return
        npz = base.with_suffix(".npz")
        if not npz.exists():
            tmp = base.with_name(base.name + ".tmp.npz")
            secret = np.frombuffer(embedded.secret, np.uint8)
            np.savez_compressed(tmp, stego=embedded.stego, secret=secret)
            tmp.replace(npz)
        tmp = base.with_name(base.name + ".tmp.json")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(base.with_suffix(".json"))


def seed_of(method: Method, cover: str) -> int:
    """A seed per (method, cover): reruns embed the same payload."""
    return int.from_bytes(hashlib.sha256(f"{method.key}/{cover}".encode()).digest()[:8], "big")


def quality(cover: np.ndarray, stego: np.ndarray) -> dict[str, float]:
    from invsteg.eval.pattern import pattern_strength
    from invsteg.eval.quality import compare

    scores = compare(stego, cover)
    return {
        "psnr": scores["psnr"],
        "ssim": scores["ssim"],
        "pattern": pattern_strength(cover, stego)["worst"],
    }


def run_case(
    method: Method, name: str, cover: np.ndarray, attacks: dict[str, Attack], cache: Cache
) -> dict[str, Any]:
    """One method on one cover under ``attacks``: the cached record, completed.

    The record: ``facts``, ``quality``, ``embed_s``, ``read_s`` (name -> seconds) and
    ``outcomes`` (attack name -> ``{"exact", "bit_accuracy"}``); ``embedded: False`` with
    ``error`` when the method refused the cover.
    """
    record, embedded = cache.load(method, name)
    missing = [a for a in attacks if a not in record.get("outcomes", {})]
    if record.get("embedded") is False or not missing:
        return record
    if embedded is None:
        start = time.perf_counter()
        try:
            embedded = method.embed(cover, np.random.default_rng(seed_of(method, name)))
        except PayloadError as exc:
            record = {"embedded": False, "error": str(exc), "outcomes": {}}
            cache.save(method, name, record, Embedded(cover[:0], b""))
            return record
        record = {
            "embedded": True,
            "facts": embedded.facts,
            "embed_s": time.perf_counter() - start,
            "quality": quality(cover, embedded.stego),
            "outcomes": {},
            "read_s": {},
        }
    for attack in missing:
        start = time.perf_counter()
        outcome = method.read(embedded, attacks[attack](embedded.stego))
        record["read_s"][attack] = time.perf_counter() - start
        record["outcomes"][attack] = {"exact": outcome.exact, "bit_accuracy": outcome.bit_accuracy}
    cache.save(method, name, record, embedded)
    return record


# -- the table ----------------------------------------------------------------------------------


def cell(records: Sequence[dict[str, Any]], attack: str) -> str:
    """``exact/covers (mean bit accuracy %)``, ``†`` where a decoder failed; blank if not run."""
    made = [r for r in records if attack in r.get("outcomes", {})]
    if not made:
        return ""
    outcomes = [r["outcomes"][attack] for r in made]
    exact = sum(o["exact"] for o in outcomes)
    refused = sum(not r.get("embedded", True) for r in records)
    accuracies = [o["bit_accuracy"] for o in outcomes if o["bit_accuracy"] is not None]
    text = f"{exact}/{len(made) + refused}"
    if accuracies:
        text += f" ({100 * mean(accuracies):.1f})"
    return text + ("†" if len(accuracies) < len(outcomes) else "")


def tables(results: dict[str, list[dict[str, Any]]], attacks: Sequence[str]) -> list[str]:
    names = list(results)
    head = "| attack | " + " | ".join(names) + " |"
    lines = [head, "|---|" + "---:|" * len(names)]
    lines += [f"| {a} | " + " | ".join(cell(results[n], a) for n in names) + " |" for a in attacks]
    lines += [
        "",
        "| method | payload bits | covers | PSNR mean [min] | SSIM mean | pattern mean [max] "
        "| embed s | read s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, records in results.items():
        made = [r for r in records if r.get("embedded")]
        if not made:
            lines.append(f"| {name} | | 0/{len(records)} | | | | | |")
            continue
        q = [r["quality"] for r in made]
        reads = [s for r in made for s in r["read_s"].values()]
        lines.append(
            f"| {name} | {made[0].get('bits', '')} | {len(made)}/{len(records)} | "
            f"{mean(x['psnr'] for x in q):.2f} [{min(x['psnr'] for x in q):.2f}] | "
            f"{mean(x['ssim'] for x in q):.4f} | {mean(x['pattern'] for x in q):.3f} "
            f"[{max(x['pattern'] for x in q):.3f}] | {mean(r['embed_s'] for r in made):.1f} | "
            f"{mean(reads):.2f} |"
        )
    return lines


# -- main ---------------------------------------------------------------------------------------


def all_methods(sizes: Sequence[int], peers: bool) -> tuple[list[Method], list[str]]:
    methods: list[Method] = [InvstegRobust(size) for size in sizes]
    if not peers:
        return methods, ["peers: not run (no `peers` in this run's methods)"]
    found, missing = peer_methods()
    return methods + found, missing


def subset_notes(methods: Sequence[Method], slow_covers: int, covers: int) -> list[str]:
    """What the cheaper runs of the slower methods leave out."""
    core = [m.key for m in methods if m.cost == "core"]
    slow = [m.key for m in methods if m.cost == "slow"]
    notes = []
    if core:
        notes.append(f"{', '.join(core)}: one or two attacks per family (blank cells: not run)")
    if slow:
        notes.append(
            f"{', '.join(slow)} (about 17 s per read of a 1 MP image on one thread): those attacks "
            f"on the first {min(slow_covers, covers)} covers"
        )
    return notes


def run(args: argparse.Namespace) -> tuple[dict[str, list[dict[str, Any]]], list[str], list[str]]:
    covers = load_covers(args.val, args.limit)
    grid = attack_grid()
    methods, notes = all_methods([int(s) for s in args.sizes.split(",")], args.peers)
    cache = Cache(None if args.no_cache else args.cache)
    results: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        full = method.cost == "full" or args.full_grid
        attacks = grid if full else {a: grid[a] for a in CORE}
        subset = covers[: args.slow_covers] if method.cost == "slow" and not args.full_grid else covers
        start = time.perf_counter()
        results[method.key] = []
        for name, cover in subset:
            record = run_case(method, name, cover, attacks, cache) | {"bits": method.bits}
            results[method.key].append(record)
        print(f"{method.key}: {len(subset)} covers, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if not args.full_grid:
        notes += subset_notes(methods, args.slow_covers, len(covers))
    return results, list(grid), [f"{len(covers)} covers from {args.val.name}", *notes]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--sizes", default="8,256,1024", help="invsteg file sizes in bytes")
    parser.add_argument("--limit", type=int, help="only the first N photos (by name)")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="invsteg only")
    parser.add_argument("--slow-covers", type=int, default=6, help="covers for the slowest peers")
    parser.add_argument("--full-grid", action="store_true", help="every method: every attack and cover")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/robust_channel_cache"))
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--no-publish", action="store_true")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results.md")
    args = parser.parse_args(argv)
    results, attacks, notes = run(args)
    lines = [
        START,
        f"## Robust files and watermarking tools through a channel grid, val split ({date.today()})",
        "",
        f"`OMP_NUM_THREADS=1 {command_line(__file__)}`: each val photo box-resized to an 864 px short "
        "side and cut to its centre 1152x864 (1.0 MP); a fresh random payload per method and cover. "
        "A cell is the covers whose whole file (invsteg) or every bit (the peers) came back, and in "
        "brackets the mean bit accuracy in %: for invsteg the coded bits before Reed-Solomon, read on "
        "the embedding grid and step (the body corrects up to 25% wrong bytes per codeword). "
        "Resized stegos are read at their smaller size; rotations keep the size with black corners; "
        "a 1 MP cover is under the chat app's 1600 px long side, so that row is JPEG Q62 alone, and "
        "the issue's chat channel is the 0.75x row; "
        "the combination crops, brightens, then saves as JPEG. † a decoder failed on some covers "
        "(counted as not recovered, no bits).",
        "",
        *[f"- {note}" for note in notes],
        "",
        *tables(results, attacks),
        END,
    ]
    publish(START, END, args.results, lines, write=not args.no_publish)


if __name__ == "__main__":
    main()
