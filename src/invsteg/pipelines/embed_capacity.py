"""What a cover holds in payload format 2 (the Steg-cINN mode), and which model that mode uses
by default; :mod:`invsteg.pipelines.embedding` re-exports both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from invsteg.errors import ModelError
from invsteg.models.contracts import ColourEmbedder
from invsteg.payload import sealed as format2
from invsteg.pipelines.embed_types import Capacity
from invsteg.pipelines.latents import carrier_mask, check_channels
from invsteg.zoo import DEFAULT_EMBED_MODEL, get_spec, list_models


def default_embed_model() -> str:
    """Name of the default embedding model: ``registry.DEFAULT_EMBED_MODEL``.

    stegcinn-detail: its stegos keep the cover's colour per 2x2 block, where stegcinn-fast
    and stegcinn-small re-draw all of the colour and, trained for minutes, draw it grey
    and speckled (docs/embed_figure.png against docs/embed_figure_fast.png). It costs a
    quarter of the capacity (~0.74 bpp net against ~0.99) at the same speed, and on the
    val split it is as dependable (benchmarks/results.md).
    """
    if get_spec(DEFAULT_EMBED_MODEL).task != "embed" or not list_models("embed"):
        raise ModelError("no embedding model is registered")
    return DEFAULT_EMBED_MODEL


# The largest payload, in net bits per pixel, at which every detector of the steganalysis
# benchmark stayed at P_E >= 0.4 against the default model's stegos (benchmarks/results.md,
# "Steganalysis"; `python -m benchmarks.steganalysis`). None did at any payload measured,
# down to 0.01 bpp, so no size is safe yet.
SAFE_BPP = 0.0


def safe_bytes(width: int, height: int, net_bytes: int) -> int:
    """The safe size of a ``width x height`` cover: ``SAFE_BPP`` of it, at most the capacity
    (0 while no payload measured safe)."""
    return min(net_bytes, int(SAFE_BPP * width * height / 8))


def capacity(
    cover: np.ndarray,
    *,
    model: ColourEmbedder | None = None,
    passphrase: str | None = None,
    file_name: str = "",
    channels: Sequence[int] | None = None,
    encrypted: bool | None = None,
) -> Capacity:
    """How many bytes of file content ``cover`` ``(H, W, 3)`` uint8 holds.

    Only the size of the cover and the model's latent layout matter (not its weights), so
    ``model=None`` uses the registered embedding model's architecture without loading
    weights. The figure is exact: a file of ``net_bytes`` bytes named ``file_name`` fits
    (with encryption iff ``passphrase`` is given, or as ``encrypted`` says when given); one
    byte more does not unless it compresses. ``channels``: the carrier latent channels,
    None for all. The more of it a file uses, the more signs change: see
    benchmarks/results.md, "Steganalysis", for what a detector sees at each size.
    """
    if model is None:
        from invsteg.zoo import random_model

        model = random_model(get_spec(default_embed_model()))
    height, width = cover.shape[:2]
    mask = carrier_mask(model, height, width, channels)
    carriers = int(mask.sum())
    if encrypted is None:
        encrypted = passphrase is not None
    net = format2.capacity_bytes(carriers, file_name=file_name, encrypted=encrypted)
    return Capacity(
        width=width,
        height=height,
        latents=int(mask.size),
        carriers=carriers,
        channels=check_channels(model, channels),
        nsym=format2.BODY_NSYM,
        encrypted=encrypted,
        # what the stored name costs: the overhead beyond that of an empty name
        file_name_bytes=format2.overhead_bytes(file_name, encrypted=False)
        - format2.overhead_bytes("", encrypted=False),
        container_bytes=format2.max_blob_bytes(carriers),
        net_bytes=net,
        bpp=8 * net / (width * height),
        safe_bytes=safe_bytes(width, height, net),
    )
