"""Why invsteg's robust files fail where they do in ``robust_channel.py``'s grid.

For each stego of that benchmark (read from its cache, embedded if missing) and each attack
that invsteg does not always survive, the load on Reed-Solomon of the coded bits read on
the embedding grid at the embedding step: the worst 255-byte codeword's
``(2 wrong + erased bytes) / parity bytes``, above 1 not decodable even if the decoder were
told where the erasures are (it is not, today). Read twice:

- **as attacked**: the grid stretched over the attacked image, as the extractor reads it;
- **oracle**: a reader that knows what the attack did and undoes it: a crop's cells are read
  where they were (the bits with a cell outside the crop are erased), a rotation is turned
  back, a brightness or contrast change is undone by the affine map that best takes the
  attacked cell means to the stego's. What a synchronising or gain-invariant reader could
  at best reach on this layout.

Writes its section of ``benchmarks/results.md``::

    OMP_NUM_THREADS=1 python benchmarks/robust_channel_why.py --val ../data/val
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from statistics import median

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks import robust_channel as rc  # noqa: E402
from benchmarks.results_file import command_line, publish  # noqa: E402

from invsteg.ops import distortions as dist  # noqa: E402
from invsteg.payload import spread  # noqa: E402
from invsteg.payload.ecc import bits_to_bytes  # noqa: E402
from invsteg.pipelines import robust_files  # noqa: E402

START, END = "<!-- robust_channel_why:start -->", "<!-- robust_channel_why:end -->"
CODEWORD = 255


def codeword_load(right: np.ndarray, erased: np.ndarray, nsym: int) -> float:
    """``max over 255-byte codewords of (2 wrong + erased bytes) / nsym`` for per-bit
    ``right`` and ``erased`` flags of one Reed-Solomon coded stream."""
    erased_bytes = np.frombuffer(bits_to_bytes(erased.astype(np.uint8)), np.uint8) > 0
    wrong_bytes = (np.frombuffer(bits_to_bytes((~right).astype(np.uint8)), np.uint8) > 0) & ~erased_bytes
    cost = (2 * wrong_bytes + erased_bytes).astype(np.int64)
    return float(np.add.reduceat(cost, np.arange(0, cost.size, CODEWORD)).max()) / nsym


def segment_erasures(segment: spread.Segment, lost_cells: np.ndarray) -> np.ndarray:
    """Per bit of ``segment``: whether any of its cells is lost (a flat bool over all cells)."""
    lost = np.bincount(segment.owner, lost_cells[segment.cells].astype(np.float64), minlength=segment.bits)
    return lost > 0


def load(message: spread.Message, means: np.ndarray, step: float, lost_cells: np.ndarray) -> float:
    """The worse of the head's and the body's :func:`codeword_load`."""
    out = 0.0
    for segment, bits, nsym in (
        (message.head, message.head_bits, spread.HEAD_NSYM),
        (message.body, message.body_bits, spread.BODY_NSYM),
    ):
        right = segment.read(means, step) == bits
        out = max(out, codeword_load(right, segment_erasures(segment, lost_cells), nsym))
    return out


def grid_means(pixels: np.ndarray, grid: robust_files.Grid) -> np.ndarray:
    h, w = pixels.shape[:2]
    return robust_files.cell_means(robust_files.luma(pixels), grid.axes(w, h))


def affine_undone(attacked: np.ndarray, reference: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """``attacked`` cell means mapped back by the least-squares ``a x + b`` that takes the
    ``reference`` means to them (fitted on the ``usable`` cells)."""
    a, b = np.polyfit(reference[usable], attacked[usable], 1)
    return (attacked - b) / a


def crop_read(stego: np.ndarray, keep: float, grid: robust_files.Grid) -> tuple[np.ndarray, np.ndarray]:
    """Oracle for a centre crop: the crop pasted back where it was; ``(means, lost cells)``,
    a cell lost unless every pixel of it is inside the crop."""
    h, w = stego.shape[:2]
    cropped = dist.real_center_crop(stego, keep)
    top, left = (h - cropped.shape[0]) // 2, (w - cropped.shape[1]) // 2
    canvas = np.zeros_like(stego)
    canvas[top : top + cropped.shape[0], left : left + cropped.shape[1]] = cropped
    ay, ax = grid.axes(w, h)

    def inside(starts: np.ndarray, pixels: int, start: int, length: int) -> np.ndarray:
        last = np.append(starts[1:], pixels) - 1  # each cell's last pixel
        return (starts >= start) & (last < start + length)

    kept = np.outer(inside(ay.starts, h, top, cropped.shape[0]), inside(ax.starts, w, left, cropped.shape[1]))
    return grid_means(canvas, grid), ~kept.reshape(-1)


Oracle = Callable[[np.ndarray, robust_files.Grid], tuple[np.ndarray, np.ndarray]]


def oracles(stego_means: np.ndarray) -> dict[str, Oracle]:
    """attack name -> (stego, grid) -> oracle ``(means, lost cells)``."""
    none = np.zeros(stego_means.size, bool)

    def photometric(attack: Callable[[np.ndarray], np.ndarray]) -> Oracle:
        def read(stego: np.ndarray, grid: robust_files.Grid) -> tuple[np.ndarray, np.ndarray]:
            means = grid_means(attack(stego), grid)
            return affine_undone(means, stego_means, ~none), none

        return read

    def rotated(deg: float) -> Oracle:
        return lambda stego, grid: (
            grid_means(dist.real_rotate(dist.real_rotate(stego, deg), -deg), grid),
            none,
        )

    def cropped(keep: float) -> Oracle:
        return lambda stego, grid: crop_read(stego, keep, grid)

    def combination(stego: np.ndarray, grid: robust_files.Grid) -> tuple[np.ndarray, np.ndarray]:
        h, w = stego.shape[:2]
        attacked = rc.combination(stego)
        top, left = (h - attacked.shape[0]) // 2, (w - attacked.shape[1]) // 2
        canvas = np.zeros_like(stego)
        canvas[top : top + attacked.shape[0], left : left + attacked.shape[1]] = attacked
        _, lost = crop_read(stego, 0.5, grid)
        means = affine_undone(grid_means(canvas, grid), stego_means, ~lost)
        return means, lost

    out: dict[str, Oracle] = {f"crop {k:g}": cropped(k) for k in (0.9, 0.7, 0.5)}
    out |= {f"rotate {d}°": rotated(d) for d in (1, 2, 5)}
    for f in (0.7, 1.3, 1.5):
        out[f"brightness {f:g}"] = photometric(lambda img, f=f: dist.real_brightness(img, f))
        out[f"contrast {f:g}"] = photometric(lambda img, f=f: dist.real_contrast(img, f))
    out["JPEG 80 + crop 0.5 + brightness 1.5"] = combination
    return out


def probes() -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Smaller disturbances than the grid's, to tell what in a failing attack does the harm."""
    return {
        "shift 1 px right (probe)": lambda img: np.roll(img, 1, axis=1),
        "every sample +1 level (probe)": lambda img: np.clip(img.astype(np.int16) + 1, 0, 255).astype(
            np.uint8
        ),
        "every sample -1 level (probe)": lambda img: np.clip(img.astype(np.int16) - 1, 0, 255).astype(
            np.uint8
        ),
    }


ATTACKS = (
    "JPEG Q60",
    "JPEG Q50",
    "JPEG Q40",
    "resize 0.5",
    "resize 0.32",
    "chat 0.75x, Q62",
    "crop 0.9",
    "crop 0.7",
    "crop 0.5",
    "rotate 1°",
    "rotate 2°",
    "rotate 5°",
    "brightness 0.7",
    "brightness 1.3",
    "brightness 1.5",
    "contrast 0.7",
    "contrast 1.3",
    "contrast 1.5",
    "JPEG 80 + crop 0.5 + brightness 1.5",
    *probes(),
)


def loads(method: rc.InvstegRobust, embedded: rc.Embedded) -> dict[str, tuple[float, float | None]]:
    """attack -> (load as attacked, oracle load or None) for one stego."""
    grid = robust_files.Grid(*embedded.facts["grid"])
    message, step = method.message(embedded), embedded.facts["step"]
    stego_means = grid_means(embedded.stego, grid)
    none = np.zeros(grid.cells, bool)
    attacks, undo = rc.attack_grid() | probes(), oracles(stego_means)
    out = {}
    for name in ATTACKS:
        attacked = load(message, grid_means(attacks[name](embedded.stego), grid), step, none)
        oracle = undo[name](embedded.stego, grid) if name in undo else None
        out[name] = (attacked, None if oracle is None else load(message, oracle[0], step, oracle[1]))
    return out


def kept_share(embedded: rc.Embedded, method: rc.InvstegRobust, keep: float) -> float:
    """Share of the body's coded bits whose cells all survive a centre crop."""
    grid = robust_files.Grid(*embedded.facts["grid"])
    _, lost = crop_read(embedded.stego, keep, grid)
    return float(1 - segment_erasures(method.message(embedded).body, lost).mean())


def moved_share(cell_px: float, width: int, height: int, degrees: float) -> float:
    """Share of cells whose centre a rotation about the image centre moves by under a
    quarter of a cell (the rest are read mostly from a neighbour's pixels)."""
    y, x = np.mgrid[0:height:cell_px, 0:width:cell_px]
    radius = np.hypot(y - height / 2, x - width / 2)
    return float((2 * radius * math.sin(math.radians(degrees) / 2) < cell_px / 4).mean())


def summary(values: Sequence[float]) -> str:
    return f"{median(values):.2f} ({sum(v <= 1 for v in values)}/{len(values)})"


Stegos = list[tuple[rc.Embedded, dict[str, tuple[float, float | None]]]]


def collect(method: rc.InvstegRobust, covers: Sequence[tuple[str, np.ndarray]], cache: rc.Cache) -> Stegos:
    """Each cover's cached stego (embedded now if missing) and its :func:`loads`."""
    out = []
    for name, cover in covers:
        rc.run_case(method, name, cover, {"none": rc.attack_grid()["none"]}, cache)
        _, embedded = cache.load(method, name)
        assert embedded is not None, "the cache keeps what run_case made"
        out.append((embedded, loads(method, embedded)))
    return out


def layout_facts(method: rc.InvstegRobust, stegos: Stegos) -> str:
    """The layout's numbers that say why crops and rotations fail, medians over covers."""
    cell = median(e.facts["cell_px"] for e, _ in stegos)
    step = median(e.facts["step"] for e, _ in stegos)
    kept = {k: median(kept_share(e, method, k) for e, _ in stegos) for k in (0.9, 0.7, 0.5)}
    moved = {d: moved_share(cell, *rc.COVER_SIZE, d) for d in (1, 2, 5)}
    return (
        f"{method.key}: cells of {cell:.1f} px, step {step:.2f} levels; body bits with every cell "
        "inside a crop: "
        + ", ".join(f"{100 * v:.0f}% at {k:g}" for k, v in kept.items())
        + "; cells a rotation moves by under a quarter cell: "
        + ", ".join(f"{100 * v:.0f}% at {d}°" for d, v in moved.items())
    )


def table(columns: dict[str, Stegos]) -> list[str]:
    head = "| attack | " + " | ".join(f"{k}: as attacked | {k}: oracle" for k in columns) + " |"
    lines = [head, "|---|" + "---:|" * (2 * len(columns))]
    for attack in ATTACKS:
        row = []
        for stegos in columns.values():
            row.append(summary([r[attack][0] for _, r in stegos]))
            oracle = [r[attack][1] for _, r in stegos]
            row.append("" if oracle[0] is None else summary([v for v in oracle if v is not None]))
        lines.append(f"| {attack} | " + " | ".join(row) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--sizes", default="8,256,1024")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/robust_channel_cache"))
    parser.add_argument("--no-publish", action="store_true")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results.md")
    args = parser.parse_args(argv)
    covers = rc.load_covers(args.val, args.limit)
    cache = rc.Cache(args.cache)
    methods = [rc.InvstegRobust(int(s)) for s in args.sizes.split(",")]
    columns = {m.key: collect(m, covers, cache) for m in methods}
    facts = [layout_facts(m, columns[m.key]) for m in methods]
    lines = [
        START,
        f"## Why invsteg's robust files fail in the channel grid, val split ({date.today()})",
        "",
        f"`OMP_NUM_THREADS=1 {command_line(__file__)}`: the stegos of `robust_channel.py` (same covers, "
        "same files). Each cell: the median over covers of the worst codeword's (2 wrong + erased "
        "bytes) / parity bytes when the coded bits are read on the embedding grid and step, and in "
        "brackets the covers where it is at most 1 (decodable). Oracle: the attack undone by a reader "
        "that knows it (crop pasted back, cells outside it erased; rotation turned back; the best "
        "affine map of the cell means undone); blank where there is nothing to undo. Probes: "
        "smaller disturbances than the grid's, to tell what does the harm.",
        "",
        *[f"- {fact}" for fact in facts],
        "",
        *table(columns),
        END,
    ]
    publish(START, END, args.results, lines, write=not args.no_publish)


if __name__ == "__main__":
    main()
