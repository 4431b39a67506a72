"""The library surface (being assembled): hide and reveal images."""

from invsteg.pipelines.hiding import (
    DEFAULT_TILE,
    Box,
    HideResult,
    fit_secret,
    hide,
    letterbox,
    load_hiding_model,
    reveal,
    reveal_all,
    secrets_per_cover,
    unfit_secret,
)

__all__ = [
    "Box",
    "DEFAULT_TILE",
    "HideResult",
    "fit_secret",
    "hide",
    "letterbox",
    "load_hiding_model",
    "reveal",
    "reveal_all",
    "secrets_per_cover",
    "unfit_secret",
]
