"""Syndrome-trellis codes: k message bits as the syndrome of ``w k`` carrier signs, embedded
at (near) the least total cost by the Viterbi algorithm.

Filler, Judas and Fridrich, "Minimizing additive distortion in steganography using
syndrome-trellis codes" (IEEE TIFS 2011). The parity-check matrix ``H`` (k x wk) is a
fixed h x w submatrix ``Ĥ`` repeated down its diagonal, one row lower per block of w
columns, cut off at the bottom. Message bit i is the XOR of the carrier signs that ``H``'s
row i selects, so a sign only touches the h message bits from its block on: a wrong sign
corrupts at most h consecutive bits. Among all ``2^((w-1)k)`` sign vectors with the right
syndrome, the Viterbi search over the ``2^h`` partial syndromes finds the cheapest; at rate
1/w it changes far fewer signs per bit than a Hamming code reading as many carriers.
Messages are cut into chunks of ``CHUNK`` bits, each its own trellis over its own carriers,
so memory and time grow linearly.

``Ĥ`` comes from SHA-256 of a fixed label, so it is the same on every machine forever (a
stego's format). Pure numpy: ``signs`` 0/1 ``uint8``, ``costs`` float, ``inf`` = never flip.
"""

from __future__ import annotations

import hashlib

import numpy as np

HEIGHT = 7  # h: 128 trellis states; the paper's codes gain little beyond 7-10
CHUNK = 4096  # message bits per independent trellis
GROUP = 16  # chunks searched side by side: 16 * 4096 * w * 128 bytes of back-pointers
MAX_WIDTH = 8


def submatrix(width: int) -> np.ndarray:
    """``Ĥ``'s columns as h-bit integers ``(width,)`` (bit r = row r): distinct, each with its
    first and last row set, so every block can reach every message bit (the paper's rule)."""
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"width must be in 1..{MAX_WIDTH}, got {width}")
    stream = hashlib.sha256(f"invsteg/stc/h{HEIGHT}/w{width}".encode()).digest()
    columns: list[int] = []
    for byte in stream:
        column = (byte & ((1 << HEIGHT) - 1)) | 1 | (1 << (HEIGHT - 1))
        if column not in columns:
            columns.append(column)
        if len(columns) == width:
            return np.array(columns, dtype=np.int64)
    raise AssertionError("the digest ran out of distinct columns")  # not for width <= MAX_WIDTH


def carriers_used(bits: int, width: int) -> int:
    """Carriers (a prefix) a message of ``bits`` bits reads at rate ``1 / width``."""
    return bits * width


def _chunks(bits: int) -> list[tuple[int, int]]:
    """``(first bit, bits)`` of each independent trellis: ``CHUNK`` message bits each (the
    last one shorter), so memory and time stay linear and bounded."""
    return [(start, min(CHUNK, bits - start)) for start in range(0, bits, CHUNK)]


def extract(signs: np.ndarray, bits: int, width: int) -> np.ndarray:
    """The ``bits`` message bits carried by ``signs`` (its first ``bits * width``), ``(bits,)`` uint8."""
    signs = np.asarray(signs)
    used = carriers_used(bits, width)
    if used > signs.size:
        raise ValueError(f"{bits} bits at width {width} need {used} carriers, got {signs.size}")
    columns = submatrix(width)
    out = np.zeros(bits, dtype=np.uint8)
    for start, size in _chunks(bits):
        y = signs[start * width : (start + size) * width].reshape(size, width).astype(np.int64)
        syndrome = np.zeros(size + HEIGHT, dtype=np.int64)
        for row in range(HEIGHT):
            # block i's column j adds its bit ``row`` to message bit i + row
            syndrome[row : row + size] ^= np.bitwise_xor.reduce(y & ((columns >> row) & 1), axis=1)
        out[start : start + size] = syndrome[:size]
    return out


def embed(signs: np.ndarray, costs: np.ndarray, message: np.ndarray, width: int) -> np.ndarray:
    """Which signs to flip so that ``extract(signs ^ flips, message.size, width) == message``,
    at the least total cost the trellis finds.

    Args:
        signs: ``(n,)`` 0/1, the cover's signs; ``n >= message.size * width``.
        costs: ``(n,)`` float >= 0, the cost of flipping each; ``inf`` never flips.
        message: ``(k,)`` 0/1.
        width: w, the carriers per message bit.

    Returns:
        ``(n,)`` bool flips (only among the first ``k * width``).

    Raises:
        ValueError: a chunk cannot be embedded without changing an ``inf`` carrier.
    """
    signs = np.asarray(signs)
    message = np.asarray(message, dtype=np.int64)
    costs = np.asarray(costs, dtype=np.float64)
    flips = np.zeros(signs.size, dtype=bool)
    # whole chunks side by side (the Python loop runs once per carrier of a chunk, not of the
    # message), in groups that bound the memory of the back-pointers; the short last alone
    for first, chunks, bits in _groups(message.size):
        span = slice(first * width, (first + chunks * bits) * width)
        rows = (chunks, bits * width)
        flips[span] = _viterbi(
            signs[span].reshape(rows),
            costs[span].reshape(rows),
            message[first : first + chunks * bits].reshape(chunks, bits),
            width,
        ).reshape(-1)
    return flips


def _groups(bits: int) -> list[tuple[int, int, int]]:
    """``(first bit, chunks, bits per chunk)``: up to ``GROUP`` whole chunks at a time, then
    the short last one alone."""
    whole = bits // CHUNK
    out = [(start * CHUNK, min(GROUP, whole - start), CHUNK) for start in range(0, whole, GROUP)]
    if bits % CHUNK:
        out.append((whole * CHUNK, 1, bits % CHUNK))
    return out


def _viterbi(signs: np.ndarray, costs: np.ndarray, message: np.ndarray, width: int) -> np.ndarray:
    """Independent trellises side by side: ``(chunks, bits * width)`` signs and costs,
    ``(chunks, bits)`` message -> the cheapest ``(chunks, bits * width)`` flips."""
    chunks, bits = message.shape
    x = signs.astype(np.int64).reshape(chunks, bits, width)
    rho = costs.reshape(chunks, bits, width)
    keep_cost = np.where(x == 1, rho, 0.0)  # not rho * x: inf * 0 is nan
    flip_cost = np.where(x == 0, rho, 0.0)
    columns = submatrix(width)
    states = np.arange(1 << HEIGHT)
    half = 1 << (HEIGHT - 1)
    lanes = np.arange(chunks)
    cost = np.full((chunks, states.size), np.inf)
    cost[:, 0] = 0.0
    take = np.zeros((bits, width, chunks, states.size), dtype=bool)  # y = 1 into each state
    walls = np.full((chunks, half), np.inf)
    for i in range(bits):
        for j in range(width):
            keep = cost + keep_cost[:, i, j, None]  # y = 0
            flip = cost[:, states ^ columns[j]] + flip_cost[:, i, j, None]  # y = 1
            take[i, j] = flip < keep
            cost = np.where(take[i, j], flip, keep)
        # message bit i is the state's lowest bit; then the window moves one row down
        low = np.take_along_axis(cost, 2 * states[None, :half] + message[:, i, None], axis=1)
        cost = np.concatenate([low, walls], axis=1)
    state = np.argmin(cost, axis=1)
    if not np.isfinite(cost[lanes, state]).all():
        raise ValueError("every way to embed the message changes a carrier that must not change")
    y = np.zeros((chunks, bits, width), dtype=np.int64)
    for i in range(bits - 1, -1, -1):
        state = 2 * state + message[:, i]
        for j in range(width - 1, -1, -1):
            chosen = take[i, j, lanes, state]
            y[:, i, j] = chosen
            state = state ^ (chosen * columns[j])
    return (y != x).reshape(chunks, -1)
