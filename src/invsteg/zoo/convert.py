"""Convert official checkpoints to invsteg weights: HiNet and IRN.

Both official networks compute the same maths as our models, so conversion is a pure
renaming, checked key by key and shape by shape:

- HiNet (github.com/TomTomTommi/HiNet): a ``torch.save`` dict whose ``net`` entry is a
  state dict keyed ``module.model.inv{k}.{f,r,y}.conv{m}.{weight,bias}`` (``module.`` only
  when saved from ``DataParallel``): ``inv{k}`` -> ``net.blocks.{k-1}``, ``f/r/y`` ->
  ``phi/rho/eta``, ``conv{m}`` -> ``convs.{m-1}``.
- IRN (github.com/pkuxmq/Invertible-Image-Rescaling, ``IRN_x2.pth``, ``IRN_x4.pth``): the
  state dict itself, keyed ``operations.{i}.{F,G,H}.conv{m}.{weight,bias}``, plus each Haar
  step's fixed filters ``operations.{i}.haar_weights`` (checked to be the Haar filters, then
  dropped: ours are computed); ``operations.{i}`` -> ``net.blocks.{i}``, ``F/G/H`` ->
  ``phi/eta/rho``; the indices without couplings are the Haar levels.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from invsteg.errors import InputFileError, WeightsError
from invsteg.zoo._pretrained import save_weights

MODEL_NAME = "hinet-official"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # torch colours parts of its load errors
_OUR_KEY = re.compile(
    r"^net\.blocks\.(?P<block>\d+)\.(?P<sub>phi|rho|eta)\.convs\.(?P<conv>\d+)\.(?P<param>weight|bias)$"
)


@dataclass(frozen=True)
class OfficialFormat:
    """One official checkpoint layout: its key pattern, the renaming, and the model it fits."""

    name: str  # "HiNet", "IRN"
    key: re.Pattern[str]  # groups: prefix, block, sub, conv, param
    subnets: dict[str, str]  # official subnet name -> ours
    block_offset: int  # official block number - our block index
    template: str  # an official key from prefix, block, sub, conv, param
    build: Callable[[dict[str, Tensor], str, Path], nn.Module]  # from the renamed tensors
    fixed: re.Pattern[str] | None = None  # keys of tensors that are not learned (checked, dropped)

    def to_ours(self, key: str) -> str | None:
        """Our state-dict key for an official one, or ``None`` if it is not a conv key."""
        m = self.key.match(key)
        if m is None:
            return None
        block, conv = int(m["block"]) - self.block_offset, int(m["conv"]) - 1
        return f"net.blocks.{block}.{self.subnets[m['sub']]}.convs.{conv}.{m['param']}"

    def to_official(self, key: str, prefix: str) -> str:
        """The official name of one of our keys, so errors speak the user's file's language."""
        m = _OUR_KEY.match(key)
        if m is None:  # a parameter a model might grow later; name it as is
            return key
        official = {ours: theirs for theirs, ours in self.subnets.items()}[m["sub"]]
        block, conv = int(m["block"]) + self.block_offset, int(m["conv"]) + 1
        return self.template.format(prefix=prefix, block=block, sub=official, conv=conv, param=m["param"])


def _blocks(mapped: dict[str, Tensor]) -> set[int]:
    return {int(_OUR_KEY.match(key)["block"]) for key in mapped}  # type: ignore[index]


def _growth(
    fmt: OfficialFormat, mapped: dict[str, Tensor], prefix: str, source: Path, first_block: int
) -> int:
    first = f"net.blocks.{first_block}.phi.convs.0.weight"
    if first not in mapped:
        raise WeightsError(
            f"{source} does not fit {fmt.name}: missing key {fmt.to_official(first, prefix)!r}"
        )
    return mapped[first].shape[0]


def _build_hinet(mapped: dict[str, Tensor], prefix: str, source: Path) -> nn.Module:
    """Blocks from the highest ``inv{k}``; growth from the first conv's output channels. The
    remaining fields (clamp 2.0, 3 image channels, 1 secret) are the official ones; a
    checkpoint that differs fails the shape check."""
    from invsteg.models.hinet import HiNet, HiNetConfig

    blocks = 1 + max(_blocks(mapped))
    return HiNet(HiNetConfig(blocks=blocks, growth=_growth(HINET, mapped, prefix, source, 0)))


def _build_irn(mapped: dict[str, Tensor], prefix: str, source: Path) -> nn.Module:
    """Levels from the gaps between coupling indices (the Haar steps), couplings per level
    from their count; growth from the first conv. Clamp 1 and LeakyReLU 0.2 are official."""
    from invsteg.models.irn import IRN, IRNConfig

    couplings = _blocks(mapped)
    haar = sorted(set(range(max(couplings) + 1)) - couplings)
    levels = len(haar)
    blocks = len(couplings) // max(levels, 1)
    if levels not in (1, 2) or haar != [level * (blocks + 1) for level in range(levels)]:
        raise WeightsError(
            f"{source} does not fit IRN: couplings {sorted(couplings)} are not 1 or 2 levels of equal size"
        )
    first = min(couplings)
    return IRN(
        IRNConfig(levels=levels, blocks=blocks, growth=_growth(IRN_FORMAT, mapped, prefix, source, first))
    )


HINET = OfficialFormat(
    "HiNet",
    # "module." comes from DataParallel, "model." from the official Model wrapper around Hinet.
    re.compile(
        r"^(?P<prefix>(?:module\.)?(?:model\.)?)"
        r"inv(?P<block>[1-9]\d*)\.(?P<sub>[fry])\.conv(?P<conv>[1-9]\d*)\.(?P<param>weight|bias)$"
    ),
    # f updates the cover half, r scales and y shifts the secret half.
    {"f": "phi", "r": "rho", "y": "eta"},
    1,
    "{prefix}inv{block}.{sub}.conv{conv}.{param}",
    _build_hinet,
)
IRN_FORMAT = OfficialFormat(
    "IRN",
    re.compile(
        r"^(?P<prefix>(?:module\.)?)"
        r"operations\.(?P<block>\d+)\.(?P<sub>[FGH])\.conv(?P<conv>[1-9]\d*)\.(?P<param>weight|bias)$"
    ),
    # F updates the small image; H scales and G shifts the lost part.
    {"F": "phi", "H": "rho", "G": "eta"},
    0,
    "{prefix}operations.{block}.{sub}.conv{conv}.{param}",
    _build_irn,
    re.compile(r"^(?P<prefix>(?:module\.)?)operations\.(?P<block>\d+)\.haar_weights$"),
)
FORMATS = (HINET, IRN_FORMAT)


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


def _state_dict(checkpoint: Any, source: Path, what: str) -> dict[str, Tensor]:
    """The network's state dict: the ``net`` entry, or the checkpoint itself if it is one."""
    if not isinstance(checkpoint, dict):
        raise WeightsError(
            f"{source} is not a {what} checkpoint: it holds a {type(checkpoint).__name__}, not a dict"
        )
    # The official HiNet script saves {"net": ..., "opt": ...}; "opt" is optimiser state.
    state = checkpoint.get("net", checkpoint)
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"{source} is not a {what} checkpoint: no state dict under 'net'")
    for key, value in state.items():
        if not isinstance(value, Tensor):
            raise WeightsError(f"{source} is not a {what} checkpoint: entry {key!r} is not a tensor")
    return state


def _detect(state: dict[str, Tensor], source: Path) -> OfficialFormat:
    """The format whose key patterns the checkpoint's first key follows."""
    first = next(iter(state))
    for fmt in FORMATS:
        if fmt.key.match(first) or (fmt.fixed and fmt.fixed.match(first)):
            return fmt
    raise WeightsError(f"{source} is neither a HiNet nor an IRN checkpoint: unexpected key {first!r}")


def _map_keys(
    fmt: OfficialFormat, state: dict[str, Tensor], source: Path
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Rename every key; return ``(ours -> tensor, ours -> official key)``."""
    mapped: dict[str, Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in state.items():
        if fmt.fixed and fmt.fixed.match(key):
            _check_haar_filters(key, value, source)
            continue
        ours = fmt.to_ours(key)
        if ours is None:
            raise WeightsError(f"{source} does not fit {fmt.name}: unexpected key {key!r}")
        if ours in mapped:  # e.g. both "module.model.inv1..." and "model.inv1..."
            raise WeightsError(
                f"{source} does not fit {fmt.name}: duplicate key {key!r} (also {origin[ours]!r})"
            )
        mapped[ours], origin[ours] = value, key
    return mapped, origin


def _check_haar_filters(key: str, value: Tensor, source: Path) -> None:
    """IRN's fixed Haar filters: ``(4C, 1, 2, 2)`` of +-1, the same four for every channel.
    Any other values would make the official network compute something ours does not."""
    pattern = torch.ones(4, 1, 2, 2)
    pattern[1, 0, :, 1] = -1
    pattern[2, 0, 1, :] = -1
    pattern[3, 0, 1, 0] = pattern[3, 0, 0, 1] = -1
    channels = value.shape[0] // 4 if value.ndim == 4 else 0
    if (
        channels == 0
        or value.shape != (4 * channels, 1, 2, 2)
        or not torch.equal(value.float(), torch.cat([pattern] * channels))
    ):
        raise WeightsError(f"{source} does not fit IRN: {key!r} is not the Haar filters")


def _build(fmt: OfficialFormat, mapped: dict[str, Tensor], origin: dict[str, str], source: Path) -> nn.Module:
    """The model holding exactly the checkpoint's tensors, or a ``WeightsError`` saying why not."""
    prefix = fmt.key.match(next(iter(origin.values())))["prefix"]  # type: ignore[index]
    model = fmt.build(mapped, prefix, source)
    expected = model.state_dict()
    for key, value in expected.items():
        if key not in mapped:
            raise WeightsError(
                f"{source} does not fit {fmt.name}: missing key {fmt.to_official(key, prefix)!r}"
            )
        if mapped[key].shape != value.shape:
            raise WeightsError(
                f"{source} does not fit {fmt.name}: {origin[key]!r} has shape {tuple(mapped[key].shape)}, "
                f"expected {tuple(value.shape)}"
            )
    for key in mapped:
        if key not in expected:  # e.g. inv1.f.conv6.weight: keys beyond the dense block
            raise WeightsError(f"{source} does not fit {fmt.name}: unexpected key {origin[key]!r}")
    for key, value in mapped.items():
        # A NaN/inf checkpoint would convert "successfully" and then hide garbage.
        if not value.is_floating_point() or not torch.isfinite(value).all():
            raise WeightsError(f"{source}: {origin[key]!r} is not a finite float tensor")
    model.load_state_dict({k: v.to(torch.float32) for k, v in mapped.items()}, strict=True)
    return model.eval()


def convert_official(
    source: Path, destination: Path, *, trust_pickle: bool = False, expect: str | None = None
) -> dict[str, Any]:
    """Convert an official HiNet or IRN checkpoint ``source`` to an invsteg safetensors file
    (the format is recognised from its keys; ``expect`` = "HiNet" or "IRN" insists on one).

    Returns ``{"model", "architecture", "config", "tensors", "parameters"}`` (HiNet also
    ``blocks`` and ``growth``). ``destination`` is written atomically and only on success.
    Raises :class:`InputFileError` if ``source`` is missing, :class:`WeightsError` if it is
    not a torch checkpoint or does not map one-to-one onto the model.
    """
    source, destination = Path(source), Path(destination)
    if not source.is_file():
        raise InputFileError(f"checkpoint not found: {source}")
    state = _state_dict(_load_checkpoint(source, trust_pickle=trust_pickle), source, expect or "HiNet or IRN")
    fmt = next(f for f in FORMATS if f.name == expect) if expect else _detect(state, source)
    mapped, origin = _map_keys(fmt, state, source)
    model = _build(fmt, mapped, origin, source)
    save_weights(model, destination, {"invsteg.converted_from": f"official {fmt.name}"})
    summary: dict[str, Any] = {
        "model": _registered_name(fmt, model),
        "tensors": len(mapped),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if fmt is HINET:
        summary |= {"blocks": model.config.blocks, "growth": model.config.growth}
    else:
        summary |= {"scale": model.scale, "blocks": model.config.blocks, "growth": model.config.growth}
    return summary


def _registered_name(fmt: OfficialFormat, model: nn.Module) -> str:
    return MODEL_NAME if fmt is HINET else f"irn-official-x{model.scale}"


def convert_official_hinet(source: Path, destination: Path, *, trust_pickle: bool = False) -> dict[str, Any]:
    """:func:`convert_official` of a HiNet checkpoint: ``{"model", "blocks", "growth",
    "tensors", "parameters"}``."""
    return convert_official(source, destination, trust_pickle=trust_pickle, expect="HiNet")
