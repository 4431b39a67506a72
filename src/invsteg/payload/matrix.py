"""Cost-aware matrix embedding with binary Hamming codes: p bits in 2^p - 1 carrier signs.

The message is the *syndrome* of the signs, not the signs themselves (Crandall 1998;
Fridrich and Soukal, "Matrix embedding for large payloads", 2006). A block of ``2^p - 1``
signs ``y`` carries the p-bit number ``XOR of (j + 1) over the j with y_j = 1``. To make a
block carry a value, at most one sign must change (the one at index ``syndrome ^ value``),
or any pair whose indices XOR to the same value: of these ``2^(p-1)`` choices the cheapest
is taken, so flips land on the latents that cost least to change (their "costs", e.g. how
far from zero they are). Without coding one message bit changes a sign half the time; with
p = 4, 4 bits change at most one of 15 signs.

``p`` follows the payload: the largest p (up to a limit the caller sets) whose blocks still
fit the carriers, so a small file changes few signs, and a full cover falls back to p = 1
(one bit per sign, plain). An error in one read sign corrupts at most the p bits of its block.

Pure numpy: ``signs`` are 0/1 ``uint8`` (1 = positive), ``costs`` float, ``inf`` = wet (must
not change).
"""

from __future__ import annotations

import numpy as np

MAX_ORDER = 16


def block_size(order: int) -> int:
    """Carriers per block of a code of order p: ``2^p - 1``."""
    return (1 << order) - 1


def code_order(carriers: int, bits: int, limit: int = MAX_ORDER) -> int:
    """The largest order p (1..``limit``) whose blocks carry ``bits`` in ``carriers`` signs,
    or 0 if not even p = 1 (one bit per sign) fits."""
    for order in range(limit, 0, -1):
        if carriers // block_size(order) * order >= bits:
            return order
    return 0


def carriers_used(bits: int, order: int) -> int:
    """How many carriers (a prefix) a message of ``bits`` bits occupies at order p."""
    return -(-bits // order) * block_size(order)


def _blocks(signs: np.ndarray, bits: int, order: int) -> np.ndarray:
    """``(blocks, 2^p - 1)`` view of the carriers the message occupies."""
    used = carriers_used(bits, order)
    if used > signs.size:
        raise ValueError(f"{bits} bits at order {order} need {used} carriers, got {signs.size}")
    return signs[:used].reshape(-1, block_size(order))


def _syndromes(blocks: np.ndarray, order: int) -> np.ndarray:
    columns = np.arange(1, block_size(order) + 1, dtype=np.int64)
    return np.bitwise_xor.reduce(np.where(blocks != 0, columns, 0), axis=1)


def _values(bits: np.ndarray, order: int) -> np.ndarray:
    """Message bits -> one p-bit value per block (MSB first; the last block zero-padded)."""
    padded = np.zeros(-(-bits.size // order) * order, dtype=np.int64)
    padded[: bits.size] = bits
    weights = 1 << np.arange(order - 1, -1, -1, dtype=np.int64)
    return padded.reshape(-1, order) @ weights


def extract(signs: np.ndarray, bits: int, order: int) -> np.ndarray:
    """The ``bits`` message bits carried by ``signs`` ``(n,)`` 0/1 at order p, ``(bits,)`` uint8."""
    values = _syndromes(_blocks(np.asarray(signs), bits, order), order)
    shifts = np.arange(order - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1)[:bits]


def embed(signs: np.ndarray, costs: np.ndarray, message: np.ndarray, order: int) -> np.ndarray:
    """Which signs to flip so that ``extract(signs ^ flips, message.size, order) == message``
    at the least total cost (single flips and pairs).

    Args:
        signs: ``(n,)`` 0/1, the cover's signs.
        costs: ``(n,)`` float >= 0, the cost of flipping each; ``inf`` never flips.
        message: ``(k,)`` 0/1.
        order: p, with ``carriers_used(k, p) <= n``.

    Returns:
        ``(n,)`` bool flips. Blocks that cannot be satisfied without a wet sign are left as
        they are: :func:`extract` then differs there, which the caller checks.
    """
    message = np.asarray(message, dtype=np.uint8)
    blocks = _blocks(np.asarray(signs), message.size, order)
    size = block_size(order)
    block_costs = np.asarray(costs, dtype=np.float64)[: blocks.size].reshape(-1, size)
    needed = _syndromes(blocks, order) ^ _values(message, order)  # the column sum to flip
    flips = np.zeros(np.asarray(signs).size, dtype=bool)
    rows = np.flatnonzero(needed)
    if rows.size == 0:
        return flips
    need = needed[rows]
    cost = block_costs[rows]
    single = cost[np.arange(rows.size), need - 1]
    first = np.arange(1, size + 1, dtype=np.int64)[None, :]
    partner = first ^ need[:, None]  # 0 where first == need: that is the single flip
    partner_cost = np.take_along_axis(cost, np.maximum(partner, 1) - 1, axis=1)
    pair = np.where(partner > 0, cost + partner_cost, np.inf)
    best = pair.argmin(axis=1)
    use_pair = pair[np.arange(rows.size), best] < single
    ok = np.isfinite(np.where(use_pair, pair[np.arange(rows.size), best], single))
    base = rows * size
    chosen_single = (base + need - 1)[~use_pair & ok]
    flips[chosen_single] = True
    pair_rows = use_pair & ok
    flips[base[pair_rows] + best[pair_rows]] = True
    flips[base[pair_rows] + partner[pair_rows, best[pair_rows]] - 1] = True
    return flips
