"""Convert the official HiNet checkpoint (github.com/TomTomTommi/HiNet) to invsteg weights.

The official file is a ``torch.save`` dict whose ``net`` entry is a state dict keyed
``module.model.inv{k}.{f,r,y}.conv{m}.{weight,bias}`` (``module.`` only when it was
saved from ``DataParallel``). Its blocks compute the same maths as our
:class:`~invsteg.models.hinet.HiNet` couplings, so conversion is a pure renaming:
``inv{k}`` -> ``net.blocks.{k-1}``, ``f/r/y`` -> ``phi/rho/eta``, ``conv{m}`` -> ``convs.{m-1}``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from invsteg.errors import InputFileError, WeightsError
from invsteg.models.hinet import HiNet, HiNetConfig
from invsteg.zoo._pretrained import save_weights

MODEL_NAME = "hinet-official"

# Official subnet names -> ours: f updates the cover half, r scales and y shifts the secret half.
SUBNETS = {"f": "phi", "r": "rho", "y": "eta"}
# "module." comes from DataParallel, "model." from the official Model wrapper around Hinet.
_OFFICIAL_KEY = re.compile(
    r"^(?P<prefix>(?:module\.)?(?:model\.)?)"
    r"inv(?P<block>[1-9]\d*)\.(?P<sub>[fry])\.conv(?P<conv>[1-9]\d*)\.(?P<param>weight|bias)$"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch colours parts of its load errors
_OUR_KEY = re.compile(
    r"^net\.blocks\.(?P<block>\d+)\.(?P<sub>phi|rho|eta)\.convs\.(?P<conv>\d+)\.(?P<param>weight|bias)$"
)


def _official_to_ours(key: str) -> str | None:
    """Our state-dict key for an official one, or ``None`` if it is not a HiNet conv key."""
    m = _OFFICIAL_KEY.match(key)
    if m is None:
        return None
    block, conv = int(m["block"]) - 1, int(m["conv"]) - 1
    return f"net.blocks.{block}.{SUBNETS[m['sub']]}.convs.{conv}.{m['param']}"


def _ours_to_official(key: str, prefix: str) -> str:
    """The official name of one of our keys, so errors speak the user's file's language."""
    m = _OUR_KEY.match(key)
    if m is None:  # a parameter HiNet might grow later; name it as is
        return key
    official = {ours: theirs for theirs, ours in SUBNETS.items()}[m["sub"]]
    return f"{prefix}inv{int(m['block']) + 1}.{official}.conv{int(m['conv']) + 1}.{m['param']}"


def _reason(exc: BaseException) -> str:
    """One readable line from a ``torch.load`` failure (its messages span many lines)."""
    lines = [_ANSI.sub("", line).strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line]
    # weights_only failures bury the useful part ("Unsupported global: ...") mid-message.
    best = next((line for line in lines if "WeightsUnpickler error" in line), lines[0] if lines else "")
    return f"{type(exc).__name__}: {best}" if best else type(exc).__name__


def _load_checkpoint(source: Path, *, trust_pickle: bool) -> Any:
    """``torch.load`` the file, refusing arbitrary pickled code unless ``trust_pickle``."""
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except OSError as exc:  # unreadable (permissions, I/O): an input problem, not bad weights
        raise InputFileError(f"cannot read {source}: {exc.strerror or exc}") from None
    except Exception as exc:  # torch raises many types for a bad file; all mean "cannot read"
        safe_error = exc
    reason = _reason(safe_error)
    if not trust_pickle:
        # A full unpickle could run code from the file, so it is opt-in; only suggest it
        # when the file is a real pickle that merely holds objects beyond tensors.
        hint = (
            "; if the file is trusted, convert it with trust_pickle=True"
            if "Unsupported global" in reason
            else ""
        )
        raise WeightsError(f"cannot read {source} as a torch checkpoint ({reason}){hint}") from safe_error
    warnings.warn(
        f"{source}: weights_only load failed ({reason}); unpickling it fully because it is trusted",
        stacklevel=3,
    )
    try:
        return torch.load(source, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise WeightsError(f"cannot read {source} as a torch checkpoint ({_reason(exc)})") from exc


def _state_dict(checkpoint: Any, source: Path) -> dict[str, Tensor]:
    """The network's state dict: the ``net`` entry, or the checkpoint itself if it is one."""
    if not isinstance(checkpoint, dict):
        raise WeightsError(
            f"{source} is not a HiNet checkpoint: it holds a {type(checkpoint).__name__}, not a dict"
        )
    # The official training script saves {"net": ..., "opt": ...}; "opt" is optimiser state.
    state = checkpoint.get("net", checkpoint)
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{source} is not a HiNet checkpoint: no state dict under 'net'")
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise WeightsError(f"{source} is not a HiNet checkpoint: entry {key!r} is not a tensor")
    return state


def _map_keys(state: dict[str, Tensor], source: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Rename every key; return ``(ours -> tensor, ours -> official key)``."""
    mapped: dict[str, Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        ours = _official_to_ours(key)
        if ours is None:
            raise WeightsError(f"{source} does not fit HiNet: unexpected key {key!r}")
        if ours in mapped:  # e.g. both "module.model.inv1..." and "model.inv1..."
            raise WeightsError(f"{source} does not fit HiNet: duplicate key {key!r} (also {origin[ours]!r})")
        mapped[ours], origin[ours] = value, key
    return mapped, origin


def _infer_config(mapped: dict[str, Tensor], prefix: str, source: Path) -> HiNetConfig:
    """Blocks from the highest ``inv{k}``; growth from the first conv's output channels."""
    blocks = 1 + max(int(_OUR_KEY.match(key)["block"]) for key in mapped)  # type: ignore[index]
    first = "net.blocks.0.phi.convs.0.weight"
    if first not in mapped:
        raise WeightsError(f"{source} does not fit HiNet: missing key {_ours_to_official(first, prefix)!r}")
    # The remaining HiNetConfig fields (clamp 2.0, 3 image channels, 1 secret) are the
    # official ones and the defaults; a checkpoint that differs fails the shape check.
    return HiNetConfig(blocks=blocks, growth=mapped[first].shape[0])


def _build(mapped: dict[str, Tensor], origin: dict[str, str], source: Path) -> HiNet:
    """A HiNet holding exactly the checkpoint's tensors, or a ``WeightsError`` saying why not."""
    prefix = _OFFICIAL_KEY.match(next(iter(origin.values())))["prefix"]  # type: ignore[index]
    model = HiNet(_infer_config(mapped, prefix, source))
    expected = model.state_dict()
    for key, value in expected.items():
        if key not in mapped:
            raise WeightsError(f"{source} does not fit HiNet: missing key {_ours_to_official(key, prefix)!r}")
        if mapped[key].shape != value.shape:
            raise WeightsError(
                f"{source} does not fit HiNet: {origin[key]!r} has shape {tuple(mapped[key].shape)}, "
                f"expected {tuple(value.shape)}"
            )
    for key in mapped:
        if key not in expected:  # e.g. inv1.f.conv6.weight: keys beyond the dense block
            raise WeightsError(f"{source} does not fit HiNet: unexpected key {origin[key]!r}")
    for key, value in mapped.items():
        # A NaN/inf checkpoint would convert "successfully" and then hide garbage.
        if not value.is_floating_point() or not torch.isfinite(value).all():
            raise WeightsError(f"{source}: {origin[key]!r} is not a finite float tensor")
    model.load_state_dict({k: v.to(torch.float32) for k, v in mapped.items()}, strict=True)
    return model.eval()


def convert_official_hinet(source: Path, destination: Path, *, trust_pickle: bool = False) -> dict[str, Any]:
    """Convert the official HiNet checkpoint ``source`` to an invsteg safetensors file.

    Returns ``{"model", "blocks", "growth", "tensors", "parameters"}``. ``destination`` is
    written atomically and only on success (overwriting is the caller's decision).
    Raises :class:`InputFileError` if ``source`` is missing, :class:`WeightsError` if it is
    not a torch checkpoint or does not map one-to-one onto HiNet.
    """
    source, destination = Path(source), Path(destination)
    if not source.is_file():
        raise InputFileError(f"checkpoint not found: {source}")
    state = _state_dict(_load_checkpoint(source, trust_pickle=trust_pickle), source)
    mapped, origin = _map_keys(state, source)
    model = _build(mapped, origin, source)
    save_weights(model, destination, {"invsteg.converted_from": "official HiNet"})
    return {
        "model": MODEL_NAME,
        "blocks": model.config.blocks,
        "growth": model.config.growth,
        "tensors": len(mapped),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
