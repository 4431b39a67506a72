"""Syndrome-trellis codes over GF(q), q = 2 or 3, at any rate: ``k`` message symbols as the
syndrome of ``n >= k`` carrier symbols, embedded at (near) the least total cost by the
Viterbi algorithm.

Filler, Judas and Fridrich, "Minimizing additive distortion in steganography using
syndrome-trellis codes" (IEEE TIFS 2011). Payload format 3's code (format 2's fixed-width
binary code is :mod:`invsteg.payload.trellis`). A carrier's symbol is its sample's value mod
q: with q = 2 a +-1 change flips it either way; with q = 3 +1 and -1 reach the two other
symbols, so the direction of each change carries information too (ternary embedding, up to
log2(3) bits per change). The layout of ``n`` carriers for ``k`` symbols (:func:`plan`) is a
pure function of the two sizes, so a reader recomputes it:

- **Groups.** At low rates the carriers are taken ``g`` at a time into *super-carriers*
  whose symbol is the sum of the group's (mod q); moving it by ``d`` moves the group's member
  that does so most cheaply. ``g`` is chosen so that about ``WIDTH`` super-carriers serve
  each message symbol, so the trellis's work grows with the message, not with the image.
- **Chunks.** The message is cut into ``K`` chunks of ``m`` symbols (zero-padded), each an
  independent trellis over ``a`` consecutive super-carriers; chunks run side by side in
  numpy, so no Python loop runs per carrier of the image.
- **Blocks.** Within a chunk, message symbol ``i`` owns the super-carriers
  ``floor(i a / m) .. floor((i + 1) a / m)``; the ``j``-th of them is column ``j`` of a fixed
  ``h x W`` matrix ``Ĥ`` whose row ``r`` adds to message symbol ``i + r``.

``Ĥ`` comes from SHA-256 of a fixed label, so it is the same everywhere forever. Pure numpy.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

WIDTH = 8  # super-carriers per message symbol aimed at when carriers are grouped
CHUNK_SYMBOLS = 256  # message symbols per independent trellis, at most: more side by side
MAX_COST = 1e6  # finite costs are clipped here: a float32 path sum must keep small costs
_DECISION_BYTES = 64 << 20  # memory for one group of chunks' decisions
MODULI = (2, 3)


class Unreachable(ValueError):
    """The carriers' allowed moves cannot carry the message (some may not move at all)."""


@dataclass(frozen=True)
class Plan:
    """How ``carriers`` carriers hold ``symbols`` message symbols (see the module docstring)."""

    carriers: int
    symbols: int
    group: int  # g: carriers per super-carrier
    chunks: int  # K
    chunk_symbols: int  # m
    chunk_carriers: int  # a: super-carriers per chunk

    @property
    def used(self) -> int:
        """Carriers read (a prefix): whole groups of whole chunks."""
        return self.chunks * self.chunk_carriers * self.group


def plan(carriers: int, symbols: int) -> Plan | None:
    """The layout of ``symbols`` message symbols over ``carriers`` carriers, or None if they
    do not fit (rate above 1 after padding)."""
    if symbols < 1 or carriers < 1:
        return None
    group = max(1, carriers // (symbols * WIDTH))
    supers = carriers // group
    chunks = -(-symbols // CHUNK_SYMBOLS)
    chunk_symbols = -(-symbols // chunks)
    chunk_carriers = supers // chunks
    if chunk_carriers < chunk_symbols:
        return None
    return Plan(carriers, symbols, group, chunks, chunk_symbols, chunk_carriers)


def _check(height: int, modulus: int) -> None:
    if modulus not in MODULI:
        raise ValueError(f"modulus must be one of {MODULI}, got {modulus}")
    if not 2 <= height <= 12 or modulus**height > 1 << 12:
        raise ValueError(f"height {height} is out of range for modulus {modulus}")


@lru_cache(maxsize=64)
def submatrix(height: int, width: int, modulus: int) -> np.ndarray:
    """``Ĥ``'s columns as digit vectors ``(width, height)`` in ``0..modulus-1``, each with its
    first and last digit nonzero (so every block reaches the next ``height`` symbols),
    distinct while there are enough such vectors."""
    _check(height, modulus)
    distinct = (modulus - 1) ** 2 * modulus ** (height - 2)
    columns: list[tuple[int, ...]] = []
    counter = 0
    while len(columns) < width:
        digest = hashlib.sha256(f"invsteg/stc/q{modulus}/h{height}/w{width}/{counter}".encode()).digest()
        for start in range(0, len(digest) - height + 1, height):
            digits = [byte % modulus for byte in digest[start : start + height]]
            digits[0] = digits[0] or 1
            digits[-1] = digits[-1] or modulus - 1
            column = tuple(digits)
            if (column not in columns or len(columns) >= distinct) and len(columns) < width:
                columns.append(column)
        counter += 1
    out = np.array(columns, dtype=np.int64)
    out.flags.writeable = False
    return out


def _block_layout(p: Plan, height: int, modulus: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per super-carrier position in a chunk: its block ``(a,)`` and column index into
    ``submatrix`` ``(a,)``; and each block's first position ``(m,)``."""
    starts = (np.arange(p.chunk_symbols, dtype=np.int64) * p.chunk_carriers) // p.chunk_symbols
    block = np.repeat(np.arange(p.chunk_symbols), np.diff(np.append(starts, p.chunk_carriers)))
    position = np.arange(p.chunk_carriers) - starts[block]
    return block, position, starts


def _supers(symbols: np.ndarray, p: Plan, modulus: int) -> np.ndarray:
    """Super-carrier symbols ``(K, a)``: each group's sum mod q."""
    grouped = np.asarray(symbols[: p.used], dtype=np.int64).reshape(-1, p.group)
    return (grouped.sum(axis=1) % modulus).reshape(p.chunks, p.chunk_carriers)


def extract(symbols: np.ndarray, count: int, height: int, modulus: int = 2) -> np.ndarray:
    """The ``count`` message symbols carried by ``symbols`` ``(carriers,)`` (each in
    ``0..modulus-1``), ``(count,)`` uint8.

    Raises:
        ValueError: ``count`` symbols do not fit ``symbols.size`` carriers.
    """
    symbols = np.asarray(symbols).reshape(-1)
    p = plan(symbols.size, count)
    if p is None:
        raise ValueError(f"{count} symbols do not fit {symbols.size} carriers")
    _, position, starts = _block_layout(p, height, modulus)
    columns = submatrix(height, int(position.max()) + 1, modulus)[position]  # (a, h)
    supers = _supers(symbols, p, modulus)
    # each block's sum of its carriers times their columns: (K, m, h)
    sums = np.add.reduceat(supers[:, :, None] * columns[None], starts, axis=1) % modulus
    message = np.zeros((p.chunks, p.chunk_symbols), dtype=np.int64)
    for row in range(min(height, p.chunk_symbols)):  # block i's row r lands on symbol i + r
        message[:, row:] += sums[:, : p.chunk_symbols - row, row]
    return (message % modulus).reshape(-1)[:count].astype(np.uint8)


def embed(
    symbols: np.ndarray,
    costs: np.ndarray,
    message: np.ndarray,
    height: int,
    modulus: int = 2,
    *,
    workers: int | None = None,
) -> np.ndarray:
    """By how much (mod q) to move each carrier's symbol so that the carriers carry
    ``message``, at the least total cost the trellis finds; ``(carriers,)`` uint8, 0 where a
    carrier stays.

    Args:
        symbols: ``(n,)`` the cover's carrier symbols, ``0..modulus-1``.
        costs: ``(n,)`` the cost of a flip (q = 2), or ``(n, q - 1)`` the cost of moving each
            carrier's symbol by ``1 .. q-1`` (q = 3: a +1 and a -1 change); >= 0, ``inf``
            where a move is not allowed (a sample at 0 or 255).
        message: ``(k,)`` in ``0..modulus-1``.
        height: the trellis's constraint height ``h`` (``q ** h`` states).
        workers: threads that solve groups of chunks side by side (the result is the same);
            ``None``: as many as this process may use CPUs.

    Raises:
        ValueError: the message does not fit, or the shapes disagree.
        Unreachable: the allowed moves cannot reach the message.
    """
    _check(height, modulus)
    symbols = np.asarray(symbols, dtype=np.int64).reshape(-1)
    costs = np.asarray(costs, dtype=np.float64).reshape(symbols.size, modulus - 1)
    message = np.asarray(message, dtype=np.int64).reshape(-1)
    if not np.all(costs >= 0):
        raise ValueError("costs must be >= 0 (and not NaN)")
    p = plan(symbols.size, message.size)
    if p is None:
        raise ValueError(f"{message.size} symbols do not fit {symbols.size} carriers")
    costs = np.where(np.isinf(costs), np.inf, np.minimum(costs, MAX_COST))
    grouped = costs[: p.used].reshape(-1, p.group, modulus - 1)
    cheapest = np.argmin(grouped, axis=1)  # (supers, q - 1): which member moves by d
    super_costs = np.take_along_axis(grouped, cheapest[:, None, :], axis=1)[:, 0, :]
    # move costs indexed by increment 0 .. q-1 (0: stay): (K, a, q)
    moves = np.concatenate([np.zeros((super_costs.shape[0], 1)), super_costs], axis=1)
    moves = moves.reshape(p.chunks, p.chunk_carriers, modulus)
    cover = _supers(symbols, p, modulus)
    padded = np.zeros(p.chunks * p.chunk_symbols, dtype=np.int64)
    padded[: message.size] = message
    wanted = padded.reshape(p.chunks, p.chunk_symbols)
    stego = np.empty_like(cover)
    layout = _block_layout(p, height, modulus)

    def solve(part: slice) -> None:
        stego[part] = _viterbi(cover[part], moves[part], wanted[part], layout, height, modulus)

    workers = workers or _usable_cpus()
    parts = _chunk_groups(p.chunks, p.chunk_carriers * modulus**height, workers)
    if workers == 1 or len(parts) == 1:
        for part in parts:
            solve(part)
    else:  # numpy releases the GIL inside each step's array operations
        with ThreadPoolExecutor(min(workers, len(parts))) as pool:
            list(pool.map(solve, parts))
    increments = ((stego - cover) % modulus).reshape(-1)
    moved = np.flatnonzero(increments)
    out = np.zeros(symbols.size, dtype=np.uint8)
    out[moved * p.group + cheapest[moved, increments[moved] - 1]] = increments[moved]
    return out


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _chunk_groups(chunks: int, decision_bytes_per_chunk: int, workers: int) -> list[slice]:
    """Chunks cut into groups whose decisions fit ``_DECISION_BYTES``, at least ``workers``
    groups when there are that many chunks."""
    per_group = max(1, _DECISION_BYTES // decision_bytes_per_chunk)
    per_group = min(per_group, -(-chunks // max(1, workers)))
    return [slice(first, first + per_group) for first in range(0, chunks, per_group)]


@lru_cache(maxsize=64)
def _sources(height: int, modulus: int, width: int) -> np.ndarray:
    """``(width, q, S)``: for column ``c`` and stego symbol ``z``, the state each state ``s``
    came from (``s - z * column``, digit by digit); digit 0 is the pending message symbol."""
    states = modulus**height
    digits = (np.arange(states)[:, None] // modulus ** np.arange(height)) % modulus  # (S, h)
    weights = modulus ** np.arange(height)
    columns = submatrix(height, width, modulus)
    out = np.empty((width, modulus, states), dtype=np.int64)
    for c, column in enumerate(columns):
        for z in range(modulus):
            out[c, z] = ((digits - z * column) % modulus) @ weights
    out.flags.writeable = False
    return out


def _viterbi(
    cover: np.ndarray,
    moves: np.ndarray,
    wanted: np.ndarray,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
    height: int,
    modulus: int,
) -> np.ndarray:
    """The cheapest stego super-carrier symbols ``(C, a)`` for ``C`` chunks side by side.

    States are the ``h`` pending syndrome digits, laid out ``(C, q^h)``. Each step gathers,
    for every state, the states each stego symbol comes from (one flat gather for all chunks
    and symbols: a gather along rows would loop over them), keeps the cheapest and stores that
    choice; at a block's end the states whose lowest digit is not the message symbol die and
    the rest shift down. Costs are kept as sums of the moves made (not as signed differences:
    a float32 running sum of large differences would drown small ones).
    """
    block, position, starts = layout
    chunks, steps = cover.shape
    states = modulus**height
    kept_states = states // modulus
    ends = np.zeros(steps, dtype=bool)
    ends[np.append(starts[1:], steps) - 1] = True
    sources = _sources(height, modulus, int(position.max()) + 1)
    lane = np.arange(chunks)
    # chunk c's state s, reached by symbol z >= 1, comes from flat index c * S + source: (W, (q-1) C S)
    flat = ((lane[:, None] * states)[None, None] + sources[:, 1:, None, :]).reshape(sources.shape[0], -1)
    # cost of stego symbol z at step t: the move from the cover's symbol, (a, q, C, 1)
    z = np.arange(modulus)
    increment = (z[None, :, None] - cover.T[:, None, :]) % modulus
    symbol_costs = np.take_along_axis(moves.transpose(1, 2, 0), increment, axis=1).astype(np.float32)
    symbol_costs = np.ascontiguousarray(symbol_costs[..., None])
    decisions = np.empty((steps, chunks, states), dtype=np.uint8)
    path = np.full((chunks, states), np.inf, dtype=np.float32)
    path[:, 0] = 0.0
    candidates = np.empty((modulus, chunks, states), dtype=np.float32)
    moved = candidates[1:].reshape(-1)
    better = np.empty((chunks, states), dtype=bool)
    for t in range(steps):
        choice = decisions[t]
        candidates[0] = path
        np.take(path.reshape(-1), flat[position[t]], out=moved, mode="clip")  # in range: no check
        candidates += symbol_costs[t]
        np.less(candidates[1], candidates[0], out=better)
        np.copyto(choice, better, casting="unsafe")
        np.minimum(candidates[0], candidates[1], out=path)
        for symbol in range(2, modulus):
            np.less(candidates[symbol], path, out=better)
            np.copyto(choice, symbol, where=better)
            np.minimum(path, candidates[symbol], out=path)
        if ends[t]:
            kept = path.reshape(chunks, kept_states, modulus)[lane, :, wanted[:, block[t]]]
            floor = kept.min(axis=1, keepdims=True)
            kept -= np.where(np.isfinite(floor), floor, 0)
            path[:, :kept_states] = kept
            path[:, kept_states:] = np.inf
    if not np.isfinite(path[:, :kept_states].min(axis=1)).all():
        raise Unreachable("no allowed moves carry this message (too many carriers cannot move)")
    state = np.argmin(path[:, :kept_states], axis=1)
    out = np.empty((chunks, steps), dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        if ends[t]:
            state = wanted[:, block[t]] + modulus * state
        symbol = decisions[t, lane, state]
        out[:, t] = symbol
        state = sources[position[t]][symbol, state]
    return out
