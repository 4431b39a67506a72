"""Converting the official HiNet checkpoint: exact forward-pass parity and clean refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from helpers import official_irn_haar
from invsteg.errors import InputFileError, WeightsError
from invsteg.zoo import load_weights_file
from invsteg.zoo.convert import convert_official, convert_official_hinet

BLOCKS, GROWTH, BAND, CLAMP = 16, 32, 12, 2.0


def official_state(prefix: str = "module.model.", seed: int = 0) -> dict[str, Tensor]:
    """A random state dict in the official layout (small std keeps 16 blocks finite)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for k in range(1, BLOCKS + 1):
        for sub in "fry":
            for m in range(1, 6):
                cin = BAND + (m - 1) * GROWTH
                cout = GROWTH if m < 5 else BAND
                name = f"{prefix}inv{k}.{sub}.conv{m}"
                state[f"{name}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.02
                state[f"{name}.bias"] = torch.randn(cout, generator=gen) * 0.02
    return state


def save_official(path: Path, state: dict[str, Tensor]) -> Path:
    # The official training script also stores optimiser state under "opt".
    torch.save(
        {"opt": {"state": {}, "param_groups": [{"lr": 1e-4, "betas": (0.5, 0.999)}]}, "net": state}, path
    )
    return path


# --- an independent re-statement of the official forward pass -------------------------


def ref_dwt(x: Tensor) -> Tensor:
    x1 = x[:, :, 0::2, 0::2] / 2
    x2 = x[:, :, 1::2, 0::2] / 2
    x3 = x[:, :, 0::2, 1::2] / 2
    x4 = x[:, :, 1::2, 1::2] / 2
    ll = x1 + x2 + x3 + x4
    hl = -x1 - x2 + x3 + x4
    lh = -x1 + x2 - x3 + x4
    hh = x1 - x2 - x3 + x4
    return torch.cat((ll, hl, lh, hh), 1)


def ref_iwt(y: Tensor) -> Tensor:
    c = y.shape[1] // 4
    x1, x2, x3, x4 = (y[:, i * c : (i + 1) * c] / 2 for i in range(4))
    b, _, h, w = x1.shape
    out = torch.zeros(b, c, 2 * h, 2 * w)
    out[:, :, 0::2, 0::2] = x1 - x2 - x3 + x4
    out[:, :, 1::2, 0::2] = x1 - x2 + x3 - x4
    out[:, :, 0::2, 1::2] = x1 + x2 - x3 - x4
    out[:, :, 1::2, 1::2] = x1 + x2 + x3 + x4
    return out


def ref_dense(state: dict[str, Tensor], name: str, x: Tensor, slope: float = 0.01) -> Tensor:
    def conv(m: int, inp: Tensor) -> Tensor:
        return F.conv2d(inp, state[f"{name}.conv{m}.weight"], state[f"{name}.conv{m}.bias"], padding=1)

    x1 = F.leaky_relu(conv(1, x), slope)
    x2 = F.leaky_relu(conv(2, torch.cat((x, x1), 1)), slope)
    x3 = F.leaky_relu(conv(3, torch.cat((x, x1, x2), 1)), slope)
    x4 = F.leaky_relu(conv(4, torch.cat((x, x1, x2, x3), 1)), slope)
    return conv(5, torch.cat((x, x1, x2, x3, x4), 1))


def ref_hide(
    state: dict[str, Tensor], cover: Tensor, secret: Tensor, prefix: str = "module.model."
) -> Tensor:
    x = torch.cat((ref_dwt(cover), ref_dwt(secret)), 1)
    for k in range(1, BLOCKS + 1):
        p = f"{prefix}inv{k}"
        x1, x2 = x[:, :BAND], x[:, BAND:]
        y1 = x1 + ref_dense(state, f"{p}.f", x2)
        s = 2 * CLAMP * (torch.sigmoid(ref_dense(state, f"{p}.r", y1)) - 0.5)
        y2 = x2 * torch.exp(s) + ref_dense(state, f"{p}.y", y1)
        x = torch.cat((y1, y2), 1)
    return ref_iwt(x[:, :BAND])


# --- tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def state() -> dict[str, Tensor]:
    return official_state()


@pytest.fixture(scope="module")
def images() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(1, 3, 32, 32, generator=gen), torch.rand(1, 3, 32, 32, generator=gen)


def test_reference_transform_round_trips(images: tuple[Tensor, Tensor]) -> None:
    cover, _ = images
    torch.testing.assert_close(ref_iwt(ref_dwt(cover)), cover, rtol=0, atol=1e-6)


def test_converted_model_matches_official_forward(tmp_path: Path, state, images) -> None:
    source = save_official(tmp_path / "model.pt", state)
    summary = convert_official_hinet(source, tmp_path / "hinet.safetensors")
    assert summary["model"] == "hinet-official"
    assert summary["tensors"] == BLOCKS * 3 * 5 * 2
    assert summary["parameters"] == 4_050_240
    model = load_weights_file(tmp_path / "hinet.safetensors")
    cover, secret = images
    with torch.no_grad():
        stego = model.hide(cover, secret)[0]
        expected = ref_hide(state, cover, secret)
    # The couplings must really act, or parity would be trivially true.
    assert (expected - cover).abs().max() > 1e-3
    torch.testing.assert_close(stego, expected, rtol=0, atol=1e-5)


def test_checkpoint_without_module_prefix_converts(tmp_path: Path, state, images) -> None:
    plain = {key.removeprefix("module."): value for key, value in state.items()}
    source = save_official(tmp_path / "model.pt", plain)
    convert_official_hinet(source, tmp_path / "hinet.safetensors")
    model = load_weights_file(tmp_path / "hinet.safetensors")
    cover, secret = images
    with torch.no_grad():
        torch.testing.assert_close(
            model.hide(cover, secret)[0], ref_hide(plain, cover, secret, "model."), rtol=0, atol=1e-5
        )


def test_missing_key_is_refused(tmp_path: Path, state) -> None:
    broken = dict(state)
    del broken["module.model.inv3.r.conv2.bias"]
    source = save_official(tmp_path / "model.pt", broken)
    destination = tmp_path / "hinet.safetensors"
    with pytest.raises(WeightsError, match=r"model\.pt.*missing key 'module\.model\.inv3\.r\.conv2\.bias'"):
        convert_official_hinet(source, destination)
    assert not destination.exists()
    assert list(tmp_path.iterdir()) == [source]  # no temp file left behind either


def test_unexpected_key_is_refused(tmp_path: Path, state) -> None:
    broken = dict(state) | {"module.model.extra.weight": torch.zeros(1)}
    source = save_official(tmp_path / "model.pt", broken)
    destination = tmp_path / "hinet.safetensors"
    with pytest.raises(WeightsError, match=r"unexpected key 'module\.model\.extra\.weight'"):
        convert_official_hinet(source, destination)
    assert not destination.exists()


def test_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.pt"
    source.write_text("this is not a torch checkpoint\n")
    destination = tmp_path / "hinet.safetensors"
    with pytest.raises(WeightsError, match=r"model\.pt"):
        convert_official_hinet(source, destination)
    assert not destination.exists()


def test_missing_source_is_an_input_error(tmp_path: Path) -> None:
    destination = tmp_path / "hinet.safetensors"
    with pytest.raises(InputFileError, match=r"nope\.pt"):
        convert_official_hinet(tmp_path / "nope.pt", destination)
    assert not destination.exists()


# --- IRN: the official key layout (operations.{i}.{F,G,H}.conv{m}), x2 and x4 -----------------

IRN_GROWTH = 8  # small, so the test is fast; the converter reads it from the checkpoint


def official_irn_state(levels: int, blocks: int, seed: int = 0) -> dict[str, Tensor]:
    """A random state dict as IRN's ``network.state_dict()``: Haar steps hold their filters."""
    gen = torch.Generator().manual_seed(seed)
    state, channels, op = {}, 3, 0
    for _ in range(levels):
        state[f"operations.{op}.haar_weights"] = haar_filters(channels)
        channels *= 4
        op += 1
        for _ in range(blocks):
            for sub, (cin, cout) in {
                "F": (channels - 3, 3),
                "G": (3, channels - 3),
                "H": (3, channels - 3),
            }.items():
                for m in range(1, 6):
                    width, out = cin + (m - 1) * IRN_GROWTH, IRN_GROWTH if m < 5 else cout
                    state[f"operations.{op}.{sub}.conv{m}.weight"] = (
                        torch.randn(out, width, 3, 3, generator=gen) * 0.05
                    )
                    state[f"operations.{op}.{sub}.conv{m}.bias"] = torch.randn(out, generator=gen) * 0.05
            op += 1
    return state


def haar_filters(channels: int) -> Tensor:
    w = torch.ones(4, 1, 2, 2)
    w[1, 0, 0, 1] = w[1, 0, 1, 1] = -1
    w[2, 0, 1, 0] = w[2, 0, 1, 1] = -1
    w[3, 0, 1, 0] = w[3, 0, 0, 1] = -1
    return torch.cat([w] * channels)


def ref_irn_downscale(state: dict[str, Tensor], x: Tensor, levels: int, blocks: int) -> Tensor:
    """The official InvRescaleNet forward (Haar, then InvBlockExp with clamp 1), restated."""
    op = 0
    for _ in range(levels):
        x = official_irn_haar(x)
        op += 1
        for _ in range(blocks):
            p = f"operations.{op}"
            x1, x2 = x[:, :3], x[:, 3:]
            y1 = x1 + ref_dense(state, f"{p}.F", x2, 0.2)
            s = torch.sigmoid(ref_dense(state, f"{p}.H", y1, 0.2)) * 2 - 1
            x = torch.cat((y1, x2 * torch.exp(s) + ref_dense(state, f"{p}.G", y1, 0.2)), 1)
            op += 1
    return x


@pytest.mark.parametrize("levels", [1, 2])
def test_official_irn_checkpoint_converts_and_matches_its_forward(tmp_path: Path, levels: int) -> None:
    blocks = 2
    state = official_irn_state(levels, blocks)
    source = tmp_path / f"IRN_x{2**levels}.pth"
    torch.save(state, source)
    summary = convert_official(source, tmp_path / "irn.safetensors")
    assert summary["model"] == f"irn-official-x{2**levels}"
    assert (summary["scale"], summary["blocks"], summary["growth"]) == (2**levels, blocks, IRN_GROWTH)
    model = load_weights_file(tmp_path / "irn.safetensors")
    x = torch.rand(1, 3, 16, 24, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model(x)
        expected = ref_irn_downscale(state, x, levels, blocks)
        identity = ref_irn_downscale({k: v * 0 for k, v in state.items() if "conv" in k}, x, levels, blocks)
    assert (expected - identity).abs().max() > 1e-3  # the couplings really act
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)


def test_irn_checkpoint_with_a_missing_coupling_is_refused(tmp_path: Path) -> None:
    state = {k: v for k, v in official_irn_state(1, 2).items() if not k.startswith("operations.2.G.conv3.")}
    torch.save(state, tmp_path / "IRN_x2.pth")
    with pytest.raises(WeightsError, match=r"missing key 'operations\.2\.G\.conv3\.weight'"):
        convert_official(tmp_path / "IRN_x2.pth", tmp_path / "irn.safetensors")
    assert not (tmp_path / "irn.safetensors").exists()


def test_irn_checkpoint_of_uneven_levels_is_refused(tmp_path: Path) -> None:
    state = {k: v for k, v in official_irn_state(2, 2).items() if not k.startswith("operations.4.")}
    torch.save(state, tmp_path / "IRN_x4.pth")
    with pytest.raises(WeightsError, match="not 1 or 2 levels of equal size"):
        convert_official(tmp_path / "IRN_x4.pth", tmp_path / "irn.safetensors")


def test_irn_checkpoint_with_other_haar_filters_is_refused(tmp_path: Path) -> None:
    state = official_irn_state(1, 1)
    state["operations.0.haar_weights"] = -state["operations.0.haar_weights"]
    torch.save(state, tmp_path / "IRN_x2.pth")
    with pytest.raises(WeightsError, match=r"'operations\.0\.haar_weights' is not the Haar filters"):
        convert_official(tmp_path / "IRN_x2.pth", tmp_path / "irn.safetensors")


def test_neither_hinet_nor_irn_is_refused(tmp_path: Path) -> None:
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="neither a HiNet nor an IRN checkpoint"):
        convert_official(tmp_path / "other.pth", tmp_path / "x.safetensors")
