"""Robust files (embed-file in robust mode): a file in an image's luminance that survives
JPEG and resizing.

Channel (see docs/design.md, "Robust files")::

    cover -(luma)-> Y -(windowed means on a grid of cells tied to the image size)-> f
    file -(spread.seal)-> coded bits -(spread-transform dither modulation)-> change of f
         -(smooth bumps, more where the cover is busy, the same on R, G, B)-> stego

    stego (any size: cells are fractions of the image) --> f --> head (try grids, steps) --> file

The grid is a fraction of the image (``rows x cols`` cells over the whole picture), so a
resized stego is read on the same cells without knowing the scale. A cell's feature is its
luminance mean under a ``sin`` window, zero at the cell's edges: resampling filters mix
little of the neighbours into it, and the edit it reads is a smooth bump, not a block.
Embedding is a verify loop: the smallest quantiser step whose stego still reads back with
half the error correction to spare after JPEG at the target quality, a 0.75x resize, and
both. Nothing here imports torch.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from invsteg.errors import InputFileError, PayloadError
from invsteg.ops.distortions import check_jpeg_quality, decode_jpeg, encode_jpeg, real_downscale, real_jpeg
from invsteg.ops.quantize import psnr
from invsteg.payload import spread
from invsteg.payload.container import RandomBytes, Unpacked
from invsteg.payload.errors import (
    EmbeddingFailedError,
    NoPayloadError,
    PassphraseNotExpectedError,
    PayloadCorruptedError,
    PayloadTooLargeError,
)
from invsteg.payload.keyed import overhead_bytes as container_overhead
from invsteg.payload.sealed import PUBLIC_LOCATOR, SALT_LEN, locator_key

ROBUST_WIRE_ID = 16  # the header's model id for this channel (models use 1..15)
GRID_SIDES = (16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024, 1280)
DEFAULT_JPEG_QUALITY = 75
VERIFY_SCALE = 0.75
ACCEPT_SHARE = 0.5
WEIGHT_SPAN = 3.0
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class RobustSettings:
    """How the embedder trades invisibility for robustness.

    Attributes:
        jpeg_quality: the JPEG quality the verify loop attacks its own stego with.
        scales: the resizes it attacks it with (each alone and followed by that JPEG).
        cell: the largest cell side in pixels: the coarsest grid under it that the file
            fits is used (big cells survive smaller resizes), else finer, down to ``min_cell``.
        min_cell: the smallest cell side it embeds with.
        write_rounds: correction rounds after 8-bit rounding and clipping.
    """

    jpeg_quality: int = DEFAULT_JPEG_QUALITY
    cell: float = 16.0
    min_cell: float = 4.0
    write_rounds: int = 4
    scales: tuple[float, ...] = (VERIFY_SCALE,)


READ_MIN_CELL = 1.5  # the smallest cell extraction tries: a 4 px cell after a 0.4x resize
LIKELY_CELL = 8.0
WINDOW_POWER = 1.0  # the feature's window, sin(pi t) ** power: part of the format


# -- the grid ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Axis:
    """One axis of a grid over ``pixels`` pixels: each pixel's cell and window weight."""

    index: np.ndarray
    weight: np.ndarray
    starts: np.ndarray
    total: np.ndarray
    gain: np.ndarray

    @classmethod
    def build(cls, cells: int, pixels: int, power: float) -> _Axis:
        centre = (np.arange(pixels) + 0.5) * cells / pixels
        index = np.minimum(np.floor(centre).astype(np.int64), cells - 1)
        weight = np.sin(np.pi * (centre - index)) ** power
        starts = np.searchsorted(index, np.arange(cells))
        total = np.add.reduceat(weight, starts)
        # an edit of gain * d moves the cell's weighted mean by exactly d
        energy = np.add.reduceat(weight * weight, starts) / total
        return cls(index, weight, starts, total, weight / energy[index])


@dataclass(frozen=True)
class Grid:
    """``rows x cols`` cells over the whole image, whatever its size."""

    rows: int
    cols: int

    @classmethod
    def fitted(cls, width: int, height: int, long_side: int) -> Grid:
        short = max(1, math.floor(long_side * min(width, height) / max(width, height) + 0.5))
        return cls(short, long_side) if width >= height else cls(long_side, short)

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    @property
    def label(self) -> bytes:
        return struct.pack(">HH", self.rows, self.cols)

    def cell_size(self, width: int, height: int) -> float:
        return min(width / self.cols, height / self.rows)

    def axes(self, width: int, height: int, power: float = WINDOW_POWER) -> tuple[_Axis, _Axis]:
        return _Axis.build(self.rows, height, power), _Axis.build(self.cols, width, power)


def luma(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(H, W)`` float64 luminance (BT.601, as JPEG)."""
    return pixels.astype(np.float64) @ LUMA


def cell_means(y: np.ndarray, axes: tuple[_Axis, _Axis]) -> np.ndarray:
    """``(H, W)`` -> flat ``(rows * cols,)`` windowed means."""
    ay, ax = axes
    weighted = y * ay.weight[:, None] * ax.weight[None, :]
    sums = np.add.reduceat(np.add.reduceat(weighted, ay.starts, axis=0), ax.starts, axis=1)
    return (sums / np.outer(ay.total, ax.total)).reshape(-1)


def spread_change(change: np.ndarray, axes: tuple[_Axis, _Axis]) -> np.ndarray:
    """Flat ``(rows * cols,)`` mean changes -> ``(H, W)`` pixel edit that makes them."""
    ay, ax = axes
    grid = change.reshape(ay.total.size, ax.total.size)
    return grid[ay.index][:, ax.index] * ay.gain[:, None] * ax.gain[None, :]


def _cell_weights(y: np.ndarray, axes: tuple[_Axis, _Axis]) -> np.ndarray:
    """Flat per-cell shares of the change: more where the cover is busy (a mean absolute
    difference from the 3x3 mean), less on flat sky, and little where the luminance is
    near black or white, where clipping would swallow it."""
    padded = np.pad(y, 1, mode="edge")
    h, w = y.shape
    local = sum(padded[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0
    busy = cell_means(np.abs(y - local), axes)
    level = cell_means(y, axes)
    room = np.clip(np.minimum(level, 255.0 - level) / 16.0, 0.05, 1.0)
    weights = np.sqrt(busy + 0.5) * room
    typical = np.median(weights)  # bounded, so that no cell carries all of its bit's change
    return np.clip(weights, typical / WEIGHT_SPAN, typical * WEIGHT_SPAN)


# -- embedding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RobustReport:
    """What ``embed_file`` did. ``correction_used``: the worst codeword's share of its error
    correction after each verify attack (name -> share, below 1 extracts)."""

    width: int
    height: int
    grid: tuple[int, int]
    cell_px: float
    step: float
    cells_per_bit: float
    capacity_bytes: int
    payload_bytes: int
    attempts: int
    correction_used: dict[str, float]
    psnr_db: float


@dataclass(frozen=True)
class RobustStego:
    """The stego pixels and, for a JPEG output, the exact file bytes that were verified."""

    pixels: np.ndarray
    jpeg: bytes | None
    report: RobustReport


def _check_image(pixels: np.ndarray, role: str) -> None:
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise InputFileError(f"{role} must be an RGB 8-bit image")


def _usable_grids(width: int, height: int, settings: RobustSettings) -> list[Grid]:
    """The grids of :data:`GRID_SIDES` whose cells are at least ``settings.min_cell``."""
    grids = [Grid.fitted(width, height, side) for side in GRID_SIDES]
    return [g for g in grids if g.cell_size(width, height) >= settings.min_cell]


def _embedding_grids(width: int, height: int, settings: RobustSettings) -> list[Grid]:
    """Grids to embed on, best first: the coarsest with cells up to ``settings.cell``, then finer."""
    usable = _usable_grids(width, height, settings)
    return [g for g in usable if g.cell_size(width, height) <= settings.cell] or usable[-1:]


def capacity_bytes(
    width: int,
    height: int,
    *,
    file_name: str = "",
    encrypted: bool = True,
    settings: RobustSettings = RobustSettings(),
) -> int:
    """Net file bytes (before compression) the robust channel takes in a ``width x height`` image."""
    room = max((spread.max_blob_bytes(g.cells) for g in _usable_grids(width, height, settings)), default=0)
    return max(0, room - container_overhead(file_name, encrypted=encrypted))


def _write(
    cover: np.ndarray,
    message: spread.Message,
    axes: tuple[_Axis, _Axis],
    weights: np.ndarray,
    step: float,
    settings: RobustSettings,
) -> np.ndarray:
    """The 8-bit stego that carries ``message`` at ``step``, corrected after rounding;
    ``weights``: :func:`_cell_weights` of the cover on ``axes``."""
    edit = np.zeros(cover.shape[:2])
    stego = cover
    for _ in range(settings.write_rounds):
        change = message.change(cell_means(luma(stego), axes), step, weights)
        if np.abs(change).max(initial=0.0) < 0.05 * step:
            break
        edit += spread_change(change, axes)
        stego = np.clip(np.rint(cover + edit[..., None]), 0, 255).astype(np.uint8)
    return stego


def _attacked(stego: np.ndarray, quality: int, scales: tuple[float, ...]) -> dict[str, np.ndarray]:
    views = {"none": stego, f"jpeg{quality}": real_jpeg(stego, quality)}
    for scale in scales:
        small = real_downscale(stego, scale)
        views[f"resize{scale}"] = small
        views[f"resize{scale}+jpeg{quality}"] = real_jpeg(small, quality)
    return views


def _correction(pixels: np.ndarray, message: spread.Message, grid: Grid, step: float) -> float:
    h, w = pixels.shape[:2]
    return message.correction_used(cell_means(luma(pixels), grid.axes(w, h)), step)


def embed_file(
    cover: np.ndarray,
    data: bytes,
    *,
    file_name: str = "",
    passphrase: str | None = None,
    settings: RobustSettings = RobustSettings(),
    jpeg_output: int | None = None,
    locator: bytes | None = None,
    random_bytes: RandomBytes = os.urandom,
) -> RobustStego:
    """Hide ``data`` in ``cover`` so that it survives JPEG, resizing and noise.

    Args:
        cover: ``(H, W, 3)`` uint8.
        data: the file, up to :func:`capacity_bytes` (more if it compresses).
        passphrase: encrypt and key the layout (Argon2id); None: anyone can read it.
        settings: the target JPEG quality and the grid.
        jpeg_output: write the stego as a JPEG of this quality; the verify loop then
            checks the decoded JPEG, and :attr:`RobustStego.jpeg` holds its bytes.

    Returns:
        :class:`RobustStego`.

    Raises:
        PayloadTooLargeError: the file does not fit.
        EmbeddingFailedError: no step up to the largest survives the verify attacks.
    """
    _check_image(cover, "cover")
    check_jpeg_quality(settings.jpeg_quality)
    if jpeg_output is not None:
        check_jpeg_quality(jpeg_output)
    h, w = cover.shape[:2]
    encrypted = passphrase is not None
    room = capacity_bytes(w, h, file_name=file_name, encrypted=encrypted, settings=settings)
    locator = locator or locator_key(passphrase)
    salt = random_bytes(SALT_LEN)  # one salt, whichever grid the file ends up on
    fitted = 0
    for grid in _embedding_grids(w, h, settings):
        try:
            message = spread.seal(
                data,
                file_name=file_name,
                wire_id=ROBUST_WIRE_ID,
                passphrase=passphrase,
                cells=grid.cells,
                grid=grid.label,
                locator=locator,
                random_bytes=lambda n: salt[:n],
            )
        except PayloadTooLargeError:
            continue
        fitted += 1
        clean_before = False
        axes = grid.axes(w, h)
        weights = _cell_weights(luma(cover), axes)
        for attempt, step in enumerate(spread.STEPS, start=1):
            stego = _write(cover, message, axes, weights, step, settings)
            jpeg = encode_jpeg(stego, jpeg_output) if jpeg_output is not None else None
            written = decode_jpeg(jpeg) if jpeg is not None else stego
            used = {
                name: _correction(view, message, grid, step)
                for name, view in _attacked(written, settings.jpeg_quality, settings.scales).items()
            }
            if max(used.values()) <= ACCEPT_SHARE and _extracts(written, data, locator, encrypted):
                report = RobustReport(
                    width=w,
                    height=h,
                    grid=(grid.rows, grid.cols),
                    cell_px=grid.cell_size(w, h),
                    step=step,
                    cells_per_bit=(grid.cells - spread.head_cells(grid.cells)) / message.body_bits.size,
                    capacity_bytes=room,
                    payload_bytes=len(data),
                    attempts=attempt,
                    correction_used=used,
                    psnr_db=psnr(written, cover),
                )
                return RobustStego(written, jpeg, report)
            if used["none"] > ACCEPT_SHARE and clean_before:
                break  # the clean stego got worse as the step grew (clipping): try finer cells
            clean_before |= used["none"] <= ACCEPT_SHARE
    if not fitted:
        raise PayloadTooLargeError(
            f"the file is {len(data)} bytes but a {w}x{h} cover holds at most {room} bytes in robust mode "
            "(after header and error correction); use a larger cover or a smaller file"
        )
    raise EmbeddingFailedError(
        f"the file does not survive JPEG quality {settings.jpeg_quality} and a "
        f"{min(settings.scales, default=1):g}x resize in this cover even at the strongest setting; use a "
        "smaller file, a larger cover, a higher `jpeg_quality` or a larger `resize`"
    )


# -- extraction --------------------------------------------------------------------------------


def _reading_grids(width: int, height: int) -> list[Grid]:
    """Every grid a stego of this shape may have been made on (a resize changes the size,
    not the grid), with the neighbours of the rounded short side; the likeliest first
    (cells of about ``LIKELY_CELL`` px: what embedding makes, after a resize or none)."""
    out: list[Grid] = []
    for side in GRID_SIDES:
        base = Grid.fitted(width, height, side)
        for delta in (0, -1, 1):
            g = Grid(base.rows + delta, base.cols) if width >= height else Grid(base.rows, base.cols + delta)
            if g.rows >= 1 and g.cols >= 1 and g.cell_size(width, height) >= READ_MIN_CELL and g not in out:
                out.append(g)
    return sorted(out, key=lambda g: abs(math.log(g.cell_size(width, height) / LIKELY_CELL)))


def extract_file(stego: np.ndarray, *, passphrase: str | None = None) -> Unpacked:
    """The file a robust stego carries, after whatever JPEG or resizing it went through.

    Raises:
        NoPayloadError: none found (or a wrong passphrase).
        PassphraseNotExpectedError: a passphrase was given for an unencrypted payload.
        PayloadCorruptedError, PayloadTamperedError: found, but damaged beyond repair.
    """
    _check_image(stego, "stego")
    encrypted = passphrase is not None
    y = luma(stego)
    try:
        return _open_first(y, locator_key(passphrase), encrypted)
    except NoPayloadError:
        if encrypted and next(_heads(y, PUBLIC_LOCATOR), None) is not None:
            raise PassphraseNotExpectedError(
                "the payload is not encrypted, but a passphrase was given; extract without one"
            ) from None
        raise


def _extracts(stego: np.ndarray, data: bytes, locator: bytes, encrypted: bool) -> bool:
    """Whether a real extraction (grid search and all) of ``stego`` gives ``data`` back."""
    try:
        return _open_first(luma(stego), locator, encrypted).data == data
    except PayloadError:
        return False


def _open_first(y: np.ndarray, locator: bytes, encrypted: bool) -> Unpacked:
    """The file of the first head under ``locator`` whose body opens.

    Raises:
        NoPayloadError: no head.
        PayloadCorruptedError: heads, but no body that opens (the first one's error).
    """
    damaged: PayloadCorruptedError | None = None
    for means, head in _heads(y, locator):
        try:
            return spread.open_found(means, head, encrypted=encrypted)
        except PayloadCorruptedError as exc:  # a neighbouring step may read the head too
            damaged = damaged or exc
    if damaged is not None:
        raise damaged
    raise spread.no_payload(encrypted)


def _heads(y: np.ndarray, locator: bytes) -> Iterator[tuple[np.ndarray, spread.Found]]:
    """Each head found under ``locator``, on the likeliest grids first, with their means."""
    h, w = y.shape
    for grid in _reading_grids(w, h):
        means = cell_means(y, grid.axes(w, h))
        for head in spread.find_heads(means, locator=locator, grid=grid.label):
            yield means, head
