#!/usr/bin/env bash
# Hide examples/secret.png in examples/cover.png, reveal it from the saved PNG, print both PSNRs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
invsteg hide "$here/cover.png" "$here/secret.png" -o "$out/stego.png"
invsteg reveal "$out/stego.png" -o "$out/revealed.png"
python - "$here" "$out" <<'PY'
import sys
from invsteg.eval.quality import compare
from invsteg.api import read_image

here, out = sys.argv[1:]
stego = compare(read_image(f"{out}/stego.png", "stego").pixels, read_image(f"{here}/cover.png", "cover").pixels)
secret = compare(read_image(f"{out}/revealed.png", "revealed").pixels, read_image(f"{here}/secret.png", "secret").pixels)
print(f"stego vs cover:     PSNR {stego['psnr']:.2f} dB, SSIM {stego['ssim']:.4f}")
print(f"revealed vs secret: PSNR {secret['psnr']:.2f} dB, SSIM {secret['ssim']:.4f}")
PY
