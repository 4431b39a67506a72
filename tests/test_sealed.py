"""Payload format 2 (``invsteg.payload.sealed``): layout, keys and every failure's type.

Signs here are random arrays standing for a cover's latent signs; the image side is tested
in test_embed.py. Format constants are pinned: a stego must decode forever.
"""

from __future__ import annotations

import numpy as np
import pytest

from invsteg.payload import matrix, sealed
from invsteg.payload.errors import (
    NoPayloadError,
    PassphraseNotExpectedError,
    PayloadCorruptedError,
    PayloadTooLargeError,
)

CARRIERS = 40_000


# Cheap key derivations in this process (conftest); the tests that pin the real cost
# put it back, and ``python -m invsteg`` runs keep it.
pytestmark = pytest.mark.usefixtures("fast_kdf")


def embedded(
    data: bytes, passphrase: str | None, seed: int = 0, **kw: object
) -> tuple[np.ndarray, sealed.Sealed]:
    rng = np.random.default_rng(seed)
    message = sealed.seal(
        data,
        file_name="f.bin",
        wire_id=4,
        passphrase=passphrase,
        carriers=CARRIERS,
        random_bytes=rng.bytes,
        **kw,
    )
    cover = rng.integers(0, 2, CARRIERS, dtype=np.uint8)
    return cover ^ message.flips(cover, rng.random(CARRIERS)), message


def test_the_real_kdf_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at the format's cost (128 MiB, 5 passes, 4 lanes) gives this key forever."""
    monkeypatch.undo()
    assert (sealed.ARGON2_MEMORY_KIB, sealed.ARGON2_ITERATIONS, sealed.ARGON2_LANES) == (131072, 5, 4)
    key = sealed.locator_key("correct horse")
    assert key.hex() == "6e041ccf1f5d2b819741ca0594bd781f2368da025e48265b9259bbad820f4bab"
    assert sealed.PUBLIC_LOCATOR.hex() == "93e8599134a5943ee2f5687f35a41bd1ecec2d3bf03b1bbfcbd766f8c7e54f4b"


def test_a_small_file_touches_few_carriers_and_a_large_one_more() -> None:
    small = embedded(b"x", None)[1]
    large = embedded(np.random.default_rng(1).bytes(1500), None)[1]
    full = embedded(np.random.default_rng(1).bytes(sealed.capacity_bytes(CARRIERS, file_name="f.bin")), None)[
        1
    ]
    assert small.used.size < large.used.size < full.used.size <= CARRIERS
    assert small.body.code == sealed.Trellis(sealed.MAX_BODY_WIDTH)
    assert large.body.code == sealed.Trellis(sealed.MIN_BODY_WIDTH)
    assert full.body.code == sealed.Hamming(sealed.MIN_BODY_ORDER)
    assert small.head.used.size <= sealed.head_carriers(CARRIERS)


def test_stegos_of_every_layout_open() -> None:
    """The trellis layout (the writer's first choice), the Hamming one it falls back to, and
    the Hamming codes of orders up to 16 that writers used before 2026-11-29: a small file
    then read several times the carriers it reads now, and each read carrier near an edit
    is one more to put back."""
    trellis, hamming, before = (embedded(b"x", "pw", layout=layout) for layout in sealed.LAYOUTS)
    assert sealed.LAYOUTS[:2] == sealed.WRITE_LAYOUTS
    assert trellis[1].body.code == sealed.Trellis(4) and trellis[1].head.code == sealed.Hamming(4)
    assert hamming[1].body.code == hamming[1].head.code == sealed.Hamming(4)
    assert before[1].head.code.order > 4 and before[1].body.code.order > 4
    assert before[1].used.size > 2 * hamming[1].used.size
    for signs, _ in (trellis, hamming, before):
        assert sealed.open_signs(signs, passphrase="pw").data == b"x"


def test_capacity_is_exact() -> None:
    room = sealed.capacity_bytes(CARRIERS, file_name="f.bin", encrypted=True)
    data = np.random.default_rng(2).bytes(room)  # random: does not compress
    signs, _ = embedded(data, "pw")
    assert sealed.open_signs(signs, passphrase="pw").data == data
    with pytest.raises(PayloadTooLargeError):
        embedded(data + b"!", "pw")
    assert sealed.capacity_bytes(sealed.MIN_CARRIERS - 1) == 0


def test_wrong_or_missing_passphrase_finds_nothing() -> None:
    signs, _ = embedded(b"secret", "pw")
    with pytest.raises(NoPayloadError, match="wrong passphrase"):
        sealed.open_signs(signs, passphrase="other")
    with pytest.raises(NoPayloadError, match="give the passphrase"):
        sealed.open_signs(signs, passphrase=None)


def test_a_passphrase_for_an_unencrypted_payload_is_named() -> None:
    signs, _ = embedded(b"open", None)
    with pytest.raises(PassphraseNotExpectedError):
        sealed.open_signs(signs, passphrase="pw")


def test_damage_within_the_codes_is_repaired_and_beyond_them_is_an_error() -> None:
    data = np.random.default_rng(3).bytes(1500)
    signs, message = embedded(data, None)
    rng = np.random.default_rng(4)
    few = signs.copy()
    few[rng.choice(message.body.used, 20, replace=False)] ^= 1  # a few wrong carriers
    assert sealed.open_signs(few, passphrase=None).data == data
    many = signs.copy()
    many[rng.choice(message.body.used, message.body.used.size // 3, replace=False)] ^= 1
    with pytest.raises(PayloadCorruptedError):
        sealed.open_signs(many, passphrase=None)
    head_gone = signs.copy()
    head_gone[rng.choice(message.head.used, message.head.used.size // 2, replace=False)] ^= 1
    with pytest.raises(NoPayloadError):
        sealed.open_signs(head_gone, passphrase=None)


def test_every_message_has_its_own_salt_order_and_bits() -> None:
    """One file, one passphrase: the body lands on other carriers and the head's bits
    differ (its positions are the passphrase's)."""
    first = embedded(b"same", "pw", seed=5)[1]
    second = embedded(b"same", "pw", seed=6)[1]
    assert np.array_equal(first.head.positions, second.head.positions)
    assert (first.head.bits != second.head.bits).mean() > 0.3
    overlap = np.intersect1d(first.body.used, second.body.used).size
    assert overlap < 0.5 * first.body.used.size
    assert first.blob != second.blob


def test_matrix_code_orders_follow_the_room() -> None:
    assert matrix.code_order(7, 3) == 3 and matrix.code_order(6, 3) == 2 and matrix.code_order(2, 3) == 0
    assert matrix.carriers_used(10, 3) == 4 * 7
