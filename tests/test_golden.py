"""Golden outputs (tests/golden/manifest.json): of the release before the layout redesign,
and of embed-file's payload format 2.

Readers are bit-exact forever: a stego made by an earlier release (format 1:
``{model}.stego.png``; format 2: ``{model}.v2.stego.png`` and ``{model}.v2.embed.png``;
format 2 with Hamming codes of order up to 16 on a 256x256 cover:
``{model}.v2.orders16.stego.png``) extracts to the same bytes, and reveal and rescale up
give the same pixels from the same golden input.

Writers are checked for what holds on any CPU: their float output depends on the BLAS and
oneDNN kernels (AVX2, AVX-512, AMX) and the thread count, so a sample may round the other
way. A writer's new output must agree with its golden in nearly every sample it changed,
and a new stego must extract to the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from invsteg.pipelines import embedding, hiding
from invsteg.zoo import create_model, get_spec

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
# Of the samples a writer changed (in its output or in the golden), the share that must be
# the same: the kernels of another CPU moved 1 sample in ~10,000 (AVX-512/AMX against AVX2).
WRITER_AGREEMENT = 0.99
# The instruction set pinned to AVX2 before Python starts, as on the machines that made the
# goldens: the BLAS (MKL), oneDNN and ATen's own kernels each read one of these.
AVX2_KERNELS = {
    "MKL_CBWR": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}


def _cover(entry: dict) -> np.ndarray:
    return _image(entry.get("cover", "cover.png"))


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / name).convert("RGB"))


def _assert_same(actual: np.ndarray, name: str) -> None:
    """A reader's golden: the same pixels, bit for bit."""
    expected = _image(name)
    differ = int((actual != expected).any(axis=2).sum())
    assert differ == 0, f"{name}: {differ} pixels differ from the golden output"


def writer_agreement(actual: np.ndarray, golden: np.ndarray, source: np.ndarray) -> float:
    """Of the samples a writer changed from ``source`` (in ``actual`` or in ``golden``), the
    share it changed to the same value in both; 1.0 when neither changed any."""
    changed = (actual != source) | (golden != source)
    if not changed.any():
        return 1.0
    return float((actual == golden)[changed].mean())


def _assert_writes_like(actual: np.ndarray, name: str, source: np.ndarray) -> None:
    """A writer's golden: nearly every changed sample agrees (see the module docstring)."""
    expected = _image(name)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape}, golden {expected.shape}"
    if actual.shape == source.shape:
        share = writer_agreement(actual, expected, source)
    else:  # a rescaled image: every sample is new
        share = float((actual == expected).mean())
    assert share >= WRITER_AGREEMENT, f"{name}: only {share:.2%} of the changed samples agree"


def test_writer_agreement_counts_only_changed_samples() -> None:
    source = np.zeros((10, 10, 3), np.uint8)
    golden = source.copy()
    golden[0, :, 0] = 5  # the golden writer changed 10 samples
    same, one_off, elsewhere = golden.copy(), golden.copy(), golden.copy()
    one_off[0, 0, 0] = 4
    elsewhere[9, 9, 2] = 1  # an 11th change, not in the golden
    assert writer_agreement(same, golden, source) == 1.0
    assert writer_agreement(one_off, golden, source) == 0.9
    assert writer_agreement(elsewhere, golden, source) == 10 / 11
    assert writer_agreement(source, source, source) == 1.0


@pytest.mark.parametrize("name", sorted(MANIFEST["hide"]))
def test_hiding_models_reproduce_their_golden_stego_and_secrets(name, single_thread) -> None:
    net = create_model(name)
    secrets = [_image(s) for s in MANIFEST["hide"][name]["secrets"]]
    stego = hiding.hide(_image("cover.png"), *secrets, net=net).stego
    _assert_writes_like(stego, f"{name}.stego.png", _image("cover.png"))
    revealed = hiding.reveal_all(_image(f"{name}.stego.png"), net=net)
    suffixes = [""] if len(revealed) == 1 else [str(i) for i in range(1, len(revealed) + 1)]
    for image, suffix in zip(revealed, suffixes, strict=True):
        _assert_same(image, f"{name}.revealed{suffix}.png")


@pytest.mark.parametrize(
    ("name", "kind", "suffix"),
    [(name, "embed", ".stego") for name in sorted(MANIFEST["embed"])]
    + [(name, "embed_v2", ".v2.stego") for name in sorted(MANIFEST["embed_v2"])]
    + [(name, "embed_v2", ".v2.embed") for name in sorted(MANIFEST["embed_v2"])]
    + [(name, "embed_cover256", ".v2.orders16.stego") for name in sorted(MANIFEST["embed_cover256"])],
)
def test_golden_stegos_extract_forever(name, kind, suffix, single_thread) -> None:
    entry = MANIFEST[kind][name]
    unpacked = embedding.extract_file(
        _image(f"{name}{suffix}.png"), passphrase=entry["passphrase"], model=create_model(name)
    )
    assert unpacked.data == entry["data"].encode()
    assert unpacked.file_name == entry["file_name"]
    assert unpacked.wire_id == get_spec(name).wire_id


EMBEDDINGS = [(name, "embed_v2", f"{name}.v2t.embed.png") for name in sorted(MANIFEST["embed_v2"])] + [
    (name, "embed_cover256", f"{name}.v2t.cover256.embed.png") for name in MANIFEST["embed_cover256"]
]
# The case whose stego moved by one sample on an AVX-512/AMX CPU: the float-sensitive path
# that the kernel and thread variants below run again.
FLOAT_SENSITIVE = ("stegcinn-fast", "embed_v2", "stegcinn-fast.v2t.embed.png")


def _assert_embeds_like_its_golden(name: str, kind: str, golden: str) -> None:
    entry = MANIFEST[kind][name]
    cover = _cover(entry)
    stego, _ = embedding.embed_file(
        cover,
        entry["data"].encode(),
        file_name=entry["file_name"],
        passphrase=entry["passphrase"],
        model=create_model(name),
        wire_id=get_spec(name).wire_id,
        random_bytes=np.random.default_rng(7).bytes,
    )
    _assert_writes_like(stego, golden, cover)
    unpacked = embedding.extract_file(stego, passphrase=entry["passphrase"], model=create_model(name))
    assert unpacked.data == entry["data"].encode()
    assert unpacked.file_name == entry["file_name"]


@pytest.mark.parametrize(("name", "kind", "golden"), EMBEDDINGS)
def test_embedding_reproduces_its_golden_stego(name, kind, golden, single_thread) -> None:
    """Today's embedder (``.v2t``: the trellis-coded body, since 2026-11-29), on the small
    cover and on a 256x256 one, on one thread: its stego changes the samples the golden
    changed, to :data:`WRITER_AGREEMENT`, and extracts to the same bytes. Stegos of earlier
    writers are kept above as extraction goldens (``.v2.embed``: the Hamming writer of
    2026-11-28)."""
    _assert_embeds_like_its_golden(name, kind, golden)


def test_embedding_golden_holds_with_the_default_threads() -> None:
    """As above with as many threads as torch picks here: a thread count changes how a
    convolution's sums are split, hence their rounding."""
    _assert_embeds_like_its_golden(*FLOAT_SENSITIVE)


def test_embedding_golden_holds_with_the_kernels_pinned_to_avx2() -> None:
    """The float-sensitive case again, on one thread, in a fresh Python whose BLAS, oneDNN
    and ATen kernels are pinned to AVX2 (the variables act only if set before torch loads)."""
    test = f"{Path(__file__).name}::test_embedding_reproduces_its_golden_stego[{'-'.join(FLOAT_SENSITIVE)}]"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=Path(__file__).parent,
        env=os.environ | AVX2_KERNELS,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 passed" in proc.stdout, proc.stdout[-500:]


@pytest.mark.parametrize("name", sorted(MANIFEST.get("rescale", {})))
def test_rescalers_reproduce_their_golden_small_and_restored_images(name, single_thread) -> None:
    """The small PNG (a writer's output: to :data:`WRITER_AGREEMENT`; its note exactly) and
    what `rescale up` makes of the golden one (a reader: bit for bit): the network's own
    small image (``refine=0``, ``.down``) and today's default search over its levels
    (``.refined.down``, since 2026-11-29)."""
    from invsteg import api
    from invsteg.io.images import decode_image

    net = create_model(name)
    down = api.rescale_down(_image("cover.png"), net=net, model=name, refine=0)
    _assert_writes_like(down.pixels, f"{name}.down.png", _image("cover.png"))
    golden = decode_image((GOLDEN / f"{name}.down.png").read_bytes(), f"{name}.down.png", "small")
    note = api.RescaleNote.from_text(golden.text)
    assert note == down.note
    _assert_same(api.rescale_up(golden.pixels, note=note, net=net).pixels, f"{name}.up.png")
    refined = api.rescale_down(_image("cover.png"), net=net, model=name)
    _assert_writes_like(refined.pixels, f"{name}.refined.down.png", _image("cover.png"))
