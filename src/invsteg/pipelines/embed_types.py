"""The value types of embed-file: its settings, its report and a cover's capacity.

See :mod:`invsteg.pipelines.embedding`, which uses them (and re-exports them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from invsteg.ops.quantize import finite_or_none


@dataclass(frozen=True)
class EmbedSettings:
    """How :func:`~invsteg.pipelines.embedding.embed_file` steers the cover and when it
    accepts the result.

    Nothing here is part of the format (extraction reads signs only), so the values may
    change between releases; see benchmarks/results.md for how they were chosen.
    """

    # A carrier counts as right only this far past zero: another device, thread count or
    # torch version moves a latent by ~1e-5 (float32).
    margin: float = 5e-4
    # The steering's soft hinge pushes used carriers up to this far past zero: edits then
    # keep clear of carriers that read right but would tip over (see pipelines/steering.py).
    aim: float = 0.05
    # Steering rounds per pass (one encode, gradient and one-level step each).
    steer_rounds: int = 40
    # Passes at most: after each, carriers that would not settle are frozen ("wet") and the
    # matrix code picks other signs to change around them.
    max_rounds: int = 8
    # Accept when the worst Reed-Solomon codeword, weak carriers counted wrong, uses at most
    # this share of its correction capacity (the rest is margin for other machines).
    accept_share: float = 0.5

    def __post_init__(self) -> None:
        if self.max_rounds < 1 or self.steer_rounds < 1:
            raise ValueError("max_rounds and steer_rounds must be >= 1")
        if not 0.0 <= self.accept_share <= 1.0:
            raise ValueError(f"accept_share must be in [0, 1], got {self.accept_share}")
        if not 0.0 < self.margin <= self.aim:
            raise ValueError("need 0 < margin <= aim")


@dataclass(frozen=True)
class EmbedReport:
    """What :func:`~invsteg.pipelines.embedding.embed_file` did.

    ``flips``: carrier signs the message changed (after matrix coding); ``changed_samples``:
    colour samples (of ``3 W H``) that differ from the cover. Per pass, in order:
    ``wrong_carriers`` (read carriers still wrong or within the margin) and
    ``correction_used`` (the largest share of its correction capacity any Reed-Solomon
    codeword would spend, weak carriers counted wrong; 1 or more fails); ``steer_rounds`` in
    all. ``accepted``: the result met the acceptance rule (else it is the
    best pass and error correction still repairs it); ``exact``: every read carrier is right;
    ``psnr_db`` of stego vs cover, ``inf`` if identical.
    """

    width: int
    height: int
    carriers: int
    capacity_bytes: int
    safe_bytes: int
    payload_bytes: int
    used_carriers: int
    flips: int
    changed_samples: int
    rounds: int
    steer_rounds: int
    wrong_carriers: tuple[int, ...]
    correction_used: tuple[float, ...]
    accepted: bool
    exact: bool
    psnr_db: float

    def summary(self) -> dict[str, Any]:
        """The fields that describe the embedding itself, JSON-ready (the command line's JSON output):
        per-pass counts as lists, ``psnr_db`` None when infinite."""
        return {
            "capacity_bytes": self.capacity_bytes,
            "safe_bytes": self.safe_bytes,
            "carriers": self.carriers,
            "used_carriers": self.used_carriers,
            "flips": self.flips,
            "changed_samples": self.changed_samples,
            "rounds": self.rounds,
            "steer_rounds": self.steer_rounds,
            "wrong_carriers": list(self.wrong_carriers),
            "correction_used": list(self.correction_used),
            "accepted": self.accepted,
            "exact": self.exact,
            "psnr_db": finite_or_none(self.psnr_db),
        }


@dataclass(frozen=True)
class Capacity:
    """What a cover holds (see :func:`~invsteg.pipelines.embedding.capacity`).

    ``latents``: all latents of the image; ``carriers``: those that carry a bit, in
    ``channels``; ``container_bytes``: what remains after Reed-Solomon parity; ``net_bytes``:
    what remains after the header, integrity or encryption fields and the stored name
    (costing ``file_name_bytes``); ``bpp``: ``8 * net_bytes / (W H)``; ``safe_bytes``: the
    largest file whose stegos the steganalysis benchmark could not tell from clean photos
    (P_E >= 0.4; see ``SAFE_BPP`` in :mod:`invsteg.pipelines.embedding`).
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
    safe_bytes: int
