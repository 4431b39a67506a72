"""Golden outputs (tests/golden/manifest.json): of the release before the layout redesign,
and of embed-file's payload format 2.

Every shipped model must keep producing these stegos and revealed secrets bit for bit,
and the embedded files must keep extracting: a refactor changes no behaviour, and a stego
made by an earlier release (format 1: ``{model}.stego.png``; format 2:
``{model}.v2.stego.png`` and ``{model}.v2.embed.png``; format 2 with Hamming codes of order
up to 16 on a 256x256 cover: ``{model}.v2.orders16.stego.png``) decodes forever.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from invsteg.pipelines import embedding, hiding
from invsteg.zoo._pretrained import load_pretrained
from invsteg.zoo._registry import get_spec

GOLDEN = Path(__file__).parent / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())


def _cover(entry: dict) -> np.ndarray:
    return _image(entry.get("cover", "cover.png"))


def _image(name: str) -> np.ndarray:
    return np.asarray(Image.open(GOLDEN / name).convert("RGB"))


def _assert_same(actual: np.ndarray, name: str) -> None:
    expected = _image(name)
    differ = int((actual != expected).any(axis=2).sum())
    assert differ == 0, f"{name}: {differ} pixels differ from the golden output"


@pytest.mark.parametrize("name", sorted(MANIFEST["hide"]))
def test_hiding_models_reproduce_their_golden_stego_and_secrets(name, single_thread) -> None:
    net = load_pretrained(name)
    secrets = [_image(s) for s in MANIFEST["hide"][name]["secrets"]]
    stego = hiding.hide(_image("cover.png"), *secrets, net=net).stego
    _assert_same(stego, f"{name}.stego.png")
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
        _image(f"{name}{suffix}.png"), passphrase=entry["passphrase"], model=load_pretrained(name)
    )
    assert unpacked.data == entry["data"].encode()
    assert unpacked.file_name == entry["file_name"]
    assert unpacked.wire_id == get_spec(name).wire_id


@pytest.mark.parametrize(
    ("name", "kind", "golden"),
    [(name, "embed_v2", f"{name}.v2t.embed.png") for name in sorted(MANIFEST["embed_v2"])]
    + [(name, "embed_cover256", f"{name}.v2t.cover256.embed.png") for name in MANIFEST["embed_cover256"]],
)
def test_embedding_reproduces_its_golden_stego(name, kind, golden, single_thread) -> None:
    """Today's embedder, bit for bit (``.v2t``: the trellis-coded body, since 2026-11-29), on
    the small cover and on a 256x256 one. Stegos of earlier writers are kept above as
    extraction goldens (``.v2.embed``: the Hamming writer of 2026-11-28)."""
    entry = MANIFEST[kind][name]
    stego, _ = embedding.embed_file(
        _cover(entry),
        entry["data"].encode(),
        file_name=entry["file_name"],
        passphrase=entry["passphrase"],
        model=load_pretrained(name),
        wire_id=get_spec(name).wire_id,
        random_bytes=np.random.default_rng(7).bytes,
    )
    _assert_same(stego, golden)
    unpacked = embedding.extract_file(stego, passphrase=entry["passphrase"], model=load_pretrained(name))
    assert unpacked.data == entry["data"].encode()


@pytest.mark.parametrize("name", sorted(MANIFEST.get("rescale", {})))
def test_rescalers_reproduce_their_golden_small_and_restored_images(name, single_thread) -> None:
    """The small PNG (its note included) and what `rescale up` makes of it, bit for bit:
    the network's own small image (``refine=0``, ``.down``) and today's default search
    over its levels (``.refined.down``, since 2026-11-29)."""
    from invsteg import api
    from invsteg.io.images import decode_image

    net = load_pretrained(name)
    down = api.rescale_down(_image("cover.png"), net=net, model=name, refine=0)
    _assert_same(down.pixels, f"{name}.down.png")
    golden = decode_image((GOLDEN / f"{name}.down.png").read_bytes(), f"{name}.down.png", "small")
    note = api.RescaleNote.from_text(golden.text)
    assert note == down.note
    _assert_same(api.rescale_up(golden.pixels, note=note, net=net).pixels, f"{name}.up.png")
    refined = api.rescale_down(_image("cover.png"), net=net, model=name)
    _assert_same(refined.pixels, f"{name}.refined.down.png")
