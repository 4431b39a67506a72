"""The value types of embed-file: its settings, its report and a cover's capacity.

See :mod:`invsteg.pipelines.embedding`, which uses them (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from invsteg.ops.quantize import finite_or_none
from invsteg.payload import DEFAULT_NSYM


@dataclass(frozen=True)
class EmbedSettings:
    """How :func:`~invsteg.pipelines.embedding.embed_file` draws the latents and runs its
    verify loop.

    Only ``nsym`` is part of the format (extraction must use the same); extraction reads
    signs only, so everything else may change between releases. The defaults were chosen by
    measuring the trained models on the val split: see benchmarks/results.md, "embed-file
    settings".
    """

    # Carriers are drawn from N(0, 1) restricted to alpha < |z| < ceiling (None: no ceiling;
    # the paper: |z| > 0.1, none). The margin protects a sign against 8-bit rounding; the
    # ceiling cuts the far tails, whose saturated colours leave the sRGB gamut and get clipped.
    alpha: float = 0.6
    ceiling: float | None = 1.6
    # Render-and-verify passes at most, the first included.
    max_rounds: int = 8
    # Accept a pass when a real extraction of it gives the container back and its worst
    # codeword uses at most this share of the correction capacity (nsym // 2 bytes); the rest
    # is margin for float differences between machines and the odd changed pixel.
    accept_share: float = 0.5
    # A read latent counts as right only this far beyond zero: another device, thread count
    # or torch version moves z' by ~1e-5 (float32).
    read_margin: float = 0.01
    # Rounding flips (colour not clipped): the wrong latents' magnitude times this factor, up
    # to this magnitude (a 4-sigma latent is still one the network has seen in training).
    strengthen_factor: float = 1.5
    strengthen_max_abs: float = 4.0
    # Blocks whose colour was clipped (most flips, see docs/design.md): their latents' magnitude
    # beyond the margin (non-carriers: all of it) times this, pulling the colour toward the
    # model's typical one, inside the gamut.
    shrink_factor: float = 0.5
    # A block failing this many rounds has no in-gamut colour to spare at its lightness (near
    # black or white): from then on its L is pulled into [lift_dark k, 100 - lift_bright k] at
    # the k-th failure. Extraction reads the stego's own L, so this costs only visible change.
    lift_after: int = 2
    lift_dark: float = 10.0
    lift_bright: float = 5.0
    # Carriers are drawn this many at a time (bounded float64 temporaries).
    latent_chunk: int = 1 << 22
    # Reed-Solomon parity bytes per 255-byte codeword (part of the format).
    nsym: int = DEFAULT_NSYM

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {self.max_rounds}")
        if not 0.0 <= self.accept_share <= 1.0:
            raise ValueError(f"accept_share must be in [0, 1], got {self.accept_share}")
        if self.latent_chunk < 1:
            raise ValueError(f"latent_chunk must be >= 1, got {self.latent_chunk}")


@dataclass(frozen=True)
class EmbedReport:
    """What :func:`~invsteg.pipelines.embedding.embed_file` did.

    Per pass (one render and one verify read), in order: ``bit_errors`` (signs read back
    wrong), ``weak_bits`` (wrong or within ``read_margin`` of zero) and ``codeword_errors``
    (wrong bytes, weak bits counted wrong, in the worst codeword that extraction decodes).
    For the returned pass: ``worst_codeword`` (that count), ``bit_accuracy``, ``exact``
    (every bit reads back), ``clipped_pixels`` and ``lifted_pixels``. ``accepted``: the
    returned pass met the acceptance rule (else it is the best pass and error correction
    still repairs it); ``correctable`` is ``nsym // 2``; ``psnr_db`` of stego vs cover,
    ``inf`` if they are identical.
    """

    width: int
    height: int
    carriers: int
    capacity_bytes: int
    payload_bytes: int
    rounds: int
    bit_errors: tuple[int, ...]
    weak_bits: tuple[int, ...]
    codeword_errors: tuple[int, ...]
    worst_codeword: int
    correctable: int
    accepted: bool
    bit_accuracy_first: float
    bit_accuracy: float
    exact: bool
    clipped_pixels: int
    lifted_pixels: int
    psnr_db: float

    def summary(self) -> dict[str, Any]:
        """The fields that describe the embedding itself, JSON-ready (the CLI's ``--json``):
        per-pass counts as lists, ``psnr_db`` None when infinite."""
        return {
            "capacity_bytes": self.capacity_bytes,
            "carriers": self.carriers,
            "rounds": self.rounds,
            "bit_errors": list(self.bit_errors),
            "weak_bits": list(self.weak_bits),
            "codeword_errors": list(self.codeword_errors),
            "worst_codeword": self.worst_codeword,
            "correctable": self.correctable,
            "accepted": self.accepted,
            "bit_accuracy_first": self.bit_accuracy_first,
            "bit_accuracy": self.bit_accuracy,
            "exact": self.exact,
            "clipped_pixels": self.clipped_pixels,
            "lifted_pixels": self.lifted_pixels,
            "psnr_db": finite_or_none(self.psnr_db),
        }


@dataclass(frozen=True)
class Capacity:
    """What a cover holds (see :func:`~invsteg.pipelines.embedding.capacity`).

    ``latents``: all latents of the image; ``carriers``: those that carry a bit, in
    ``channels``; ``container_bytes``: what remains after Reed-Solomon parity; ``net_bytes``:
    what remains after the header, integrity or encryption fields and the stored name
    (costing ``file_name_bytes``); ``bpp``: ``8 * net_bytes / (W H)``.
    """

    width: int
    height: int
    latents: int
    carriers: int
    channels: tuple[int, ...]
    nsym: int
    encrypted: bool
    file_name_bytes: int
    container_bytes: int
    net_bytes: int
    bpp: float
