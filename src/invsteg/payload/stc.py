"""Syndrome-trellis codes at any rate: ``k`` message bits as the syndrome of ``n >= k``
carrier bits, embedded at (near) the least total flip cost by the Viterbi algorithm.

Filler, Judas and Fridrich, "Minimizing additive distortion in steganography using
syndrome-trellis codes" (IEEE TIFS 2011). Payload format 3's code (format 2's fixed-width
code is :mod:`invsteg.payload.trellis`). The layout of ``n`` carriers for ``k`` bits
(:func:`plan`) is a pure function of the two sizes, so a reader recomputes it:

- **Groups.** At low rates the carriers are taken ``g`` at a time into *super-carriers*:
  a super-carrier's bit is the XOR of its group's bits, and flipping it flips the group's
  cheapest member. ``g`` is chosen so that about ``WIDTH`` super-carriers serve each message
  bit, so the trellis's work grows with the message, not with the image; the optimal
  embedding at a low rate changes only cheap carriers anyway, so little is lost (measured in
  ``tests/test_stc.py`` against the rate-distortion bound).
- **Chunks.** The message is cut into ``K`` chunks of ``q`` bits (zero-padded), each an
  independent trellis over ``a`` consecutive super-carriers; chunks run side by side in
  numpy, so no Python loop runs per carrier of the image.
- **Blocks.** Within a chunk, message bit ``i`` owns the super-carriers
  ``floor(i a / q) .. floor((i + 1) a / q)``; the ``j``-th of them is column ``j`` of a
  fixed ``h x W`` matrix ``Ĥ`` whose bit ``r`` adds to message bit ``i + r``.

``Ĥ`` comes from SHA-256 of a fixed label, so it is the same everywhere forever. Pure numpy:
``bits`` 0/1 ``uint8``, ``costs`` finite floats >= 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

WIDTH = 8  # super-carriers per message bit aimed at when carriers are grouped
CHUNK_BITS = 256  # message bits per independent trellis, at most: more side by side
MAX_COST = 1e6  # costs are clipped here: a float32 path sum must not lose small costs
_BACKPOINTER_BYTES = 64 << 20  # memory for one group of chunks' decisions


@dataclass(frozen=True)
class Plan:
    """How ``carriers`` carriers hold ``bits`` message bits (see the module docstring)."""

    carriers: int
    bits: int
    group: int  # g: carriers per super-carrier
    chunks: int  # K
    chunk_bits: int  # q
    chunk_carriers: int  # a: super-carriers per chunk

    @property
    def used(self) -> int:
        """Carriers read (a prefix): whole groups of whole chunks."""
        return self.chunks * self.chunk_carriers * self.group


def plan(carriers: int, bits: int) -> Plan | None:
    """The layout of ``bits`` message bits over ``carriers`` carriers, or None if they do not
    fit (rate above 1 after padding)."""
    if bits < 1 or carriers < 1:
        return None
    group = max(1, carriers // (bits * WIDTH))
    supers = carriers // group
    chunks = -(-bits // CHUNK_BITS)
    chunk_bits = -(-bits // chunks)
    chunk_carriers = supers // chunks
    if chunk_carriers < chunk_bits:
        return None
    return Plan(carriers, bits, group, chunks, chunk_bits, chunk_carriers)


def submatrix(height: int, width: int) -> np.ndarray:
    """``Ĥ``'s columns as ``height``-bit integers ``(width,)``: each has its first and last
    row set (so every block reaches the next ``height`` message bits), distinct while
    ``width <= 2 ** (height - 2)``."""
    if not 2 <= height <= 16:
        raise ValueError(f"height must be in 2..16, got {height}")
    distinct = 1 << (height - 2)
    columns: list[int] = []
    counter = 0
    while len(columns) < width:
        digest = hashlib.sha256(f"invsteg/stc3/h{height}/w{width}/{counter}".encode()).digest()
        for word in np.frombuffer(digest, dtype="<u2"):
            column = (int(word) & ((1 << height) - 1)) | 1 | (1 << (height - 1))
            if (column not in columns or len(columns) >= distinct) and len(columns) < width:
                columns.append(column)
        counter += 1
    return np.array(columns, dtype=np.int64)


def _block_layout(p: Plan, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per super-carrier position in a chunk: its block ``(a,)`` and column value ``(a,)``;
    and each block's first position ``(q,)``."""
    starts = (np.arange(p.chunk_bits, dtype=np.int64) * p.chunk_carriers) // p.chunk_bits
    block = np.repeat(np.arange(p.chunk_bits), np.diff(np.append(starts, p.chunk_carriers)))
    position = np.arange(p.chunk_carriers) - starts[block]
    columns = submatrix(height, int(position.max()) + 1)
    return block, columns[position], starts


def _supers(bits: np.ndarray, p: Plan) -> np.ndarray:
    """Super-carrier bits ``(K, a)``: the XOR of each group."""
    grouped = np.asarray(bits[: p.used], dtype=np.uint8).reshape(-1, p.group)
    return np.bitwise_xor.reduce(grouped, axis=1).reshape(p.chunks, p.chunk_carriers)


def extract(bits: np.ndarray, count: int, height: int) -> np.ndarray:
    """The ``count`` message bits carried by ``bits`` ``(carriers,)``, ``(count,)`` uint8.

    Raises:
        ValueError: ``count`` bits do not fit ``bits.size`` carriers.
    """
    bits = np.asarray(bits).reshape(-1)
    p = plan(bits.size, count)
    if p is None:
        raise ValueError(f"{count} bits do not fit {bits.size} carriers")
    _, column, starts = _block_layout(p, height)
    contributions = _supers(bits, p).astype(np.int64) * column
    syndromes = np.bitwise_xor.reduceat(contributions, starts, axis=1)  # (K, q): each block's
    message = np.zeros_like(syndromes)
    for row in range(min(height, p.chunk_bits)):  # block i's bit `row` lands on message bit i + row
        message[:, row:] ^= (syndromes[:, : p.chunk_bits - row] >> row) & 1
    return message.reshape(-1)[:count].astype(np.uint8)


def embed(bits: np.ndarray, costs: np.ndarray, message: np.ndarray, height: int) -> np.ndarray:
    """Which carriers to flip so that ``extract(bits ^ flips, message.size, height) ==
    message``, at the least total cost the trellis finds; ``(carriers,)`` bool.

    Args:
        bits: ``(n,)`` 0/1, the cover's carrier bits.
        costs: ``(n,)`` finite >= 0, the cost of flipping each carrier.
        message: ``(k,)`` 0/1.
        height: the trellis's constraint height ``h`` (``2 ** h`` states).

    Raises:
        ValueError: the message does not fit, or the shapes disagree.
    """
    bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
    costs = np.asarray(costs, dtype=np.float64).reshape(-1)
    message = np.asarray(message, dtype=np.uint8).reshape(-1)
    if costs.shape != bits.shape:
        raise ValueError(f"bits {bits.shape} and costs {costs.shape} differ")
    if not np.all(costs >= 0):
        raise ValueError("costs must be >= 0 (and not NaN)")
    p = plan(bits.size, message.size)
    if p is None:
        raise ValueError(f"{message.size} bits do not fit {bits.size} carriers")
    grouped = np.minimum(costs[: p.used], MAX_COST).reshape(-1, p.group)
    cheapest = np.argmin(grouped, axis=1)
    super_costs = grouped[np.arange(grouped.shape[0]), cheapest].reshape(p.chunks, p.chunk_carriers)
    cover = _supers(bits, p)
    padded = np.zeros(p.chunks * p.chunk_bits, dtype=np.uint8)
    padded[: message.size] = message
    wanted = padded.reshape(p.chunks, p.chunk_bits)
    per_chunk = max(1, 8 * _BACKPOINTER_BYTES // (p.chunk_carriers << height))
    stego = np.empty_like(cover)
    layout = _block_layout(p, height)
    for first in range(0, p.chunks, per_chunk):
        part = slice(first, first + per_chunk)
        stego[part] = _viterbi(cover[part], super_costs[part], wanted[part], layout, height)
    flipped_supers = np.flatnonzero((stego != cover).reshape(-1))
    flips = np.zeros(bits.size, dtype=bool)
    flips[flipped_supers * p.group + cheapest[flipped_supers]] = True
    return flips


def _viterbi(
    cover: np.ndarray,
    costs: np.ndarray,
    wanted: np.ndarray,
    layout: tuple[np.ndarray, np.ndarray, np.ndarray],
    height: int,
) -> np.ndarray:
    """The cheapest stego super-carrier bits ``(C, a)`` for ``C`` chunks side by side.

    States are the ``h`` pending syndrome bits, laid out ``(2^h, C)`` so that a column's XOR
    moves whole rows. Each step keeps, per state, the cheaper of "this carrier's stego bit
    is 0" and "is 1", and stores that choice packed 8 to a byte; at a block's end the states
    whose lowest bit is not the message bit die and the rest shift down.
    """
    block, column, starts = layout
    chunks, steps = cover.shape
    states = 1 << height
    half = states // 2
    ends = np.zeros(steps, dtype=bool)
    ends[np.append(starts[1:], steps) - 1] = True
    # what stego bit 0 and stego bit 1 cost: the flip's cost on the one that differs from the
    # cover's bit (kept apart, not as one signed difference: a float32 running sum of
    # differences of large costs would drown the small ones)
    flip = costs.astype(np.float32).T
    bit = cover.T.astype(bool)
    cost_zero = np.where(bit, flip, 0).astype(np.float32)  # (a, C)
    cost_one = np.where(bit, 0, flip).astype(np.float32)
    rows = {int(c): np.arange(states) ^ int(c) for c in np.unique(column)}
    decisions = np.empty((steps, -(-states * chunks // 8)), dtype=np.uint8)  # flat: fastest to pack
    path = np.full((states, chunks), np.inf, dtype=np.float32)
    path[0] = 0.0
    moved = np.empty_like(path)
    chose = np.empty((states, chunks), dtype=bool)
    for t in range(steps):
        np.take(path, rows[int(column[t])], axis=0, out=moved)
        moved += cost_one[t]
        path += cost_zero[t]
        np.less(moved, path, out=chose)
        decisions[t] = np.packbits(chose.reshape(-1))
        np.minimum(path, moved, out=path)
        if ends[t]:
            bit = wanted[:, block[t]].astype(bool)
            pairs = path.reshape(half, 2, chunks)
            kept = np.where(bit, pairs[:, 1, :], pairs[:, 0, :])
            kept -= kept.min(axis=0)
            path[:half] = kept
            path[half:] = np.inf
    state = np.argmin(path[:half], axis=0).astype(np.int64)
    lane = np.arange(chunks)
    out = np.empty((chunks, steps), dtype=np.uint8)
    for t in range(steps - 1, -1, -1):
        if ends[t]:
            state = 2 * state + wanted[:, block[t]]
        flat = state * chunks + lane
        y = (decisions[t, flat >> 3] >> (7 - (flat & 7))) & 1
        out[:, t] = y
        state ^= y.astype(np.int64) * column[t]
    return out
