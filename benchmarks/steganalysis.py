"""Steganalysis of ``invsteg embed-file``: how well an attacker tells its stegos from covers.

Covers are 256x256 crops, cut without resampling, from the photos in ``../data/{train,val}``
(up to ``--per-photo`` non-overlapping crops a photo, each keeping its photo's id). Every
embedder hides the same payload, counted in bits per pixel of the RGB image (net file bytes):

- ``invsteg``: ``invsteg.api.embed_file`` with a passphrase (the normal, encrypted use) and
  a random file of ``round(bpp * H * W / 8)`` bytes; ``max`` is 100% of the capacity that
  ``invsteg.api.capacity`` reports for the cover;
- ``hill``: HILL's cost (equal to conseal's) and the payload-limited sender's optimal +-1
  change rates, simulated, the same total bits split evenly over R, G and B; ``hill-joint``
  the same over all channels as one message; ``hill-conseal`` conseal's own simulator, whose
  payload search stops short on smooth covers (it embeds less there than asked);
- ``lsbm``: conseal's LSB matching (+-1, permuted, no matrix embedding), split evenly.

Detectors are hand-crafted features with sealwatch's FLD ensemble (Kodovsky et al. 2012):
``spam_rgb`` (SPAM-686 on R, G, B), ``spam_rgb_diff`` (plus SPAM on R-G and B-G), ``crm``
(sealwatch's colour rich model, if one image takes under ``--rich-limit`` seconds) and
``model_aware``: an attacker who has invsteg's public model reads the latents extraction reads
and looks at the distribution of ``|z|`` (embed-file draws carriers away from zero).

Each detector is trained on the cover/stego pairs of half of the photos and tested on the
other half (all crops of a photo on one side), over ``--repeats`` random splits; ``P_E`` is
``min over thresholds of (P_FA + P_MD) / 2`` of the ensemble's vote on the test half. Stegos,
features and timings are cached per (embedder, payload) under ``--cache``, so rerunning the
table is cheap. The table goes to the ``steganalysis`` section of ``benchmarks/results.md``,
the plot to ``docs/steganalysis_pe.png``::

    python -m benchmarks.steganalysis     # 400 covers: ~2.5 h on 1 thread, + 2000 invsteg embeddings
    python -m benchmarks.steganalysis --covers 40 --payloads 0.1,max --no-publish

Needs the ``steganalysis`` extra and sealwatch without its dependencies (it requires
torchvision, which its features never use; a stub stands in for it here)::

    pip install -e '.[steganalysis]' && pip install --no-deps 'sealwatch>=2025.9'
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import time
import types
import warnings
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `benchmarks.results_file`, also as `python benchmarks/steganalysis.py`

from benchmarks.results_file import command_line, publish  # noqa: E402

RESULTS = REPO / "benchmarks" / "results.md"
PLOT = REPO / "docs" / "steganalysis_pe.png"
START, END = "<!-- steganalysis:start -->", "<!-- steganalysis:end -->"

SIZE = 256
PASSPHRASE = "steganalysis benchmark"
EMBEDDERS = (
    "format3-hill",
    "format3-hill-colour",
    "format3-hill-cmd",
    "invsteg",
    "hill",
    "hill-joint",
    "hill-conseal",
    "lsbm",
)
DETECTORS = ("spam_rgb", "spam_rgb_diff", "crm", "model_aware")
RICH = frozenset({"crm"})  # detectors measured first and skipped when too slow
HIST_BINS, HIST_MAX = 30, 3.0
CHECKPOINT_S = 300.0  # save embedding work in progress this often
OK, NO_FIT, FAILED = "ok", "does not fit", "failed"


# -- covers ------------------------------------------------------------------------------------


@dataclass
class Covers:
    """``pixels`` ``(N, S, S, 3)`` uint8 crops; ``sources[i]`` the photo crop ``i`` comes from,
    ``positions[i]`` its ``(top, left)`` there; ``key`` names this exact set in the cache."""

    pixels: np.ndarray
    sources: list[str]
    positions: list[tuple[int, int]]
    key: str


def crop_positions(height: int, width: int, size: int, limit: int) -> list[tuple[int, int]]:
    """Up to ``limit`` ``(top, left)`` of non-overlapping ``size`` crops of a photo.

    The crops lie on a ``size``-pixel grid centred in the photo (no resampling, no overlap);
    with more grid cells than ``limit`` they are spread evenly over the cells in reading
    order, so a photo's crops show different parts of it. Deterministic.
    """
    rows, cols = height // size, width // size
    if rows == 0 or cols == 0 or limit <= 0:
        return []
    top0, left0 = (height - rows * size) // 2, (width - cols * size) // 2
    cells = rows * cols
    picked = sorted({round(i) for i in np.linspace(0, cells - 1, min(limit, cells))})
    return [(top0 + (c // cols) * size, left0 + (c % cols) * size) for c in picked]


def photo_order(paths: Sequence[Path]) -> list[Path]:
    """The photos in a fixed pseudo-random order (by a hash of the name), so that the first N
    crops mix the packages the photos come from instead of taking one package's photos."""
    return sorted(paths, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())


def load_covers(data: Path, split: str, count: int, per_photo: int, size: int = SIZE) -> Covers:
    """``count`` crops (fewer if the photos run out) from ``data/<split>/*.png``."""
    from invsteg.api import read_image

    splits = ("train", "val") if split == "both" else (split,)
    paths = photo_order([p for s in splits for p in (data / s).glob("*.png")])
    if not paths:
        raise SystemExit(f"no photos in {data}/{{{','.join(splits)}}}: run fetch_images.py first")
    crops, sources, positions = [], [], []
    for path in paths:
        if len(crops) >= count:
            break
        pixels = read_image(str(path), max_pixels=None).pixels
        for top, left in crop_positions(*pixels.shape[:2], size, min(per_photo, count - len(crops))):
            crops.append(pixels[top : top + size, left : left + size])
            sources.append(f"{path.parent.name}/{path.stem}")
            positions.append((top, left))
    stack = np.ascontiguousarray(np.stack(crops))
    digest = hashlib.sha256(stack.tobytes()).hexdigest()[:12]
    return Covers(stack, sources, positions, f"{len(crops)}x{size}-{digest}")


# -- payloads and embedders ---------------------------------------------------------------------


def parse_payloads(text: str) -> list[str]:
    """``0.05,0.1,max`` -> ``['0.05', '0.1', 'max']``; numbers are checked, kept as typed."""
    out = []
    for item in (part.strip() for part in text.split(",")):
        if item != "max" and not 0 < float(item) <= 24:
            raise argparse.ArgumentTypeError(f"payload {item!r} must be in (0, 24] bpp or 'max'")
        out.append(item)
    return out


def payload_bytes(bpp: float, height: int, width: int) -> int:
    """Net file bytes of ``bpp`` bits per pixel of an ``height x width`` image."""
    return round(bpp * height * width / 8)


def channel_rate(nbytes: int, height: int, width: int) -> float:
    """Bits per colour sample when ``nbytes`` are spread evenly over R, G and B."""
    return 8 * nbytes / (3 * height * width)


def stable_seed(*parts: object) -> int:
    """A seed from names and numbers, the same in every run and process."""
    return zlib.crc32("/".join(map(str, parts)).encode())


@dataclass
class Embedded:
    stego: np.ndarray | None
    status: str  # OK, NO_FIT or FAILED


Embedder = Callable[[np.ndarray, int, int], Embedded]


def embed_invsteg(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
    """``nbytes`` random bytes through ``invsteg.api.embed_file`` (encrypted), decoded back
    from the PNG it returns."""
    from invsteg import api
    from invsteg.payload import PayloadTooLargeError
    from invsteg.payload.errors import EmbeddingFailedError

    data = np.random.default_rng(seed).bytes(nbytes)
    try:
        png, _report = api.embed_file(cover, data, passphrase=PASSPHRASE, model=None)
    except PayloadTooLargeError:
        return Embedded(None, NO_FIT)
    except EmbeddingFailedError:
        return Embedded(None, FAILED)
    return Embedded(api.decode_image(png).pixels, OK)


def embed_hill_conseal(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
    """conseal's own HILL simulator (``conseal.hill.simulate_single_channel``), each channel at
    the same rate. Its payload search gives up early on smooth covers: there it embeds a
    fraction of the payload (down to about 3 % of it), so it looks stealthier than HILL is; kept to
    show that (docs/design.md, "embed-file format 3")."""
    import conseal

    rate = channel_rate(nbytes, *cover.shape[:2])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "optimization might not have converged", RuntimeWarning)
        channels = [
            conseal.hill.simulate_single_channel(np.ascontiguousarray(cover[..., c]), rate, seed=seed + c)
            for c in range(3)
        ]
    return Embedded(np.stack(channels, axis=-1).astype(np.uint8), OK)


def simulate_ternary(cover: np.ndarray, rho: np.ndarray, bits: float, seed: int) -> np.ndarray:
    """+-1 changes of ``cover`` (any shape, uint8) drawn at the payload-limited sender's optimal
    rates for ``bits`` bits under the costs ``rho`` (same shape; +1 and -1 alike, never out of
    0..255): what a perfect ternary code would do."""
    x = cover.reshape(-1).astype(np.int16)
    costs = np.stack(
        [np.where(x < 255, rho.reshape(-1), np.inf), np.where(x > 0, rho.reshape(-1), np.inf)], 1
    )

    def probabilities(lam: float) -> tuple[np.ndarray, float]:
        e = np.exp(-lam * costs)
        p = e / (1 + e.sum(axis=1, keepdims=True))
        stay = 1 - p.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.nansum(p * np.log2(p), axis=1) - np.nan_to_num(stay * np.log2(stay))
        return p, float(h.sum())

    low, high = 1e-12, 1e6  # smooth covers' costs reach ~1e7
    while high / low > 1.001:
        mid = np.sqrt(low * high)
        low, high = (mid, high) if probabilities(mid)[1] > bits else (low, mid)
    p, _ = probabilities(low)
    u = np.random.default_rng(seed).random(x.size)
    change = np.where(u < p[:, 0], 1, np.where(u < p[:, 0] + p[:, 1], -1, 0))
    return (x + change).astype(np.uint8).reshape(cover.shape)


def embed_hill_joint(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
    """HILL's costs on all three channels at once, simulated as one ternary message (the
    cheapest samples of any channel carry it): ``hill`` without its even split."""
    from invsteg.ops.costs import hill_rgb

    return Embedded(simulate_ternary(cover, hill_rgb(cover), 8.0 * nbytes, seed), OK)


def embed_hill(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
    """HILL (its costs equal conseal's), each channel a third of the bits, simulated at the
    payload-limited sender's optimal change rates: the whole payload on every cover."""
    from invsteg.ops.costs import hill_rgb

    rho = hill_rgb(cover)
    channels = [simulate_ternary(cover[..., c], rho[..., c], 8.0 * nbytes / 3, seed + c) for c in range(3)]
    return Embedded(np.stack(channels, axis=-1), OK)


def embed_lsbm(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
    """conseal's LSB matching (+-1 at random, permuted path, one change per two bits)."""
    import conseal

    rate = channel_rate(nbytes, *cover.shape[:2])
    channels = [
        conseal.lsb.simulate(
            np.ascontiguousarray(cover[..., c]), rate, modify=conseal.LSB_MATCHING, seed=seed + c
        )
        for c in range(3)
    ]
    return Embedded(np.stack(channels, axis=-1).astype(np.uint8), OK)


def embed_format3(cost: str) -> Embedder:
    """Payload format 3 (``invsteg.pipelines.adaptive``) under ``cost``, without a passphrase:
    its bits are whitened either way, and the key derivation would only cost time here."""

    def embed(cover: np.ndarray, nbytes: int, seed: int) -> Embedded:
        from invsteg.payload import PayloadTooLargeError
        from invsteg.pipelines import adaptive

        rng = np.random.default_rng(seed)
        try:
            stego, _ = adaptive.embed_file(cover, rng.bytes(nbytes), cost=cost, random_bytes=rng.bytes)
        except PayloadTooLargeError:
            return Embedded(None, NO_FIT)
        return Embedded(stego, OK)

    return embed


EMBED: dict[str, Embedder] = {
    "format3-hill": embed_format3("hill"),
    "format3-hill-colour": embed_format3("hill-colour"),
    "format3-hill-cmd": embed_format3("hill-cmd"),
    "invsteg": embed_invsteg,
    "hill": embed_hill,
    "hill-joint": embed_hill_joint,
    "hill-conseal": embed_hill_conseal,
    "lsbm": embed_lsbm,
}


def invsteg_capacity(cover: np.ndarray) -> int:
    """The net bytes invsteg's default model says ``cover`` holds (encrypted, no file name)."""
    from invsteg import api

    return api.capacity(cover, encrypted=True)[0][1].net_bytes


# -- features -----------------------------------------------------------------------------------


def import_sealwatch() -> types.ModuleType:
    """sealwatch, with a stub for torchvision if it is not installed: sealwatch imports
    ``torchvision.transforms`` at import time for its neural detectors, never used here."""
    if importlib.util.find_spec("torchvision") is None and "torchvision" not in sys.modules:

        def placeholder(name: str) -> type:
            if name.startswith("__"):
                raise AttributeError(name)
            return type(name, (), {"__init__": lambda self, *args, **kwargs: None})

        torchvision = types.ModuleType("torchvision")
        transforms = types.ModuleType("torchvision.transforms")
        transforms.__getattr__ = placeholder  # type: ignore[method-assign]  # any class, e.g. Grayscale
        torchvision.transforms = transforms  # type: ignore[attr-defined]
        sys.modules |= {"torchvision": torchvision, "torchvision.transforms": transforms}
    import sealwatch

    return sealwatch


def _spam(sw: types.ModuleType, channel: np.ndarray) -> np.ndarray:
    """SPAM-686 of one 2-D channel: the Rust backend for uint8, the Python one otherwise
    (difference images; their values are integers, so its rounding changes nothing)."""
    if channel.dtype == np.uint8:
        with sw.BACKEND_RUST:
            parts = sw.spam.extract(np.ascontiguousarray(channel))
    else:
        with sw.BACKEND_PYTHON:
            parts = sw.spam.extract(channel, rounded=True)
    return np.concatenate([np.ravel(v) for v in parts.values()])


def spam_rgb(sw: types.ModuleType, pixels: np.ndarray) -> np.ndarray:
    """SPAM of R, G and B, concatenated (2058 values)."""
    return np.concatenate([_spam(sw, pixels[..., c]) for c in range(3)])


def spam_rgb_diff(sw: types.ModuleType, pixels: np.ndarray) -> np.ndarray:
    """``spam_rgb`` plus SPAM of R-G and B-G (int16): the inter-channel correlations that
    channel-independent embedding breaks (3430 values)."""
    wide = pixels.astype(np.int16)
    diffs = [_spam(sw, wide[..., 0] - wide[..., 1]), _spam(sw, wide[..., 2] - wide[..., 1])]
    return np.concatenate([spam_rgb(sw, pixels), *diffs])


def crm(sw: types.ModuleType, pixels: np.ndarray) -> np.ndarray:
    """sealwatch's colour rich model of the RGB image."""
    return np.concatenate([np.ravel(v) for v in sw.crm.extract(pixels).values()])


def latent_features(z: np.ndarray) -> np.ndarray:
    """What the model-aware attacker looks at in latents ``z`` (any shape): a normalised
    histogram of ``|z|`` (``HIST_BINS`` bins over [0, ``HIST_MAX``], larger values in the last
    bin), the shares of ``|z| < 0.1`` and ``< 0.3`` and the excess kurtosis of ``z``.
    Carriers drawn with a margin (alpha < |z| < ceiling) leave a hole near zero and thin tails,
    which a cover's latents (close to N(0, 1) if the model is well trained) do not have."""
    flat = np.asarray(z, dtype=np.float64).ravel()
    size = np.abs(flat)
    hist, _ = np.histogram(np.minimum(size, HIST_MAX), bins=HIST_BINS, range=(0.0, HIST_MAX))
    centred = flat - flat.mean()
    variance = float(np.mean(centred**2))
    kurtosis = float(np.mean(centred**4)) / variance**2 - 3.0 if variance > 0 else 0.0
    tails = [np.mean(size < 0.1), np.mean(size < 0.3), kurtosis]
    return np.concatenate([hist / flat.size, tails])


Extractor = Callable[[np.ndarray], np.ndarray]


def extractors(names: Sequence[str]) -> dict[str, Extractor]:
    """Feature functions ``(S, S, 3) uint8 -> 1-D float`` for ``names``; the model-aware one
    holds invsteg's default embedding model, loaded once."""
    out: dict[str, Extractor] = {}
    if {"spam_rgb", "spam_rgb_diff", "crm"} & set(names):
        sw = import_sealwatch()
        out |= {
            "spam_rgb": lambda x: spam_rgb(sw, x),
            "spam_rgb_diff": lambda x: spam_rgb_diff(sw, x),
            "crm": lambda x: crm(sw, x),
        }
    if "model_aware" in names:
        from invsteg.pipelines.embedding import load_embedding_model
        from invsteg.pipelines.latents import read_latents

        model = load_embedding_model()
        out["model_aware"] = lambda x: latent_features(read_latents(x, model=model).float().cpu().numpy())
    return {name: out[name] for name in names}


# -- evaluation ---------------------------------------------------------------------------------


def min_pe(cover_scores: np.ndarray, stego_scores: np.ndarray) -> float:
    """``min over thresholds t of (P_FA + P_MD) / 2``, calling "stego" when ``score > t``;
    0.5 at worst (the threshold above or below everything)."""
    cover, stego = np.sort(cover_scores), np.sort(stego_scores)
    thresholds = np.concatenate([[-np.inf], np.unique(np.concatenate([cover, stego]))])
    false_alarm = 1.0 - np.searchsorted(cover, thresholds, side="right") / cover.size
    missed = np.searchsorted(stego, thresholds, side="right") / stego.size
    return float(np.min((false_alarm + missed) / 2))


def auc(cover_scores: np.ndarray, stego_scores: np.ndarray) -> float:
    """Area under the ROC curve: P(stego score > cover score), ties counting half."""
    diff = np.asarray(stego_scores)[:, None] - np.asarray(cover_scores)[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def source_splits(sources: Sequence[str], repeats: int, seed: int) -> list[np.ndarray]:
    """``repeats`` boolean masks over the crops: True for the training half. Photos, not crops,
    are split 50/50, so all crops of a photo fall on the same side."""
    names = sorted(set(sources))
    index = np.array([names.index(s) for s in sources])
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(repeats):
        train = rng.permutation(len(names))[: len(names) // 2]
        masks.append(np.isin(index, train))
    return masks


def _sd(values: Sequence[float]) -> float:
    """Sample standard deviation (0 for a single value)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


@dataclass
class Score:
    """P_E and AUC of one detector on one stego set, one value per split."""

    pe: list[float] = field(default_factory=list)
    auc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training + test, per split

    def summary(self) -> dict[str, Any]:
        stats = {
            f"{name}_{stat}": (float(fn(values)) if values else None)
            for name, values in (("pe", self.pe), ("auc", self.auc))
            for stat, fn in (("mean", np.mean), ("sd", _sd))
        }
        seconds = float(np.mean(self.seconds)) if self.seconds else None
        return stats | {"pe": self.pe, "auc": self.auc, "seconds_per_split": seconds}


def evaluate(
    cover: np.ndarray,
    stego: np.ndarray,
    masks: Sequence[np.ndarray],
    seed: int,
    max_learners: int = 100,
) -> Score:
    """Train the FLD ensemble on each mask's cover/stego pairs, score the rest. Rows of
    ``stego`` that are NaN (no stego: the payload did not fit) drop their pair.

    The subspace dimension and the number of base learners are sealwatch's automatic
    choices (out-of-bag error), the learners capped at ``max_learners``: sealwatch's cap of
    500 took ~2.5 min per split on 400 covers of 2000-dim features with a weak signal, 100
    takes ~10 s and moved P_E by ~0.01 there."""
    from sealwatch.ensemble_classifier import FldEnsembleTrainer

    valid = np.isfinite(stego).all(axis=1) & np.isfinite(cover).all(axis=1)
    score = Score()
    for i, train in enumerate(masks):
        fit, test = train & valid, ~train & valid
        if min(fit.sum(), test.sum()) < 4:
            continue
        start = time.perf_counter()
        trainer = FldEnsembleTrainer(
            np.ascontiguousarray(cover[fit]),
            np.ascontiguousarray(stego[fit]),
            seed=seed + i + 1,
            verbose=0,
            max_num_base_learners=max_learners,
        )
        ensemble, _records = trainer.train()
        cover_votes = ensemble.predict_confidence(cover[test])
        stego_votes = ensemble.predict_confidence(stego[test])
        score.pe.append(min_pe(cover_votes, stego_votes))
        score.auc.append(auc(cover_votes, stego_votes))
        score.seconds.append(time.perf_counter() - start)
    return score


# -- cache and progress -------------------------------------------------------------------------


class Cache:
    """npz files under ``root/<covers key>/``: stegos, their metadata, features and scores.

    ``versions`` renames parts of a file name, e.g. ``invsteg`` -> ``invsteg-<fingerprint>``,
    so that results of another invsteg (code or weights) are never reused.
    """

    def __init__(self, root: Path, covers: Covers, versions: dict[str, str] | None = None) -> None:
        self.folder = root / covers.key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.versions = versions or {}

    def path(self, *parts: str) -> Path:
        return self.folder / ("_".join(self.versions.get(p, p) for p in parts) + ".npz")

    def load(self, *parts: str) -> dict[str, np.ndarray] | None:
        path = self.path(*parts)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def save(self, arrays: dict[str, np.ndarray], *parts: str, compress: bool = False) -> None:
        path = self.path(*parts)
        tmp = path.with_name(path.name + ".tmp.npz")
        (np.savez_compressed if compress else np.savez)(tmp, **arrays)
        tmp.replace(path)


class Progress:
    """``label i/n, s per image, eta`` on stderr, at most every few seconds."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.start, self.shown = label, total, time.perf_counter(), 0.0

    def step(self, done: int) -> None:
        now = time.perf_counter()
        if done < self.total and now - self.shown < 5:
            return
        self.shown = now
        per = (now - self.start) / max(done, 1)
        eta = per * (self.total - done)
        print(f"  {self.label}: {done}/{self.total}, {per:.3f} s/img, eta {eta:.0f} s", file=sys.stderr)


# -- the run ------------------------------------------------------------------------------------


@dataclass
class StegoSet:
    """One (embedder, payload): per cover the status, bytes embedded and share of changed
    colour samples; ``stegos`` only when they had to be computed or loaded."""

    embedder: str
    payload: str
    status: np.ndarray
    nbytes: np.ndarray
    changed: np.ndarray
    embed_seconds: float  # per image, when it was computed
    digest: str  # of the stegos: features cached for other stegos are not reused
    stegos: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        return self.status == OK


def target_bytes(payload: str, covers: Covers, capacities: np.ndarray | None) -> np.ndarray:
    """Net bytes to embed in each cover: ``bpp`` of its pixels, or for ``max`` 100% of what
    invsteg reports for it."""
    if payload == "max":
        assert capacities is not None
        return capacities.copy()
    return np.array([payload_bytes(float(payload), *c.shape[:2]) for c in covers.pixels])


def capacities_of(covers: Covers, cache: Cache) -> np.ndarray:
    """invsteg's capacity (net bytes) per cover, cached."""
    cached = cache.load("capacity")
    if cached is not None:
        return cached["net_bytes"]
    net = np.array([invsteg_capacity(c) for c in covers.pixels])
    cache.save({"net_bytes": net}, "capacity")
    return net


def make_stegos(
    embedder: str, payload: str, covers: Covers, nbytes: np.ndarray, seed: int, cache: Cache
) -> StegoSet:
    """Embed ``nbytes[i]`` into every cover ``i`` with ``embedder``; stegos that do not exist
    (the payload did not fit, embedding failed) are left equal to the cover.

    Work in progress is saved every ``CHECKPOINT_S`` seconds and resumed by the next run
    (invsteg takes seconds per image, a set of 400 up to hours)."""
    name = ("partial", embedder, payload)
    stegos, status = covers.pixels.copy(), np.full(len(covers.pixels), OK, dtype="<U16")
    done, spent = 0, 0.0
    partial = cache.load(*name)
    if partial is not None and np.array_equal(partial["nbytes"], nbytes):
        stegos, status, done, spent = (
            partial["stegos"],
            partial["status"],
            int(partial["done"]),
            float(partial["spent"]),
        )
        print(f"  embed {embedder} {payload}: resuming after {done} images", file=sys.stderr)
    progress = Progress(f"embed {embedder} {payload}", len(stegos) - done)
    start = saved = time.perf_counter()
    for i in range(done, len(stegos)):
        result = EMBED[embedder](covers.pixels[i], int(nbytes[i]), stable_seed(seed, embedder, payload, i))
        status[i] = result.status
        if result.stego is not None:
            stegos[i] = result.stego
        progress.step(i + 1 - done)
        if time.perf_counter() - saved > CHECKPOINT_S and i + 1 < len(stegos):
            state = {"stegos": stegos, "status": status, "nbytes": nbytes, "done": i + 1}
            cache.save(state | {"spent": spent + time.perf_counter() - start}, *name)
            saved = time.perf_counter()
    seconds = (spent + time.perf_counter() - start) / len(stegos)
    changed = (stegos != covers.pixels).reshape(len(stegos), -1).mean(axis=1)
    digest = hashlib.sha256(stegos.tobytes()).hexdigest()[:12]
    return StegoSet(embedder, payload, status.astype(str), nbytes, changed, seconds, digest, stegos)


def stego_set(
    embedder: str, payload: str, covers: Covers, nbytes: np.ndarray, cache: Cache, seed: int
) -> StegoSet:
    """The cached stego set's metadata, else a fresh embedding (then cached)."""
    meta = cache.load("meta", embedder, payload)
    if meta is not None and "digest" in meta and np.array_equal(meta["nbytes"], nbytes):
        return StegoSet(
            embedder,
            payload,
            meta["status"],
            meta["nbytes"],
            meta["changed"],
            float(meta["seconds"]),
            str(meta["digest"]),
        )
    made = make_stegos(embedder, payload, covers, nbytes, seed, cache)
    assert made.stegos is not None
    cache.save({"stegos": made.stegos}, "stegos", embedder, payload, compress=True)
    meta = {
        "status": made.status,
        "nbytes": nbytes,
        "changed": made.changed,
        "seconds": made.embed_seconds,
        "digest": made.digest,
    }
    cache.save(meta, "meta", embedder, payload)
    cache.path("partial", embedder, payload).unlink(missing_ok=True)
    return made


def features_of(
    detector: str,
    extract: Extractor,
    images: Callable[[], np.ndarray],
    digest: str,
    cache: Cache,
    *name: str,
) -> tuple[np.ndarray, float]:
    """Features ``(N, D)`` of the images (loaded only if not cached for images with this
    ``digest``) and seconds per image."""
    cached = cache.load("features", detector, *name)
    if cached is not None and str(cached.get("digest", "")) == digest:
        return cached["features"], float(cached["seconds"])
    pixels = images()
    progress = Progress(f"{detector} {' '.join(name)}", len(pixels))
    start = time.perf_counter()
    rows = []
    for i, image in enumerate(pixels):
        rows.append(extract(image))
        progress.step(i + 1)
    seconds = (time.perf_counter() - start) / len(pixels)
    features = np.stack(rows).astype(np.float64)
    cache.save({"features": features, "seconds": seconds, "digest": digest}, "features", detector, *name)
    return features, seconds


def rich_too_slow(
    names: Sequence[str], extract: dict[str, Extractor], cover: np.ndarray, limit: float
) -> dict[str, float]:
    """Seconds for one image of each rich-model detector over ``limit`` (to be skipped)."""
    slow = {}
    for name in [n for n in names if n in RICH]:
        start = time.perf_counter()
        extract[name](cover)
        seconds = time.perf_counter() - start
        print(f"{name}: {seconds:.2f} s for one {cover.shape[1]}x{cover.shape[0]} image", file=sys.stderr)
        if seconds > limit:
            slow[name] = seconds
    return slow


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Everything but the publishing: covers, stegos, features, scores; all as JSON-ready data."""
    covers = load_covers(args.data, args.split, args.covers, args.per_photo)
    print(
        f"{len(covers.pixels)} covers from {len(set(covers.sources))} photos ({covers.key})", file=sys.stderr
    )
    fingerprint = invsteg_fingerprint()
    versioned = (*(e for e in EMBEDDERS if e.startswith("format3")), "invsteg", "model_aware", "capacity")
    # "hill" was conseal's simulator until 2026-12-04 (now "hill-conseal"): never reuse those files
    renamed = {"hill": "hill-full-payload", "hill-joint": f"hill-joint-{fingerprint}"}
    cache = Cache(args.cache, covers, {name: f"{name}-{fingerprint}" for name in versioned} | renamed)
    need_max = "max" in args.payloads
    capacities = capacities_of(covers, cache) if need_max or "invsteg" in args.embedders else None
    extract = extractors(args.detectors)
    notes = []
    for name, seconds in rich_too_slow(args.detectors, extract, covers.pixels[0], args.rich_limit).items():
        notes.append(f"{name} skipped: {seconds:.1f} s per image (limit {args.rich_limit:g} s)")
        del extract[name]
    detectors = list(extract)
    masks = source_splits(covers.sources, args.repeats, args.seed)
    cover_features = {
        d: features_of(d, extract[d], lambda: covers.pixels, covers.key, cache, "cover") for d in detectors
    }
    rows = []
    for embedder in args.embedders:
        for payload in args.payloads:
            nbytes = target_bytes(payload, covers, capacities)
            made = stego_set(embedder, payload, covers, nbytes, cache, args.seed)
            rows.append(
                score_row(made, covers, cache, extract, cover_features, masks, args.seed, args.max_learners)
            )
            print(format_row(rows[-1], detectors), file=sys.stderr)
    return {
        "date": date.today().isoformat(),
        "command": command_line(__file__),
        "covers": {
            "count": len(covers.pixels),
            "photos": len(set(covers.sources)),
            "size": SIZE,
            "split": args.split,
            "key": covers.key,
        },
        "model": f"format 3 ({_default_cost()}; format 2's model: {default_model_name()})",
        "invsteg_fingerprint": fingerprint,
        "capacity_bpp": None if capacities is None else float(np.mean(8 * capacities / SIZE**2)),
        "repeats": args.repeats,
        "max_learners": args.max_learners,
        "detectors": detectors,
        "timings_s_per_image": {
            "features": {d: cover_features[d][1] for d in detectors},
            "embed": {
                e: float(np.mean([r["embed_seconds"] for r in rows if r["embedder"] == e]))
                for e in args.embedders
            },
        },
        "classifier_s_per_split": {d: mean_split_seconds(rows, d) for d in detectors},
        "notes": notes,
        "rows": rows,
    }


def score_row(
    made: StegoSet,
    covers: Covers,
    cache: Cache,
    extract: dict[str, Extractor],
    cover_features: dict[str, tuple[np.ndarray, float]],
    masks: Sequence[np.ndarray],
    seed: int,
    max_learners: int,
) -> dict[str, Any]:
    """One table row: what was embedded and each detector's P_E and AUC."""

    def stegos() -> np.ndarray:
        if made.stegos is None:
            made.stegos = cache.load("stegos", made.embedder, made.payload)["stegos"]  # type: ignore[index]
        return made.stegos

    ok = made.ok
    pixels = covers.pixels.shape[1] * covers.pixels.shape[2]
    row: dict[str, Any] = {
        "embedder": made.embedder,
        "payload": made.payload,
        "bpp": float(np.mean(8 * made.nbytes[ok] / pixels)) if ok.any() else None,
        "embedded": int(ok.sum()),
        "does_not_fit": int(np.sum(made.status == NO_FIT)),
        "failed": int(np.sum(made.status == FAILED)),
        "covers": len(ok),
        "changed": float(np.mean(made.changed[ok])) if ok.any() else None,
        "embed_seconds": made.embed_seconds,
        "scores": {},
    }
    for detector, (cover, _) in cover_features.items():
        if not ok.any():
            continue
        stego, _ = features_of(
            detector, extract[detector], stegos, made.digest, cache, made.embedder, made.payload
        )
        stego = np.where(ok[:, None], stego, np.nan)
        name = (detector, made.embedder, made.payload)
        row["scores"][detector] = cached_score(
            cache, name, made.digest, cover, stego, masks, seed, max_learners
        )
    made.stegos = None  # free the memory before the next set
    return row


def cached_score(
    cache: Cache,
    name: tuple[str, str, str],
    digest: str,
    cover: np.ndarray,
    stego: np.ndarray,
    masks: Sequence[np.ndarray],
    seed: int,
    max_learners: int,
) -> dict[str, Any]:
    """:func:`evaluate`'s summary for (detector, embedder, payload) ``name``, from the cache
    when it was computed for the same stegos (``digest``), splits, seed and ensemble size."""
    splits = hashlib.sha256(np.stack(masks).tobytes()).hexdigest()[:12]
    key = f"{digest}-{splits}-{seed}-{max_learners}"
    cached = cache.load("scores", *name)
    if cached is not None and str(cached["key"]) == key:
        return json.loads(str(cached["summary"]))
    summary = evaluate(cover, stego, masks, seed, max_learners).summary()
    cache.save({"key": np.array(key), "summary": np.array(json.dumps(summary))}, "scores", *name)
    return summary


def mean_split_seconds(rows: Sequence[dict[str, Any]], detector: str) -> float | None:
    """Mean seconds of one training + test of ``detector``'s ensemble over the rows."""
    values = [r["scores"][detector]["seconds_per_split"] for r in rows if detector in r["scores"]]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def invsteg_fingerprint() -> str:
    """12 hex digits of a hash of invsteg's Python sources and its default embedding model's
    weights: what the ``invsteg`` stegos, its capacity and the model-aware features depend on."""
    import invsteg
    from invsteg.pipelines.embedding import load_embedding_model

    digest = hashlib.sha256()
    package = Path(invsteg.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    for name, tensor in sorted(load_embedding_model().state_dict().items()):
        digest.update(name.encode() + b"\0" + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


def _default_cost() -> str:
    from invsteg.pipelines.adaptive import DEFAULT_COST

    return DEFAULT_COST


def default_model_name() -> str:
    from invsteg.pipelines.embedding import default_embed_model

    return default_embed_model()


# -- output -------------------------------------------------------------------------------------


def _pm(summary: dict[str, Any] | None, stat: str) -> str:
    if not summary or summary.get(f"{stat}_mean") is None:
        return "-"
    return f"{summary[f'{stat}_mean']:.3f} ± {summary[f'{stat}_sd']:.3f}"


def format_row(row: dict[str, Any], detectors: Sequence[str]) -> str:
    """One markdown table row (see :func:`table`)."""
    payload = row["payload"] if row["payload"] != "max" else "max (100%)"
    bpp = "-" if row["bpp"] is None else f"{row['bpp']:.3f}"
    embedded = f"{row['embedded']}/{row['covers']}"
    lost = [f"{row[k]} {k.replace('_', ' ')}" for k in ("does_not_fit", "failed") if row[k]]
    if lost:
        embedded += f" ({', '.join(lost)})"
    changed = "-" if row["changed"] is None else f"{100 * row['changed']:.2f}"
    cells = [row["embedder"], payload, bpp, embedded, changed]
    cells += [_pm(row["scores"].get(d), "pe") for d in detectors]
    if "model_aware" in detectors:
        cells.append(_pm(row["scores"].get("model_aware"), "auc"))
    return "| " + " | ".join(cells) + " |"


def table(result: dict[str, Any]) -> list[str]:
    """The results.md section, markers included."""
    detectors = result["detectors"]
    head = ["embedder", "payload bpp", "bpp embedded", "embedded", "changed samples %"]
    head += [f"P_E {d}" for d in detectors] + (["AUC model_aware"] if "model_aware" in detectors else [])
    covers, timings = result["covers"], result["timings_s_per_image"]
    feature_times = ", ".join(f"{d} {s:.3f}" for d, s in timings["features"].items())
    embed_times = ", ".join(f"{e} {s:.3f}" for e, s in timings["embed"].items())
    fit_times = ", ".join(
        f"{d} {s:.1f}" for d, s in result["classifier_s_per_split"].items() if s is not None
    )
    capacity = "" if result["capacity_bpp"] is None else f" (capacity {result['capacity_bpp']:.3f} bpp)"
    lines = [
        START,
        f"## Steganalysis of embed-file: {result['model']}{capacity} ({result['date']})",
        "",
        f"{covers['count']} covers: {covers['size']}x{covers['size']} crops, not resampled, of "
        f"{covers['photos']} photos ({covers['split']} split). P_E = min (P_FA + P_MD) / 2 of sealwatch's "
        f"FLD ensemble (automatic subspace size, at most {result['max_learners']} learners) on held-out "
        f"photos, mean ± sd over {result['repeats']} 50/50 splits by photo "
        "(0.5: the attacker guesses; 0: the attacker always wins).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * 2 + "---:|" * (len(head) - 2),
        *(format_row(row, detectors) for row in result["rows"]),
        "",
        "Payload: bits per pixel of the RGB image, net file bytes. format3-COST: embed-file's default "
        "(payload format 3) under that cost, a random file without a passphrase (whitened either way); "
        "invsteg: format 2 (`--model`), a random file, encrypted; `max`: 100% of format 2's reported "
        "capacity per cover, the same bits for the references. "
        "hill: HILL's costs, the same bits split evenly over R, G, B, simulated at the optimal change "
        "rates (the whole payload on every cover); hill-joint: the same on all channels as one message; "
        "hill-conseal: conseal's HILL simulator, which embeds only part of the payload on smooth "
        "covers; lsbm: conseal's LSB matching, split evenly. Detectors: spam_rgb = SPAM-686 of R, G, B; "
        "spam_rgb_diff = that plus SPAM of R-G "
        "and B-G; crm = sealwatch's colour rich model; model_aware = histogram of |z| (30 bins on "
        "[0, 3]), shares of |z| < 0.1 and < 0.3 and kurtosis of the latents invsteg's public model "
        "reads, with the same ensemble; its AUC is of the ensemble's vote. changed samples: colour "
        "samples (R, G or B of a pixel) with stego != cover.",
        "",
        f"Seconds per image (1 thread): features {feature_times}; embedding {embed_times}. "
        f"Seconds per split (ensemble training + test): {fit_times}.",
        *(f"Note: {note}." for note in result["notes"]),
        "",
        f"Command: `{result['command']}`; invsteg sources + weights fingerprint "
        f"`{result['invsteg_fingerprint']}` (the cache key of its stegos).",
        END,
    ]
    return lines


def plot(result: dict[str, Any], path: Path) -> None:
    """P_E against the bpp embedded: one panel per detector, one line per embedder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    detectors = result["detectors"]
    fig, axes = plt.subplots(1, len(detectors), figsize=(4 * len(detectors), 3.6), squeeze=False)
    for ax, detector in zip(axes[0], detectors, strict=True):
        for embedder in dict.fromkeys(r["embedder"] for r in result["rows"]):
            points = sorted(
                (r["bpp"], r["scores"][detector]["pe_mean"], r["scores"][detector]["pe_sd"])
                for r in result["rows"]
                if r["embedder"] == embedder
                and detector in r["scores"]
                and r["scores"][detector]["pe_mean"] is not None
            )
            if points:
                x, y, sd = zip(*points, strict=True)
                ax.errorbar(x, y, yerr=sd, marker="o", capsize=3, label=embedder)
        ax.set(title=detector, xlabel="payload (bpp, RGB)", ylim=(-0.02, 0.55))
        ax.axhline(0.5, color="grey", lw=0.5, ls="--")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("P_E (0.5 = undetectable)")
    axes[0][-1].legend()
    fig.suptitle(f"Steganalysis of invsteg embed-file, {result['covers']['count']} covers")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--covers", type=int, default=400, help="number of 256x256 crops")
    parser.add_argument("--split", choices=("train", "val", "both"), default="both")
    parser.add_argument("--per-photo", type=int, default=4, help="crops per photo at most")
    parser.add_argument("--payloads", type=parse_payloads, default=parse_payloads("0.05,0.1,0.2,0.4,max"))
    parser.add_argument("--embedders", type=_names(EMBEDDERS), default=list(EMBEDDERS))
    parser.add_argument("--detectors", type=_names(DETECTORS), default=list(DETECTORS))
    parser.add_argument("--repeats", type=int, default=5, help="random 50/50 splits by photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-learners", type=int, default=100, help="FLD ensemble size cap (sealwatch: 500)"
    )
    parser.add_argument(
        "--rich-limit", type=float, default=1.0, help="skip a rich model slower than this (s/img)"
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "data")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/steganalysis_cache"))
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--plot", type=Path, default=PLOT)
    parser.add_argument("--no-publish", action="store_true", help="leave results.md and docs/ alone")
    return parser.parse_args(argv)


def _names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = sorted(set(names) - set(allowed))
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)} (got {text!r})")
        return list(dict.fromkeys(names))

    return parse


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    publish(START, END, RESULTS, table(result), write=not args.no_publish)
    if not args.no_publish:
        plot(result, args.plot)


if __name__ == "__main__":
    main()
