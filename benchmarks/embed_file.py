"""embed-file on the val split: bit-exactness, steering effort, capacity, PSNR, speed.

Every val image, in each view, carries a random (incompressible) file (encrypted, with a
stored name) of each ``--payloads`` size, by default 100% of the capacity ``invsteg capacity``
reports. The stego goes through an 8-bit PNG file and is extracted from it. Views:
docs/design.md's ``center256`` (256x256 centre crop at full resolution) and ``whole512``
(whole scene resized to 512), plus ``crop1024`` (the 1024x1024 centre crop at full
resolution, 1 MP) and ``full`` (the image as it is, 2-8 MP). Payload format 2 keeps the
cover, matrix-codes the message into the signs of its own latents and steers pixels until
the stego reads them (docs/design.md, "embed-file: payload format 2 and stealth"). Reported
per view, payload and model:

- net capacity in bytes and bits per pixel (after header, encryption and Reed-Solomon);
- verify passes (one pass = steering rounds + a real read of the 8-bit stego) and how many
  covers the first pass already satisfied; steering rounds in all;
- raw carrier accuracy after the first pass (1 - wrong / used carriers, before error
  correction) and the share of Reed-Solomon correction the worst codeword would spend;
- accepted / exact as embed-file reports them, and bit-exact success: the file extracted
  from the PNG equals the embedded one;
- stego-vs-cover PSNR and the share of colour samples that changed;
- embed and extract wall time per cover (model loaded and passphrase key derived once);

and the embed and extract wall time of a 10 KB file in a 1 MP cover, with the machine's
load average. Writes its section of ``benchmarks/results.md`` (``--no-publish``: print only).

    python benchmarks/embed_file.py --views center256,whole512,crop1024,full
    python benchmarks/embed_file.py --payloads 1.0,0.25,safe --views center256,whole512
    python benchmarks/embed_file.py --models stegcinn-fast,stegcinn-small --other-views center256
    python benchmarks/embed_file.py --views center256 --limit 2 --no-timing --no-publish
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from invsteg.errors import PayloadError
from invsteg.eval.views import apply_view, center_crop
from invsteg.payload import sealed
from invsteg.pipelines import embedding
from invsteg.pipelines.embedding import Capacity, EmbedSettings
from invsteg.pipelines.steering import Steering
from invsteg.train.data import image_paths, load_rgb
from results_file import command_line, publish

START, END = "<!-- embed_file:start -->", "<!-- embed_file:end -->"
PASSPHRASE = "benchmark passphrase"
FILE_NAME = "payload.bin"
TIMING_BYTES = 10 * 1024
VIEWS = ("center256", "whole512", "crop1024", "full")


def through_png(pixels: np.ndarray) -> np.ndarray:
    """The pixels an 8-bit PNG file of ``pixels`` gives back."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    with Image.open(io.BytesIO(buffer.getvalue())) as image:
        return np.asarray(image.convert("RGB"))


def view_of(path: Path, view: str) -> np.ndarray:
    image = load_rgb(path)
    if view == "crop1024":
        return np.asarray(center_crop(image, 1024))
    return np.asarray(apply_view(image, view))


def load_model(name: str, args: argparse.Namespace) -> tuple[Any, str]:
    if args.random_init:
        from invsteg.zoo import get_spec, random_model

        return random_model(get_spec(name)).eval(), f"{name}, random init (untrained)"
    net = embedding.load_embedding_model(name, args.weights)
    return net, str(args.weights) if args.weights else name


def payload_size(spec: str, room: Capacity) -> int:
    """File bytes for payload ``spec`` in a cover of capacity ``room``: a fraction of the net
    capacity (``1.0``, ``0.25``), a percentage (``50%``), ``safe`` (``room.safe_bytes``) or a
    byte count (an integer, ``4096``: more than the cover holds fails)."""
    spec = spec.strip().lower()
    if spec == "safe":
        return room.safe_bytes
    if spec.endswith("%"):
        return int(float(spec[:-1]) / 100 * room.net_bytes)
    if "." in spec:
        return int(float(spec) * room.net_bytes)
    return int(spec)


def payload_label(spec: str) -> str:
    spec = spec.strip().lower()
    if spec == "safe" or spec.endswith("%"):
        return spec
    if "." in spec:
        return f"{100 * float(spec):g}%"
    return f"{int(spec):,} B"


class Run(NamedTuple):
    """What every embedding of a run shares: settings and the passphrase's locator key."""

    settings: EmbedSettings
    locator: bytes

    def embed(self, cover: np.ndarray, data: bytes, net: Any, rng: np.random.Generator) -> tuple:
        """``(stego, report, seconds)``; the salt comes from ``rng`` too, so a rerun embeds
        the same message."""
        start = time.perf_counter()
        stego, report = embedding.embed_file(
            cover,
            data,
            file_name=FILE_NAME,
            passphrase=PASSPHRASE,
            model=net,
            settings=self.settings,
            random_bytes=rng.bytes,
            locator=self.locator,
        )
        return stego, report, time.perf_counter() - start


def run_one(name: str, cover: np.ndarray, net: Any, rng: np.random.Generator, spec: str, run: Run) -> dict:
    """Embed a random file of payload ``spec`` in ``cover``, extract it from PNG, measure."""
    room = embedding.capacity(cover, model=net, passphrase=PASSPHRASE, file_name=FILE_NAME)
    data = rng.bytes(payload_size(spec, room))
    stego, report, embed_s = run.embed(cover, data, net, rng)
    start = time.perf_counter()
    try:
        read = embedding.extract_file(
            through_png(stego), passphrase=PASSPHRASE, model=net, locator=run.locator
        )
        exact = read.data == data
    except PayloadError:
        exact = False
    extract_s = time.perf_counter() - start
    pixels = cover.shape[0] * cover.shape[1]
    result = {
        "name": name,
        "pixels": pixels,
        "net_bytes": room.net_bytes,
        "bpp": room.bpp,
        "payload_bytes": len(data),
        "payload_bpp": 8 * len(data) / pixels,
        "rounds": report.rounds,
        "steer_rounds": report.steer_rounds,
        "acc_first": 1 - report.wrong_carriers[0] / max(report.used_carriers, 1),
        "corr_first": report.correction_used[0],
        "corr_returned": min(report.correction_used),  # embed_file returns the best pass
        "accepted": report.accepted,
        "exact_report": report.exact,
        "exact": exact,
        "psnr": report.psnr_db,
        "changed": report.changed_samples / (3 * pixels),
        "embed_s": embed_s,
        "extract_s": extract_s,
    }
    print(
        f"  {name} {cover.shape[1]}x{cover.shape[0]}: {len(data)}/{room.net_bytes} B, "
        f"{report.used_carriers} used carriers, {report.flips} flips, {report.rounds} pass(es), "
        f"{report.steer_rounds} steering rounds, wrong carriers per pass {list(report.wrong_carriers)} "
        f"(raw carrier acc {100 * result['acc_first']:.3f}%), correction used per pass "
        f"{[round(c, 3) for c in report.correction_used]}, accepted {report.accepted}, "
        f"exact {report.exact}, bit-exact from PNG {exact}, PSNR {report.psnr_db:.2f} dB, "
        f"changed {100 * result['changed']:.3f}% of samples, embed {embed_s:.1f} s, "
        f"extract {extract_s:.1f} s",
        flush=True,
    )
    return result


def run_one_safely(
    name: str, cover: np.ndarray, net: Any, rng: np.random.Generator, spec: str, run: Run
) -> dict:
    try:
        return run_one(name, cover, net, rng, spec, run)
    except PayloadError as exc:  # EmbeddingFailedError, too large: a failure; keep going
        print(f"  {name}: failed: {exc}", flush=True)
        return {"name": name, "exact": False, "failed": True}


COLUMNS = (
    "| model | view | payload | images | capacity B (net bpp) | passes: 1 / max "
    "| steering rounds mean (max) | raw carrier acc % 1st pass mean (worst) "
    "| correction used % worst, 1st pass / returned | accepted | exact (report) "
    "| bit-exact (PNG) | PSNR dB mean (worst) | changed samples % mean (max) "
    "| embed s mean (max) | extract s mean (max) |"
)
ALIGN = "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def summary_row(model: str, view: str, spec: str, results: list[dict]) -> str:
    done = [r for r in results if not r.get("failed")]
    exact = sum(r["exact"] for r in results)
    head = f"| {model} | {view} | {payload_label(spec)}"
    if not done:
        return f"{head} | {len(results)} |{' - |' * 7} {exact}/{len(results)} |{' - |' * 4}"

    def mean(key: str) -> float:
        return statistics.mean(r[key] for r in done)

    def top(key: str) -> float:
        return max(r[key] for r in done)

    worst_psnr = min(done, key=lambda r: r["psnr"])
    return (
        f"{head} ({mean('payload_bytes'):,.0f} B, {mean('payload_bpp'):.3f} bpp) "
        f"| {len(results)} ({mean('pixels') / 1e6:.2f} MP) "
        f"| {mean('net_bytes'):,.0f} ({mean('bpp'):.3f}) "
        f"| {sum(r['rounds'] == 1 for r in done)}/{len(done)}, max {top('rounds')} "
        f"| {mean('steer_rounds'):.1f} ({top('steer_rounds')}) "
        f"| {100 * mean('acc_first'):.3f} ({100 * min(r['acc_first'] for r in done):.3f}) "
        f"| {100 * top('corr_first'):.0f} / {100 * top('corr_returned'):.0f} "
        f"| {sum(r['accepted'] for r in done)}/{len(results)} "
        f"| {sum(r['exact_report'] for r in done)}/{len(results)} "
        f"| {exact}/{len(results)} "
        f"| {mean('psnr'):.2f} ({worst_psnr['psnr']:.2f}, {worst_psnr['name']}) "
        f"| {100 * mean('changed'):.3f} ({100 * top('changed'):.3f}) "
        f"| {mean('embed_s'):.1f} ({top('embed_s'):.1f}) "
        f"| {mean('extract_s'):.1f} ({top('extract_s'):.1f}) |"
    )


def timing(path: Path, size: tuple[int, int], net: Any, run: Run) -> dict:
    """Embed and extract wall time of a 10 KB random file in a ``size`` crop of ``path``."""
    image = load_rgb(path)
    scale = max(size[0] / image.width, size[1] / image.height, 1.0)
    if scale > 1:  # too small: enlarge first (Lanczos), then crop
        image = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS
        )
    left, top = (image.width - size[0]) // 2, (image.height - size[1]) // 2
    cover = np.asarray(image.crop((left, top, left + size[0], top + size[1])))
    rng = np.random.default_rng(0)
    data = rng.bytes(TIMING_BYTES)
    runs = []
    for _ in range(2):  # the best of two: the first also warms oneDNN up
        stego, report, embed_s = run.embed(cover, data, net, rng)
        stego = through_png(stego)
        start = time.perf_counter()
        exact = (
            embedding.extract_file(stego, passphrase=PASSPHRASE, model=net, locator=run.locator).data == data
        )
        extract_s = time.perf_counter() - start
        runs.append(
            {
                "embed_s": embed_s,
                "extract_s": extract_s,
                "rounds": report.rounds,
                "steer_rounds": report.steer_rounds,
                "changed": report.changed_samples / (3 * size[0] * size[1]),
                "exact": exact,
            }
        )
    return min(runs, key=lambda r: r["embed_s"] + r["extract_s"]) | {"cover": cover, "data": data}


def cli_timing(cover: np.ndarray, data: bytes, model: str) -> dict:
    """Wall time of ``invsteg embed-file`` and ``invsteg extract-file`` on ``cover`` as a PNG
    file, each a fresh process (Python, torch, model loading and the passphrase's Argon2id
    included), as a user runs them."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        Image.fromarray(cover).save(folder / "cover.png")
        (folder / FILE_NAME).write_bytes(data)
        env = os.environ | {"INVSTEG_PASSPHRASE": PASSPHRASE}
        invsteg = [sys.executable, "-m", "invsteg"]
        commands = {
            "embed_s": [*invsteg, "embed-file", "cover.png", FILE_NAME, "-o", "stego.png", "-m", model],
            "extract_s": [*invsteg, "extract-file", "stego.png", "-o", "out.bin", "-m", model],
        }
        times = {}
        for key, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
            times[key] = time.perf_counter() - start
        return times | {"exact": (folder / "out.bin").read_bytes() == data}


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument(
        "--models", default=embedding.default_embed_model(), help="comma list; timing: the first"
    )
    parser.add_argument("--weights", type=Path, help="a weights file (default: the model's shipped one)")
    parser.add_argument("--random-init", action="store_true", help="the model's architecture, untrained")
    parser.add_argument("--views", default="center256,whole512,crop1024", help=f"comma list of {VIEWS}")
    parser.add_argument(
        "--other-views", default="center256,whole512", help="views for the models after the first"
    )
    parser.add_argument(
        "--payloads",
        default="1.0",
        help="comma list: fractions of the capacity (1.0, 0.25), percentages (50%%), safe "
        "(the safe size) or bytes (an integer)",
    )
    parser.add_argument("--limit", type=int, help="only the first N val images")
    parser.add_argument(
        "--max-rounds", type=int, default=EmbedSettings.max_rounds, help="verify passes at most"
    )
    parser.add_argument("--steer-rounds", type=int, default=EmbedSettings.steer_rounds, help="per pass")
    parser.add_argument("--size", type=parse_size, default=(1024, 1024), help="timing cover, WxH (1 MP)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    parser.add_argument("--no-publish", action="store_true", help="print the section, write nothing")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    paths = image_paths(args.val)[: args.limit]
    models = args.models.split(",")
    specs = args.payloads.split(",")
    for spec in specs:  # fail on a typo now, not after an hour of embedding
        payload_label(spec)
    settings = EmbedSettings(max_rounds=args.max_rounds, steer_rounds=args.steer_rounds)
    start = time.perf_counter()
    run = Run(settings, sealed.locator_key(PASSPHRASE))  # Argon2id, once per run
    locator_s = time.perf_counter() - start
    labels = []

    lines = [COLUMNS, ALIGN]
    nets = {}
    for index, name in enumerate(models):
        net, label = load_model(name, args)
        nets[name] = net
        labels.append(label)
        for view in (args.views if index == 0 else args.other_views).split(","):
            for spec in specs:
                print(f"{name} {view} {payload_label(spec)}:", flush=True)
                rng = np.random.default_rng(0)
                results = [run_one_safely(p.stem, view_of(p, view), net, rng, spec, run) for p in paths]
                lines.append(summary_row(name, view, spec, results))
    lines.append("")
    if not args.no_timing:
        load_before = os.getloadavg()[0]
        t = timing(paths[0], args.size, nets[models[0]], run)
        width, height = args.size
        lines.append(
            f"Speed ({models[0]}): a {TIMING_BYTES // 1024} KB file in a {width}x{height} "
            f"({width * height / 1e6:.2f} MP) crop of {paths[0].stem}: embed {t['embed_s']:.1f} s "
            f"({t['rounds']} verify pass(es), {t['steer_rounds']} steering rounds, "
            f"{100 * t['changed']:.3f}% of the samples changed), extract {t['extract_s']:.1f} s, "
            f"together {t['embed_s'] + t['extract_s']:.1f} s, exact: {t['exact']} (library calls, "
            f"best of two, the passphrase's locator key derived beforehand: {locator_s:.2f} s; "
            f"torch threads {torch.get_num_threads()} of {os.cpu_count()} cores, load average "
            f"{load_before:.2f} before / {os.getloadavg()[0]:.2f} after: other jobs shared the CPU)."
        )
        if not args.random_init and args.weights is None:
            cli = cli_timing(t["cover"], t["data"], models[0])
            lines.append(
                f"The same with the commands, each a fresh process (`invsteg embed-file` then "
                f"`invsteg extract-file`, PNG files, passphrase from the environment, key "
                f"derivation included): {cli['embed_s']:.1f} s + {cli['extract_s']:.1f} s = "
                f"{cli['embed_s'] + cli['extract_s']:.1f} s, exact: {cli['exact']}."
            )
        lines.append("")
    if args.random_init:
        lines += [
            "Random init: an untrained Steg-cINN's latents answer pixel edits unlike a trained "
            "one's, so these figures measure the matrix coding, the steering and the verify loop "
            "on some flow, not what the shipped model does.",
            "",
        ]
    command = command_line(__file__)
    header = [
        START,
        f"## embed-file: {', '.join(labels)}, val split ({date.today()})",
        "",
    ]
    lines = header + lines
    steering = Steering()
    lines += [
        f"Command: `{command}`. Payload format 2. Each cover carries a random file of the "
        f"payload given (100% = the net capacity `invsteg capacity` reports; encrypted, "
        f"stored name {FILE_NAME!r}; Reed-Solomon with {sealed.HEAD_NSYM} parity bytes on the "
        f"head, {sealed.BODY_NSYM} per 255 on the body); the stego is saved as 8-bit PNG and "
        "extracted from it. The cover is kept: its own latents give the carrier signs, and the "
        "message is syndrome-coded into them, flipping the cheapest signs, |z| as the cost (the "
        "body: a syndrome-trellis code of 2-4 carriers per bit, or near capacity a Hamming code "
        "of order p, at most one sign flip per block of 2^p - 1 carriers; p = 2 at 100%: two "
        "bits per three body carriers). Steering then edits one colour sample per 2x2 block that "
        f"holds a wrong carrier, 1-{steering.max_step} 8-bit levels a round, along the gradient "
        f"of a soft hinge on the used carriers (aim {settings.aim}), until they read their "
        f"signs at least {settings.margin} past zero (at most {settings.steer_rounds} rounds a "
        "pass). A pass ends with a real read of the 8-bit stego; carriers that did not settle "
        "are frozen and the matrix code routes around them in the next pass (at most "
        f"{settings.max_rounds} passes). Raw carrier accuracy = 1 - wrong / used carriers after "
        "the first pass (wrong or within the margin, before error correction). Correction "
        "used: the largest share of its Reed-Solomon correction any codeword would spend (weak "
        "carriers counted wrong), worst cover, after the first pass and in the stego returned; "
        f"a stego is accepted at {settings.accept_share:.0%} or less, else the best pass is "
        "returned if it extracts. exact (report): every used carrier reads right; bit-exact: "
        "the file extracted from the PNG equals the embedded one. PSNR and changed samples "
        "(share of the 3 W H colour samples that differ from the cover) measure the edits; "
        "untouched 2x2 blocks stay bit-identical. Embed and extract times are per cover, "
        "library calls with the model loaded and the locator key (Argon2id) derived once per "
        f"run ({locator_s:.2f} s, not counted).",
        END,
    ]
    publish(START, END, args.out, lines, write=not args.no_publish)


if __name__ == "__main__":
    main()
