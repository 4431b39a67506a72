"""Speed and memory of ``invsteg.hiding.hide`` / ``reveal`` on CPU.

For each model, cover size and precision (fp32, or bf16 under ``torch.autocast("cpu")``)
this measures hide and reveal wall time, megapixels per second and peak RSS. Every
configuration runs in a fresh subprocess (this script with ``--one``) so that one
configuration's peak RSS cannot hide another's. Each subprocess also times a baseline
(hinet-small, fp32, 1 MP by default) after reading its peak RSS, and the ratio to that
baseline is reported, since the machine may be noisy. The same subprocess counts the
model's FLOPs and measures the machine's practical fp32 peak (a large matmul and a 3x3
convolution), so each row reports the share of that peak the model reaches. It also times
``invsteg --help`` and checks that ``import invsteg.cli`` does not import torch.

With ``--official DIR`` (a checkout of the official HiNet code, TomTomTommi/HiNet) it also
times, alternating in one run, the whole ``invsteg hide`` command on a 1024x1024 cover
(import, shipped weights, PNG in and out) against the official network's forward alone on
the same size, and reports the ratio.

Models get random weights (:func:`invsteg.zoo.random_model`): speed does not depend
on the weight values, and so this runs where weights are not shipped.

    python benchmarks/hide_speed.py                 # 0.25, 1 and 12 MP (slow)
    python benchmarks/hide_speed.py --quick         # 64x64 and 128x96, for CI and dev
    python benchmarks/hide_speed.py --sizes 512x512,4000x3000 --models hinet-small
    python benchmarks/hide_speed.py --official /tmp/hinet_official --sizes 1024x1024

The results table goes to stdout and replaces this script's section of ``--out``
(between ``<!-- hide_speed:start -->`` and ``<!-- hide_speed:end -->``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import re
import resource
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from results_file import write_section

START_MARKER = "<!-- hide_speed:start -->"
END_MARKER = "<!-- hide_speed:end -->"
RESULT_PREFIX = "HIDE_SPEED_RESULT "
DEFAULT_SIZES = "512x512,1024x1024,4000x3000"  # 0.25, 1 and 12 MP
QUICK_SIZES = "64x64,128x96"
DEFAULT_MODELS = "hinet-small,hinet-official"
PRECISIONS = ("fp32", "bf16")
BASELINE_MODEL = "hinet-small"
BASELINE_PRECISION = "fp32"
TARGET_MP = 12.0
TARGET_RSS_MB = 2000.0  # the 12 MP target: peak RSS < 2 GB
WARMUP_SIZE = (64, 64)


@dataclass(frozen=True)
class Config:
    """One measured configuration; sizes are (width, height)."""

    model: str
    width: int
    height: int
    precision: str
    baseline_width: int
    baseline_height: int
    repeats: int
    budget_s: float
    tile: int
    threads: int | None = None

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass
class Result:
    model: str
    width: int
    height: int
    precision: str
    hide_s: float | None = None
    reveal_s: float | None = None
    peak_rss_mb: float | None = None
    baseline_s: float | None = None  # baseline hide + reveal, same subprocess
    runs: int = 0
    threads: int | None = None
    torch_version: str | None = None
    error: str | None = None
    flops_per_pixel: float | None = None  # one hide + one reveal, 2 per multiply-add
    peak_gflops: dict[str, float] = field(default_factory=dict)  # this subprocess's practical peak
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def mp_per_s(self) -> float | None:
        """Megapixels per second through one hide and one reveal."""
        if self.hide_s is None or self.reveal_s is None:
            return None
        return self.megapixels / (self.hide_s + self.reveal_s)

    @property
    def ratio(self) -> float | None:
        """(hide + reveal) time over the baseline's, both measured in this subprocess."""
        if self.hide_s is None or self.reveal_s is None or not self.baseline_s:
            return None
        return (self.hide_s + self.reveal_s) / self.baseline_s

    @property
    def gflops(self) -> float | None:
        """The model's arithmetic rate over one hide and one reveal, GFLOP/s."""
        if self.flops_per_pixel is None or self.hide_s is None or self.reveal_s is None:
            return None
        return self.flops_per_pixel * self.width * self.height / (self.hide_s + self.reveal_s) / 1e9

    def share_of_peak(self, kind: str) -> float | None:
        """:attr:`gflops` over the ``kind`` ("matmul" or "conv3x3") peak of its subprocess."""
        peak = self.peak_gflops.get(kind)
        return None if self.gflops is None or not peak else self.gflops / peak


# --- inside one subprocess ------------------------------------------------------------


def smooth_noise(width: int, height: int, seed: int) -> np.ndarray:
    """A natural-looking ``(H, W, 3)`` uint8 image: upscaled coarse noise plus grain."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), dtype=np.float32)
    for cells, weight in ((4, 0.5), (32, 0.3), (256, 0.15)):
        small_w = max(2, min(width, round(width / max(width, height) * cells)))
        small_h = max(2, min(height, round(height / max(width, height) * cells)))
        coarse = rng.integers(0, 256, (small_h, small_w, 3), dtype=np.uint8)
        layer = Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)
        image += weight * np.asarray(layer, dtype=np.float32)
        del layer
    image += rng.normal(0.0, 3.0, (height, width, 3)).astype(np.float32)  # sensor grain
    return np.clip(image / 0.95, 0, 255).astype(np.uint8)


def peak_rss_mb() -> float:
    """This process's peak RSS in MB (10^6 bytes); ru_maxrss is KiB on Linux, bytes on macOS."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return maxrss * scale / 1e6


def _precision_context(precision: str) -> AbstractContextManager[Any]:
    import torch

    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if precision == "fp32":
        return nullcontext()
    raise ValueError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")


def _load_net(model: str) -> Any:
    import torch

    from invsteg.zoo import get_spec, random_model

    torch.manual_seed(0)
    return random_model(get_spec(model)).eval()


def _hide_reveal_once(
    net: Any, cover: np.ndarray, secret: np.ndarray, precision: str, tile: int
) -> tuple[float, float]:
    from invsteg.pipelines import hiding

    with _precision_context(precision):
        start = time.perf_counter()
        stego = hiding.hide(cover, secret, net=net, tile=tile).stego
        hide_s = time.perf_counter() - start
        start = time.perf_counter()
        hiding.reveal(stego, net=net, tile=tile)
        reveal_s = time.perf_counter() - start
    return hide_s, reveal_s


def time_hide_reveal(
    net: Any, width: int, height: int, precision: str, repeats: int, budget_s: float, tile: int
) -> tuple[float, float, int]:
    """Best hide and best reveal seconds over up to ``repeats`` runs (at least one; no
    new run once ``budget_s`` is spent), after a small warm-up run."""
    _hide_reveal_once(net, smooth_noise(*WARMUP_SIZE, 98), smooth_noise(*WARMUP_SIZE, 99), precision, tile)
    cover, secret = smooth_noise(width, height, 1), smooth_noise(width, height, 2)
    hides, reveals = [], []
    started = time.perf_counter()
    while len(hides) < max(1, repeats) and (not hides or time.perf_counter() - started < budget_s):
        gc.collect()
        hide_s, reveal_s = _hide_reveal_once(net, cover, secret, precision, tile)
        hides.append(hide_s)
        reveals.append(reveal_s)
    return min(hides), min(reveals), len(hides)


def practical_peak(repeats: int = 5) -> dict[str, float]:
    """GFLOP/s (2 per multiply-add) of two dense fp32 kernels on this process's threads,
    best of ``repeats``: a 2048x2048 matmul, and a 64 -> 64 channel 3x3 convolution of a
    256x256 map (the kind of layer the models are made of, at a width that fills the
    vector units)."""
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 2048, 2048, generator=generator)
    x = torch.randn(1, 64, 256, 256, generator=generator)
    w = torch.randn(64, 64, 3, 3, generator=generator)
    kernels = {
        "matmul": (lambda: a @ b, 2 * 2048**3),
        "conv3x3": (lambda: F.conv2d(x, w, padding=1), 2 * 64 * 64 * 9 * 256 * 256),
    }
    peaks = {}
    with torch.inference_mode():
        for name, (kernel, flops) in kernels.items():
            kernel()  # warm-up: oneDNN picks and caches its primitive
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                kernel()
                times.append(time.perf_counter() - start)
            peaks[name] = flops / min(times) / 1e9
    return peaks


def flops_per_pixel(net: Any, precision: str, tile: int, side: int = 256) -> float:
    """FLOPs of one hide and one reveal per cover pixel, counted by torch's
    ``FlopCounterMode`` on a ``side x side`` cover (the models are fully convolutional, so
    the count per pixel does not depend on the size)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        _hide_reveal_once(net, smooth_noise(side, side, 3), smooth_noise(side, side, 4), precision, tile)
    return counter.get_total_flops() / side**2


def run_one(config: Config) -> Result:
    """Measure ``config`` in this process; peak RSS is read before the baseline runs."""
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    result = Result(config.model, config.width, config.height, config.precision)
    result.threads = torch.get_num_threads()
    result.torch_version = torch.__version__
    net = _load_net(config.model)
    result.hide_s, result.reveal_s, result.runs = time_hide_reveal(
        net, config.width, config.height, config.precision, config.repeats, config.budget_s, config.tile
    )
    result.peak_rss_mb = peak_rss_mb()
    result.flops_per_pixel = flops_per_pixel(net, config.precision, config.tile)
    result.peak_gflops = practical_peak()
    del net
    gc.collect()
    baseline_net = _load_net(BASELINE_MODEL)
    baseline_hide, baseline_reveal, _ = time_hide_reveal(
        baseline_net,
        config.baseline_width,
        config.baseline_height,
        BASELINE_PRECISION,
        config.repeats,
        config.budget_s,
        config.tile,
    )
    result.baseline_s = baseline_hide + baseline_reveal
    return result


def official_forward_s(directory: Path, side: int, threads: int | None) -> float:
    """Seconds of the official HiNet's forward (its DWT of cover and secret, then its
    16-block network) on a ``side x side`` pair, ``torch.no_grad``, random weights (the
    speed does not depend on them), after a 64x64 warm-up. Imports the official modules
    from ``directory``, as its own test.py does."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    sys.path.insert(0, str(directory))
    import modules.Unet_common as common  # type: ignore[import-not-found]
    from model import Model  # type: ignore[import-not-found]

    torch.manual_seed(0)
    net, dwt = Model().eval(), common.DWT()

    def forward(size: int) -> float:
        cover, secret = torch.rand(2, 1, 3, size, size)
        start = time.perf_counter()
        with torch.no_grad():
            net(torch.cat((dwt(cover), dwt(secret)), 1))
        return time.perf_counter() - start

    forward(64)
    return forward(side)


def whole_hide_s(workdir: Path, side: int) -> float:
    """Wall seconds of ``invsteg hide cover.png secret.png -o stego.png`` on ``side x side``
    PNGs in a fresh process: import, shipped weights, reading and writing included."""
    from PIL import Image

    cover, secret, stego = (workdir / f"{name}.png" for name in ("cover", "secret", "stego"))
    for path, seed in ((cover, 5), (secret, 6)):
        if not path.exists():
            Image.fromarray(smooth_noise(side, side, seed)).save(path)
    command = [*invsteg_command(), "-q", "hide", str(cover), str(secret), "-o", str(stego), "--force"]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def compare_with_official(directory: Path, side: int, rounds: int, threads: int | None) -> dict[str, Any]:
    """Best of ``rounds`` alternating runs of the whole ``invsteg hide`` command and of the
    official forward (each in its own process), same size and threads."""
    import tempfile

    ours, official = [], []
    command = [sys.executable, str(Path(__file__).resolve()), "--official-one", str(directory)]
    command += ["--official-side", str(side)] + (["--threads", str(threads)] if threads else [])
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(rounds):
            ours.append(whole_hide_s(Path(workdir), side))
            proc = subprocess.run(command, capture_output=True, text=True, check=True)
            official.append(float(proc.stdout.strip().splitlines()[-1]))
    return {"side": side, "ours_s": min(ours), "official_s": min(official), "rounds": rounds}


def official_line(comparison: dict[str, Any]) -> str:
    side, ours, official = comparison["side"], comparison["ours_s"], comparison["official_s"]
    return (
        f"Against the official HiNet code (best of {comparison['rounds']} alternating runs, "
        f"{side}x{side}): the whole `invsteg hide` command (default model, shipped weights, "
        f"`import torch`, PNG in and out) took {ours:.2f} s; the official network's forward "
        f"alone (its DWT and 16 blocks, random weights, `torch.no_grad`) took {official:.2f} s: "
        f"**{official / ours:.1f}x** (target >= 6x, aim 8x)."
    )


# --- the parent: subprocesses, CLI checks, report --------------------------------------


def run_in_subprocess(config: Config, timeout: float | None) -> Result:
    command = [sys.executable, str(Path(__file__).resolve()), "--one", json.dumps(asdict(config))]
    failed = Result(config.model, config.width, config.height, config.precision)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        failed.error = f"timed out after {timeout:g} s"
        return failed
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            data = json.loads(line[len(RESULT_PREFIX) :])
            return Result(**data)
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    failed.error = f"exit {proc.returncode}: {tail}"
    return failed


def invsteg_command() -> list[str]:
    """The ``invsteg`` console script next to this interpreter, else ``python -m invsteg``."""
    script = Path(sys.executable).parent / "invsteg"
    if script.exists():
        return [str(script)]
    found = shutil.which("invsteg")
    return [found] if found else [sys.executable, "-m", "invsteg"]


def time_cli_help(runs: int = 3) -> dict[str, Any]:
    """Wall seconds of ``invsteg --help`` in a subprocess: the first run and the best."""
    command = [*invsteg_command(), "--help"]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            return {"command": shlex.join(command), "error": f"exit {proc.returncode}"}
    return {"command": "invsteg --help", "first_s": times[0], "best_s": min(times)}


def cli_import_check() -> dict[str, Any]:
    """Whether ``import invsteg.cli`` imports torch, from ``python -X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import invsteg.cli"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}"}
    modules: dict[str, int] = {}  # module -> cumulative microseconds
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S+)", line)
        if match:
            modules[match.group(3).strip()] = int(match.group(2))
    torch_modules = sorted(m for m in modules if m == "torch" or m.startswith("torch."))
    return {
        "imports_torch": bool(torch_modules),
        "torch_modules": len(torch_modules),
        "cli_import_s": modules.get("invsteg.cli", 0) / 1e6,
    }


def machine_description(torch_version: str | None) -> str:
    cpu: str | None = None
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu is None:
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine()
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    if torch_version is None:
        try:
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            torch_version = "not installed"
    bf16_hw = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    bf16 = ", ".join(bf16_hw) if bf16_hw else "no avx512_bf16/amx_bf16" if flags else "unknown"
    return f"{cpu}, {cores} cores ({usable} usable), torch {torch_version}, bf16 hardware: {bf16}"


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _sig(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def results_table(results: list[Result]) -> str:
    rows = [
        "| model | MP | precision | hide s | reveal s | MP/s | GFLOP/s | of matmul / conv peak "
        "| peak RSS MB | ratio vs baseline |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            rows.append(
                f"| {r.model} | {r.megapixels:.3g} ({r.width}x{r.height}) | {r.precision} "
                f"| failed: {r.error.replace('|', '/')} | | | | | | |"
            )
            continue
        rows.append(
            f"| {r.model} | {r.megapixels:.3g} ({r.width}x{r.height}) | {r.precision} "
            f"| {_fmt(r.hide_s, 3)} | {_fmt(r.reveal_s, 3)} | {_sig(r.mp_per_s)} "
            f"| {_fmt(r.gflops, 1)} | {_percent(r.share_of_peak('matmul'))} / "
            f"{_percent(r.share_of_peak('conv3x3'))} | {_fmt(r.peak_rss_mb, 0)} | {_fmt(r.ratio, 2)} |"
        )
    return "\n".join(rows)


def target_line(results: list[Result]) -> str:
    checks = []
    for r in results:
        if abs(r.megapixels - TARGET_MP) / TARGET_MP < 0.05:
            if r.peak_rss_mb is None:
                checks.append(f"{r.model} {r.precision}: failed")
            else:
                verdict = "ok" if r.peak_rss_mb < TARGET_RSS_MB else "OVER"
                checks.append(f"{r.model} {r.precision}: {r.peak_rss_mb:.0f} MB {verdict}")
    measured = "; ".join(checks) if checks else "no 12 MP cover in this run"
    return f"Target: at 12 MP, peak RSS < 2 GB ({TARGET_RSS_MB:.0f} MB). This run: {measured}."


def render_section(
    results: list[Result], args: argparse.Namespace, cli: dict[str, Any], imports: dict[str, Any]
) -> str:
    torch_version = next((r.torch_version for r in results if r.torch_version), None)
    threads = sorted({r.threads for r in results if r.threads})
    bw, bh = args.baseline_size
    if "error" in cli:
        cli_text = f"`{cli['command']}` failed ({cli['error']})"
    else:
        cli_text = (
            f"`invsteg --help` took {cli['first_s']:.2f} s (first run), {cli['best_s']:.2f} s (best of 3)"
        )
    if "error" in imports:
        import_text = f"`import invsteg.cli` failed ({imports['error']})"
    else:
        pulls = "**pulls in torch**" if imports["imports_torch"] else "does not import torch"
        import_text = f"`import invsteg.cli` {pulls} (`-X importtime`: {imports['cli_import_s']:.2f} s)"
    command = shlex.join(["python", "benchmarks/hide_speed.py", *sys.argv[1:]])
    if args.repeats == 1:
        timing = "times are from one run"
    else:
        timing = f"times are the best of up to {args.repeats} runs (fewer once {args.budget_s:g} s are spent)"
    return "\n".join(
        [
            START_MARKER,
            "## hide/reveal speed (`benchmarks/hide_speed.py`)",
            "",
            f"{datetime.now().astimezone().isoformat(timespec='seconds')} on "
            f"{machine_description(torch_version)}, torch threads {', '.join(map(str, threads)) or '?'}; "
            f"made by `{command}`.",
            "",
            results_table(results),
            "",
            f"Random weights; tile {args.tile}; {timing} after a 64x64 warm-up. MP/s is megapixels "
            "through one hide plus one reveal. bf16 is `torch.autocast('cpu', dtype=torch.bfloat16)` "
            "around `hiding.hide`/`hiding.reveal`. Each row ran in its own subprocess; peak RSS "
            "(`ru_maxrss`, MB = 10^6 bytes) is read there before the baseline runs. The ratio is the "
            f"row's (hide + reveal) time over {BASELINE_MODEL} {BASELINE_PRECISION} at {bw}x{bh} "
            f"({bw * bh / 1e6:.3g} MP), timed in the same subprocess, so it survives a noisy machine. "
            "GFLOP/s: the FLOPs of one hide and one reveal (torch's `FlopCounterMode`, 2 per "
            "multiply-add) over their time; the peaks are measured in the same subprocess: a "
            "2048x2048 fp32 matmul and a 64-channel 3x3 convolution of a 256x256 map, best of 5.",
            "",
            target_line(results),
            "",
            f"CLI: {cli_text}; {import_text}.",
            END_MARKER,
        ]
    )


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size looks like 1024x768, got {text!r}") from None
    if width < 8 or height < 8:
        raise argparse.ArgumentTypeError(f"sizes must be at least 8x8, got {text!r}")
    return width, height


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [parse_size(s) for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} only, for CI and dev")
    parser.add_argument("--sizes", type=parse_sizes, help=f"WxH,WxH,... (default {DEFAULT_SIZES})")
    parser.add_argument(
        "--models", default=DEFAULT_MODELS, help=f"comma-separated (default {DEFAULT_MODELS})"
    )
    parser.add_argument(
        "--precisions", default=",".join(PRECISIONS), help="comma-separated: fp32, bf16 (default both)"
    )
    parser.add_argument(
        "--baseline-size",
        type=parse_size,
        help="baseline cover WxH (default 1024x1024; 64x64 with --quick)",
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed runs per config, best kept (3; 1 with --quick)"
    )
    parser.add_argument("--budget-s", type=float, default=30.0, help="no new timed run after this many s")
    parser.add_argument("--tile", type=int, default=None, help="tile size (default hiding.DEFAULT_TILE)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per configuration subprocess")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.md"), help="markdown file")
    parser.add_argument(
        "--bf16-max-mp",
        type=float,
        default=0.3,
        help="skip bf16 above this size (10x slower without bf16 hardware)",
    )
    parser.add_argument(
        "--max-mp",
        action="append",
        default=[],
        metavar="MODEL[:PRECISION]=MP",
        help="skip MODEL (at PRECISION) above MP megapixels",
    )
    parser.add_argument(
        "--official",
        type=Path,
        help="official HiNet checkout: also compare the whole hide command with its forward",
    )
    parser.add_argument(
        "--official-rounds", type=int, default=2, help="alternating rounds of that comparison (2)"
    )
    parser.add_argument("--official-side", type=int, default=1024, help=argparse.SUPPRESS)
    parser.add_argument("--official-one", type=Path, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one Config as JSON
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = parse_sizes(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.baseline_size is None:
        args.baseline_size = (64, 64) if args.quick else (1024, 1024)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.tile is None:
        from invsteg.api import DEFAULT_TILE

        args.tile = DEFAULT_TILE
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    for precision in args.precisions:
        if precision not in PRECISIONS:
            parser.error(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    from invsteg.zoo import get_spec

    for model in args.models:
        get_spec(model)  # fail fast on an unknown name
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.official_one:
        print(official_forward_s(args.official_one, args.official_side, args.threads), flush=True)
        return 0
    if args.one:
        result = run_one(Config(**json.loads(args.one)))
        print(RESULT_PREFIX + json.dumps(asdict(result)), flush=True)
        return 0

    limits = {model: float(mp) for model, mp in (item.split("=") for item in args.max_mp)}
    results, skipped = [], []
    for model in args.models:
        for width, height in args.sizes:
            for precision in args.precisions:
                megapixels = width * height / 1e6
                limit = limits.get(f"{model}:{precision}", limits.get(model, math.inf))
                if megapixels > limit or (precision == "bf16" and megapixels > args.bf16_max_mp):
                    skipped.append(f"{model} {width}x{height} {precision}")
                    continue
                config = Config(
                    model,
                    width,
                    height,
                    precision,
                    *args.baseline_size,
                    repeats=args.repeats,
                    budget_s=args.budget_s,
                    tile=args.tile,
                    threads=args.threads,
                )
                print(f"{model} {width}x{height} {precision} ...", end=" ", file=sys.stderr, flush=True)
                start = time.perf_counter()
                results.append(run_in_subprocess(config, args.timeout))
                status = results[-1].error or "done"
                print(f"{status} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
    cli = time_cli_help()
    imports = cli_import_check()
    section = render_section(results, args, cli, imports)
    if args.official:
        print("official HiNet comparison ...", file=sys.stderr, flush=True)
        comparison = compare_with_official(
            args.official, args.official_side, args.official_rounds, args.threads
        )
        section = section.replace("\n\nCLI: ", f"\n\n{official_line(comparison)}\n\nCLI: ")
    if skipped:
        note = f"Not run (too slow for this machine's time budget): {'; '.join(skipped)}."
        section = section.replace("\n" + END_MARKER, "\n\n" + note + "\n" + END_MARKER)
    print(section.replace(START_MARKER + "\n", "").replace("\n" + END_MARKER, ""))
    write_section(START_MARKER, END_MARKER, args.out, section)
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
