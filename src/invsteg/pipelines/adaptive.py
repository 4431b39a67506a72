"""embed-file's default: a file in the colour samples' values (payload format 3).

    cover -(costs: HILL per channel)-> rho
    file -(parity.seal)-> parts (public salt, head, 4 body segments)
         -(stc.embed per part, in order)-> samples to change -(+-1 each)-> stego

    stego -(residues)-> parity.open_samples -> file

Each change is +-1 on one 8-bit sample, never out of 0..255. The syndrome-trellis codes
choose which samples change under the cost; in the ternary body they choose the direction
too (it is part of the message), in the binary public part and head either direction flips
the parity and the cheaper one is taken. Parts are written one after another, and under the
``*-colour`` and ``*-cmd`` costs a change in the direction already taken around a sample
costs ``SYNC_DISCOUNT`` times less there: by its pixel's other channels when those were in an
earlier part (``colour``), and by its four neighbours, which lie in earlier segments
(``cmd``), so that local smoothness moves less (Li et al., "A strategy of clustering
modification directions", 2015). Reading needs neither the cost nor any model, only integer
arithmetic, and never imports torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from invsteg.errors import InputFileError
from invsteg.ops.costs import hill_rgb
from invsteg.ops.quantize import finite_or_none, psnr
from invsteg.payload import parity
from invsteg.payload.container import RandomBytes, Unpacked
from invsteg.payload.errors import EmbeddingFailedError
from invsteg.payload.stc import Unreachable

COSTS = ("hill", "hill-colour", "hill-cmd")
DEFAULT_COST = "hill-cmd"
# How much cheaper a change is where it agrees with the changes around it (CMD's alpha).
SYNC_DISCOUNT = 9.0
MIN_SIDE = 16
# The largest payload (bits per pixel) at which every detector the steganalysis benchmark ran
# stayed at P_E >= 0.40 (benchmarks/results.md, "Steganalysis"; `python -m
# benchmarks.steganalysis`): 0.05 bpp (SPAM + colour differences 0.401, model-aware 0.466 on
# 200 covers; the colour rich model was too slow to run, see the note there).
SAFE_BPP = 0.05

__all__ = ["COSTS", "DEFAULT_COST", "AdaptiveReport", "capacity_bytes", "embed_file", "extract_file"]


@dataclass(frozen=True)
class AdaptiveReport:
    """What :func:`embed_file` did: ``changed_samples`` of the ``3 W H`` colour samples moved
    by one level; ``psnr_db`` of stego vs cover (``inf`` if identical)."""

    width: int
    height: int
    cost: str
    capacity_bytes: int
    safe_bytes: int
    payload_bytes: int
    changed_samples: int
    psnr_db: float

    def summary(self) -> dict[str, Any]:
        """JSON-ready fields (for the CLI's JSON output)."""
        return {
            "format": parity.FORMAT_VERSION_3,
            "cost": self.cost,
            "capacity_bytes": self.capacity_bytes,
            "safe_bytes": self.safe_bytes,
            "changed_samples": self.changed_samples,
            "changed_share": self.changed_samples / (3 * self.width * self.height),
            "psnr_db": finite_or_none(self.psnr_db),
        }


def _check_image(pixels: np.ndarray, role: str) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise InputFileError(
            f"the {role} must be an (H, W, 3) uint8 image, got {pixels.shape} {pixels.dtype}"
        )
    if min(pixels.shape[:2]) < MIN_SIDE:
        raise InputFileError(
            f"the {role} is {pixels.shape[1]}x{pixels.shape[0]} pixels; at least {MIN_SIDE} on each side"
        )


def capacity_bytes(width: int, height: int, *, file_name: str = "", encrypted: bool = True) -> int:
    """Net file bytes a ``width x height`` cover holds (exact: one more does not fit unless it
    compresses)."""
    return parity.capacity_bytes((height, width), file_name=file_name, encrypted=encrypted)


def safe_bytes(width: int, height: int, net_bytes: int) -> int:
    """The safe size of a ``width x height`` cover: ``SAFE_BPP`` of it, at most the capacity."""
    return min(net_bytes, int(SAFE_BPP * width * height / 8))


def _costs_of(cost: str, pixels: np.ndarray) -> np.ndarray:
    if cost not in COSTS:
        raise ValueError(f"cost must be one of {', '.join(COSTS)}, got {cost!r}")
    return hill_rgb(pixels).reshape(-1)


def _spread(
    around: np.ndarray, changed: np.ndarray, direction: np.ndarray, width: int, spatial: bool
) -> None:
    """Add the changes ``direction`` (+-1) of the samples ``changed`` (flat indices) to
    ``around`` ``(3 H W,)``: to their pixel's other channels and, if ``spatial``, to their four
    neighbours in the same channel; so ``sign(around)`` is each sample's agreed direction."""
    pixel, channel = np.divmod(changed, 3)
    targets = [pixel * 3 + (channel + 1) % 3, pixel * 3 + (channel + 2) % 3]
    amounts = [direction, direction]
    if spatial:
        row, col = np.divmod(pixel, width)
        height = around.size // (3 * width)
        for inside, step in (
            (row > 0, -width),
            (row < height - 1, width),
            (col > 0, -1),
            (col < width - 1, 1),
        ):
            targets.append(changed[inside] + 3 * step)
            amounts.append(direction[inside])
    np.add.at(around, np.concatenate(targets), np.concatenate(amounts).astype(around.dtype))


def _write(
    part: parity.Part, value: np.ndarray, rho: np.ndarray, preferred: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The change (-1, 0, +1) of each of ``part``'s samples (``value``, with HILL costs ``rho``
    and agreed directions ``preferred``, 0 for none): a change in the agreed direction costs
    ``SYNC_DISCOUNT`` times less, and no sample leaves 0..255."""
    up = np.where(value < 255, rho, np.inf)
    down = np.where(value > 0, rho, np.inf)
    up[preferred > 0] /= SYNC_DISCOUNT
    down[preferred < 0] /= SYNC_DISCOUNT
    if part.modulus == 3:
        try:
            moves = parity.write_part(value, np.stack([up, down], axis=1), part)
        except Unreachable as exc:
            raise EmbeddingFailedError(f"this cover cannot hold the file: {exc}") from None
        return np.where(moves == 1, 1, np.where(moves == 2, -1, 0)).astype(np.int8)
    # binary: either direction flips the parity, so take the cheaper (a coin where equal)
    flips = parity.write_part(value, np.minimum(up, down), part) != 0
    coin = rng.integers(0, 2, size=value.size) == 1
    rise = (up < down) | ((up == down) & coin)
    return np.where(flips, np.where(rise, 1, -1), 0).astype(np.int8)


def embed_file(
    cover: np.ndarray,
    data: bytes,
    *,
    file_name: str = "",
    passphrase: str | None = None,
    cost: str = DEFAULT_COST,
    kdf_level: int = parity.DEFAULT_KDF_LEVEL,
    random_bytes: RandomBytes = os.urandom,
) -> tuple[np.ndarray, AdaptiveReport]:
    """Hide ``data`` in ``cover`` ``(H, W, 3)`` uint8; the stego ``(H, W, 3)`` uint8 and a report.

    The stego is verified before it is returned: every part reads back from its parities.
    ``cost``: one of ``COSTS``; ``kdf_level``: the passphrase's Argon2id cost
    (``parity.KDF_LEVELS``), stored in the stego.

    Raises:
        InputFileError: the cover is not an RGB image of at least ``MIN_SIDE`` pixels a side.
        PayloadTooLargeError: the file does not fit.
    """
    _check_image(cover, "cover")
    shape = cover.shape[:2]
    rho = _costs_of(cost, cover)
    sealed = parity.seal(
        data,
        shape=shape,
        file_name=file_name,
        passphrase=passphrase,
        kdf_level=kdf_level,
        random_bytes=random_bytes,
    )
    values = cover.reshape(-1).astype(np.int16)
    around = np.zeros(values.size, dtype=np.int16)
    rng = np.random.default_rng(np.frombuffer(random_bytes(16), dtype=np.uint32))
    sync, spatial = cost != "hill", cost == "hill-cmd"
    for part in sealed.parts:
        positions = part.positions
        value = values[positions]
        preferred = np.sign(around[positions]).astype(np.int8) if sync else np.zeros(positions.size, np.int8)
        direction = _write(part, value, rho[positions], preferred, rng)
        changed = np.flatnonzero(direction)
        flipped, direction = positions[changed], direction[changed]
        values[flipped] += direction
        if sync:
            _spread(around, flipped, direction, shape[1], spatial)
    for part in sealed.parts:  # what the reader will read: never assumed
        read = parity.read_part(values, part.positions, part.symbols.size, part.modulus)
        if not np.array_equal(read, part.symbols):
            raise EmbeddingFailedError("internal error: a written part does not read back")
    stego = values.astype(np.uint8).reshape(cover.shape)
    room = capacity_bytes(shape[1], shape[0], file_name=file_name, encrypted=passphrase is not None)
    report = AdaptiveReport(
        width=shape[1],
        height=shape[0],
        cost=cost,
        capacity_bytes=room,
        safe_bytes=safe_bytes(shape[1], shape[0], room),
        payload_bytes=len(data),
        changed_samples=int(np.count_nonzero(stego != cover)),
        psnr_db=psnr(cover, stego),
    )
    return stego, report


def extract_file(stego: np.ndarray, *, passphrase: str | None = None) -> Unpacked:
    """The file :func:`embed_file` hid in ``stego`` ``(H, W, 3)`` uint8.

    Raises:
        NoPayloadError: none found (or the passphrase is wrong).
        PassphraseNotExpectedError, PayloadCorruptedError (the stego is damaged),
        PayloadTamperedError, UnsupportedVersionError: never wrong data.
    """
    _check_image(stego, "stego")
    return parity.open_samples(stego, passphrase=passphrase)
