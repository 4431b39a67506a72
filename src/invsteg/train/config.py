"""Training configuration: one dataclass, stored inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class LossWeights:
    """Weights of the loss terms; each objective (``invsteg.train.objectives``) uses its own.

    Hiding (HiNet's terms, MSE on the 0..255 scale): ``guide`` stego vs cover,
    ``reconstruction`` revealed vs secret, ``low_frequency`` LL subbands of stego vs cover.
    Robust hiding adds ``enhance`` (restored vs clean stego), ``level`` (estimated vs applied
    distortion) and ``lost`` (predicted vs true lost part). Both hiding tasks can add
    ``pattern`` (the change's strongest sinusoids, :func:`~invsteg.train.losses.spectral_peaks`)
    and ``chroma`` (the change of R-G and B-G), off by default.
    Embedding: ``nll`` (nats per ab value); ``latent_error``, ``sign_margin`` and ``gamut``
    switch on the rounding-aware stage 2.
    Rescaling (IRN's terms): ``fit`` small image vs bicubic thumbnail, ``latent`` z to 0,
    ``reconstruction`` restored vs original.
    """

    guide: float = 3.0
    reconstruction: float = 1.0
    low_frequency: float = 1.0
    enhance: float = 0.5
    level: float = 10.0
    lost: float = 0.1
    pattern: float = 0.0
    chroma: float = 0.0
    nll: float = 1.0
    latent_error: float = 0.0
    sign_margin: float = 0.0
    gamut: float = 0.0
    fit: float = 4.0
    latent: float = 1.0


@dataclass
class TrainConfig:
    model: str = "hinet-small"
    model_config: dict[str, Any] = field(default_factory=dict)  # overrides of the spec's config
    init_weights: str | None = None  # start a new run from these safetensors (fine-tuning)
    # Parameters named with these prefixes may be missing from init_weights: a part the model
    # gains (e.g. "predictor.", a lost-part predictor), kept at its initialisation.
    init_new: tuple[str, ...] = ()
    freeze: tuple[str, ...] = ()  # parameters named with these prefixes stay fixed (e.g. "core.")
    train_dir: str = "../data/train"
    val_dir: str = "../data/val"
    out_dir: str = "runs/hinet-small"
    crop: int = 64
    batch: int = 8
    steps: int = 10_000
    lr: float = 2e-4
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    weight_decay: float = 0.0
    grad_clip: float = 50.0
    loss: LossWeights = field(default_factory=LossWeights)
    round_stego: bool = True  # straight-through 8-bit rounding of the stego
    ema_decay: float = 0.999
    scales: tuple[float, ...] = (1.0, 0.5, 0.25)  # image pyramid that crops are cut from
    val_every: int = 500
    val_crop: int = 256
    val_images: int = 12
    checkpoint_every: int = 250
    log_every: int = 25
    seed: int = 0
    # None: whichever trains faster here, timed at start-up (invsteg.train.speed); bf16 is
    # ~3x faster on CPUs with AMX, ~10x slower on AVX2 ones, channels_last varies too.
    bf16: bool | None = None
    channels_last: bool | None = None
    explode_factor: float = 20.0  # loss above this times its running median = explosion
    alpha: float = 0.1  # embedding: latents carry bits beyond +-alpha (the sign mapper's margin)
    margin: float = 0.5  # embedding stage 2: re-extracted latents should keep |z| > margin
    attacks: dict[str, Any] = field(default_factory=dict)  # robust: invsteg.ops.attacks.AttackConfig

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from JSON data; unknown fields (a typo, say) are a ValueError, not ignored."""
        _check_fields(cls, data)
        values = dict(data)
        if isinstance(values.get("loss"), dict):
            _check_fields(LossWeights, values["loss"])
            values["loss"] = LossWeights(**values["loss"])
        for name in ("scales", "freeze", "init_new"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


def _check_fields(cls: type, data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, not {type(data).__name__}")
    if unknown := sorted(set(data) - {f.name for f in fields(cls)}):
        raise ValueError(f"unknown {cls.__name__} fields {unknown}")
