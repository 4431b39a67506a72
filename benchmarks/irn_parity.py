"""Our IRN against the official code: convert an official checkpoint, run both on one photo.

Builds the official ``InvRescaleNet`` (x2: 8 blocks; x4: 8 + 8; dense blocks of growth 32,
its own xavier initialisation, then every weight perturbed so that no coupling is the
identity), saves its ``state_dict`` as the official training code does, converts it with
``invsteg.zoo.convert.convert_official`` and runs both networks forward (downscale) and
backward (upscale with the official z = 0) on the same val crop. Reports the PSNR between
the two outputs; >= 50 dB means the same network. The official code is read from a
checkout of github.com/pkuxmq/Invertible-Image-Rescaling, never copied into invsteg.

    python benchmarks/irn_parity.py --official /path/to/Invertible-Image-Rescaling
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import types
from datetime import date
from pathlib import Path

import numpy as np
import torch

from invsteg.eval.metrics import psnr
from invsteg.eval.views import center_crop
from invsteg.train.data import image_paths, load_rgb
from invsteg.zoo import load_weights_file
from invsteg.zoo.convert import convert_official
from results_file import command_line, publish

START, END = "<!-- irn_parity:start -->", "<!-- irn_parity:end -->"


def official_modules(repo: Path) -> types.ModuleType:
    """``models.modules.Inv_arch`` and ``Subnet_constructor`` of the official code, without
    running its ``models/__init__.py`` (which imports its whole training stack)."""
    modules = repo / "codes" / "models"
    for name, path in (("models", modules), ("models.modules", modules / "modules")):
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
    return importlib.import_module("models.modules.Inv_arch"), importlib.import_module(
        "models.modules.Subnet_constructor"
    )


def official_net(repo: Path, levels: int, seed: int) -> torch.nn.Module:
    inv_arch, subnets = official_modules(repo)
    torch.manual_seed(seed)
    net = inv_arch.InvRescaleNet(3, 3, subnets.subnet("DBNet", "xavier", gc=32), [8] * levels, levels)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in filter(lambda p: p.requires_grad, net.parameters()):  # not the Haar filters
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.01)
    return net.eval()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--official", type=Path, required=True, help="checkout of the official IRN code")
    parser.add_argument("--val", type=Path, default=Path("../data/val"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    photo = np.asarray(center_crop(load_rgb(image_paths(args.val)[0]), args.size))
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255
    lines = [
        START,
        f"## IRN: our network against the official code ({date.today()})",
        "",
        f"`{command_line(__file__)}`: official InvRescaleNet (growth 32, 8 blocks per level, random",
        f"weights) converted with `convert-weights`; one {args.size}x{args.size} val crop.",
        "",
        "| scale | parameters | small image + z, PSNR ours vs official | upscale (z = 0), PSNR |",
        "|---|---:|---:|---:|",
    ]
    for levels in (1, 2):
        net = official_net(args.official, levels, seed=levels)
        with tempfile.TemporaryDirectory() as folder:
            source = Path(folder) / f"IRN_x{2**levels}.pth"
            torch.save(net.state_dict(), source)
            summary = convert_official(source, Path(folder) / "irn.safetensors")
            ours = load_weights_file(Path(folder) / "irn.safetensors")
        with torch.no_grad():
            theirs_down, ours_down = net(x=x), ours(x)
            small = theirs_down[:, :3]
            zeros = torch.zeros_like(theirs_down[:, 3:])
            theirs_up = net(x=torch.cat((small, zeros), 1), rev=True)
            ours_up = ours.upscale(small)
        # PSNR on the data range of the outputs (z is not an image)
        down_db = float(psnr(ours_down, theirs_down, peak=float(theirs_down.abs().max())).min())
        up_db = float(psnr(ours_up, theirs_up).min())
        lines.append(f"| x{2**levels} | {summary['parameters']:,} | {down_db:.1f} dB | {up_db:.1f} dB |")
        print(lines[-1], flush=True)
    lines.append(END)
    publish(START, END, args.output, lines)


if __name__ == "__main__":
    main()
