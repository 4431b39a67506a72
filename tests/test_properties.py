"""Property tests (hypothesis) of the payload layer: container, Reed-Solomon, interleaver, mapper.

Each property holds for *every* input, so hypothesis searches for a counterexample instead of
a test picking a few. Example counts are sized to keep the file under a minute: scrypt
(~0.1-0.2 s per derivation) bounds the encrypted cases to a handful.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from helpers import cheap_kdfs
from invsteg.errors import PayloadError, UsageError
from invsteg.payload import (
    MAGIC,
    PassphraseNotExpectedError,
    PassphraseRequiredError,
    PayloadCorruptedError,
    WrongPassphraseError,
    bits_to_bytes,
    blob_length,
    bytes_to_bits,
    capacity_bytes,
    decode_blob,
    deinterleave,
    ecc_decode,
    ecc_encode,
    extract_payload,
    interleave,
    pack,
    unpack,
)
from invsteg.payload.container import FORMAT_VERSION, HEADER, MAX_NAME_BYTES, whiten
from invsteg.payload.ecc import CODEWORD_LEN, PUBLIC_INTERLEAVE_SEED, permutation
from invsteg.payload.frame import frame_payload

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

payloads = st.binary(max_size=600)
# Compressible payloads too: zlib is used only when it shrinks the data.
repetitive = st.builds(
    lambda chunk, times: chunk * times, st.binary(min_size=1, max_size=8), st.integers(1, 200)
)
any_data = st.one_of(payloads, repetitive)
names = st.text(max_size=300)
plain_names = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\"), max_size=60
).filter(lambda n: len(n.encode()) <= MAX_NAME_BYTES)
passphrases = st.text(min_size=1, max_size=40)
wire_ids = st.integers(0, 255)
seeds = st.binary(min_size=32, max_size=32)


def fixed_random(count: int) -> bytes:
    return bytes(range(count))


# -- container ---------------------------------------------------------------------------------


@FAST
@given(data=any_data, name=plain_names, wire_id=wire_ids)
def test_pack_unpack_round_trip_without_passphrase(data: bytes, name: str, wire_id: int) -> None:
    unpacked = unpack(pack(data, file_name=name, wire_id=wire_id, passphrase=None), passphrase=None)
    assert (unpacked.data, unpacked.file_name, unpacked.wire_id) == (data, name, wire_id)
    assert not unpacked.encrypted


@FAST
@given(data=payloads, name=names)
def test_any_name_is_stored_as_a_short_base_name(data: bytes, name: str) -> None:
    unpacked = unpack(pack(data, file_name=name, wire_id=0, passphrase=None), passphrase=None)
    assert unpacked.data == data
    assert len(unpacked.file_name.encode()) <= MAX_NAME_BYTES
    assert "/" not in unpacked.file_name and "\\" not in unpacked.file_name


@SLOW
@given(data=any_data, name=plain_names, passphrase=passphrases)
def test_pack_unpack_round_trip_with_passphrase(data: bytes, name: str, passphrase: str) -> None:
    blob = pack(data, file_name=name, wire_id=3, passphrase=passphrase)
    unpacked = unpack(blob, passphrase=passphrase)
    assert (unpacked.data, unpacked.file_name, unpacked.encrypted) == (data, name, True)
    with pytest.raises(WrongPassphraseError):
        unpack(blob, passphrase=passphrase + "x")
    with pytest.raises(PassphraseRequiredError):
        unpack(blob, passphrase=None)


@FAST
@given(data=payloads, passphrase=passphrases)
def test_a_passphrase_for_a_plain_payload_is_refused(data: bytes, passphrase: str) -> None:
    blob = pack(data, file_name="f", wire_id=0, passphrase=None)
    with pytest.raises(PassphraseNotExpectedError):
        unpack(blob, passphrase=passphrase)


def test_an_empty_passphrase_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        pack(b"x", file_name="f", wire_id=0, passphrase="")


@FAST
@given(data=payloads, index=st.integers(0), value=st.integers(1, 255))
def test_a_changed_byte_never_yields_other_data(data: bytes, index: int, value: int) -> None:
    blob = bytearray(pack(data, file_name="f", wire_id=0, passphrase=None))
    blob[index % len(blob)] ^= value
    try:
        unpacked = unpack(bytes(blob), passphrase=None)
    except PayloadError:
        return
    assert unpacked.data == data  # only possible if the change missed everything checked


@FAST
@given(garbage=st.binary(max_size=400), passphrase=st.none() | st.just("pw"))
def test_garbage_raises_only_payload_errors(garbage: bytes, passphrase: str | None) -> None:
    with pytest.raises(PayloadError):
        unpack(garbage, passphrase=passphrase)


@FAST
@given(
    flags=st.integers(0, 255),
    version=st.sampled_from([FORMAT_VERSION, FORMAT_VERSION, 0, 2, 255]),
    body_len=st.integers(0, 2**32 - 1),
    body=st.binary(max_size=300),
)
def test_garbage_behind_a_valid_magic_raises_only_payload_errors(
    flags: int, version: int, body_len: int, body: bytes
) -> None:
    """Headers that pass the magic check reach the deeper parsers (lengths, flags, zlib).

    No passphrase here: an encrypted flag then stops at "passphrase required" before scrypt.
    """
    blob = whiten(HEADER.pack(MAGIC, version, 1, flags, body_len) + body)
    with contextlib.suppress(PayloadError):
        unpack(blob, passphrase=None)
    with contextlib.suppress(PayloadError):
        assert blob_length(blob) >= HEADER.size


# -- Reed-Solomon --------------------------------------------------------------------------------

nsyms = st.sampled_from([1, 2, 3, 8, 17, 32, 64, 128])


def _codeword_slices(length: int) -> list[slice]:
    return [slice(start, min(start + CODEWORD_LEN, length)) for start in range(0, length, CODEWORD_LEN)]


def _corrupt(coded: bytes, errors_per_codeword: int, rng: np.random.Generator) -> bytes:
    out = bytearray(coded)
    for part in _codeword_slices(len(coded)):
        size = part.stop - part.start
        for position in rng.choice(size, min(errors_per_codeword, size), replace=False):
            out[part.start + position] ^= int(rng.integers(1, 256))
    return bytes(out)


@FAST
@given(
    data=st.binary(min_size=1, max_size=700),
    nsym=nsyms,
    seed=st.integers(0, 2**32 - 1),
    data_frac=st.floats(0, 1),
)
def test_ecc_corrects_up_to_t_errors_per_codeword(
    data: bytes, nsym: int, seed: int, data_frac: float
) -> None:
    coded = ecc_encode(data, nsym)
    errors = round(data_frac * (nsym // 2))
    assert ecc_decode(_corrupt(coded, errors, np.random.default_rng(seed)), nsym) == data


@FAST
@given(
    data=st.binary(min_size=1, max_size=700), nsym=st.sampled_from([3, 9, 17, 33, 65]), seed=st.integers(0)
)
def test_ecc_reports_t_plus_one_errors_with_odd_nsym(data: bytes, nsym: int, seed: int) -> None:
    """With nsym = 2t+1 a word t+1 bytes from its codeword is >= t+1 from every other one,
    so a bounded-distance decoder must fail rather than return anything."""
    coded = ecc_encode(data, nsym)
    assume(all(part.stop - part.start > nsym for part in _codeword_slices(len(coded))))
    damaged = _corrupt(coded, nsym // 2 + 1, np.random.default_rng(seed % 2**32))
    with pytest.raises(PayloadCorruptedError):
        ecc_decode(damaged, nsym)


@FAST
@given(data=st.binary(min_size=1, max_size=500), nsym=nsyms, seed=st.integers(0), extra=st.integers(1, 40))
def test_ecc_beyond_t_fails_or_returns_a_nearby_codeword(
    data: bytes, nsym: int, seed: int, extra: int
) -> None:
    """Past the budget a decoder may find *another* codeword, but only one within t bytes."""
    coded = ecc_encode(data, nsym)
    damaged = _corrupt(coded, nsym // 2 + extra, np.random.default_rng(seed % 2**32))
    try:
        decoded = ecc_decode(damaged, nsym)
    except PayloadCorruptedError:
        return
    again = ecc_encode(decoded, nsym)
    assert len(again) == len(damaged)
    for part in _codeword_slices(len(damaged)):
        wrong = sum(a != b for a, b in zip(again[part], damaged[part], strict=True))
        assert wrong <= nsym // 2


@FAST
@given(garbage=st.binary(max_size=800), nsym=nsyms)
def test_ecc_decode_of_garbage_raises_only_payload_errors(garbage: bytes, nsym: int) -> None:
    with contextlib.suppress(PayloadCorruptedError):
        ecc_decode(garbage, nsym)


# -- interleaver and bits -------------------------------------------------------------------------


@FAST
@given(n=st.integers(0, 5000), seed=seeds)
def test_interleaver_is_a_permutation(n: int, seed: bytes) -> None:
    order = permutation(n, seed)
    assert np.array_equal(np.sort(order), np.arange(n))


@FAST
@given(bits=st.lists(st.integers(0, 1), max_size=3000), seed=seeds)
def test_interleave_is_inverted_by_deinterleave(bits: list[int], seed: bytes) -> None:
    arr = np.array(bits, dtype=np.uint8)
    mixed = interleave(arr, seed)
    assert np.array_equal(deinterleave(mixed, seed), arr)
    assert np.array_equal(interleave(deinterleave(arr, seed), seed), arr)
    assert np.array_equal(np.sort(mixed), np.sort(arr))


@FAST
@given(data=st.binary(max_size=500))
def test_bytes_bits_round_trip(data: bytes) -> None:
    bits = bytes_to_bits(data)
    assert bits.size == 8 * len(data) and set(np.unique(bits)) <= {0, 1}
    assert bits_to_bytes(bits) == data


# -- framing: container + ECC + interleaving ------------------------------------------------------


@FAST
@given(
    data=any_data,
    name=plain_names,
    nsym=st.sampled_from([0, 2, 16, 32, 128]),
    num_latents=st.integers(8 * 300, 8 * 4000),
    flips=st.integers(0, 64),
    seed=st.integers(0, 2**32 - 1),
)
def test_frame_round_trip_survives_t_flipped_bits(
    data: bytes, name: str, nsym: int, num_latents: int, flips: int, seed: int
) -> None:
    """Any <= t flipped bits touch <= t bytes of each codeword, wherever they land."""
    assume(capacity_bytes(num_latents, nsym, file_name=name, encrypted=False) >= len(data))
    bits = frame_payload(
        data, file_name=name, wire_id=2, passphrase=None, num_latents=num_latents, nsym=nsym
    ).bits
    assert bits.shape == (num_latents,) and set(np.unique(bits)) <= {0, 1}
    damaged = bits.copy()
    count = min(flips, nsym // 2)
    damaged[np.random.default_rng(seed).choice(num_latents, count, replace=False)] ^= 1
    unpacked = extract_payload(damaged, passphrase=None, nsym=nsym)
    assert (unpacked.data, unpacked.file_name, unpacked.wire_id) == (data, name, 2)


@FAST
@given(num_latents=st.integers(0, 8 * 3000), nsym=st.sampled_from([0, 2, 32, 128]))
def test_a_file_of_exactly_the_capacity_fits(num_latents: int, nsym: int) -> None:
    size = capacity_bytes(num_latents, nsym, file_name="f.bin", encrypted=False)
    assume(size > 0)
    data = bytes(np.random.default_rng(num_latents).integers(0, 256, size, dtype=np.uint8))
    bits = frame_payload(
        data, file_name="f.bin", wire_id=0, passphrase=None, num_latents=num_latents, nsym=nsym
    ).bits
    assert extract_payload(bits, passphrase=None, nsym=nsym).data == data


@FAST
@given(bits=st.lists(st.integers(0, 1), max_size=8 * 3000), nsym=st.sampled_from([0, 2, 32, 128]))
def test_random_bits_raise_only_payload_errors(bits: list[int], nsym: int) -> None:
    arr = np.array(bits, dtype=np.uint8)
    with pytest.raises(PayloadError):
        decode_blob(arr, nsym=nsym, seed=PUBLIC_INTERLEAVE_SEED)
        extract_payload(arr, passphrase=None, nsym=nsym)  # reached only if a header decoded


@SLOW
@given(size=st.integers(8 * 300, 8 * 1200), seed=st.integers(0, 2**32 - 1), passphrase=passphrases)
def test_random_bits_with_a_passphrase_raise_only_payload_errors(
    size: int, seed: int, passphrase: str
) -> None:
    bits = np.random.default_rng(seed).integers(0, 2, size, dtype=np.uint8)
    with pytest.raises(PayloadError):
        extract_payload(bits, passphrase=passphrase)


# -- matrix coding and format 2 ---------------------------------------------------------------


@FAST
@given(
    order=st.integers(1, 8),
    bits=st.integers(1, 600),
    seed=st.integers(0, 2**32 - 1),
    wet_share=st.sampled_from([0.0, 0.3]),
)
def test_matrix_code_carries_any_message_with_at_most_two_flips_per_block(
    order: int, bits: int, seed: int, wet_share: float
) -> None:
    from invsteg.payload import matrix

    rng = np.random.default_rng(seed)
    n = matrix.carriers_used(bits, order) + int(rng.integers(0, 50))
    signs = rng.integers(0, 2, n, dtype=np.uint8)
    costs = rng.random(n)
    costs[rng.random(n) < wet_share] = np.inf
    message = rng.integers(0, 2, bits, dtype=np.uint8)
    flips = matrix.embed(signs, costs, message, order)
    assert not flips[matrix.carriers_used(bits, order) :].any()  # only the blocks it needs
    assert not flips[np.isinf(costs)].any()  # wet carriers never change
    per_block = flips[: matrix.carriers_used(bits, order)].reshape(-1, matrix.block_size(order)).sum(1)
    assert per_block.max(initial=0) <= 2
    read = matrix.extract(signs ^ flips, bits, order)
    satisfiable = wet_share == 0.0
    if satisfiable:
        assert np.array_equal(read, message)


@FAST
@given(order=st.integers(2, 5), seed=st.integers(0, 2**32 - 1))
def test_matrix_code_picks_the_cheapest_single_or_pair(order: int, seed: int) -> None:
    """Against brute force over every set of at most two flips in one block."""
    from itertools import combinations

    from invsteg.payload import matrix

    rng = np.random.default_rng(seed)
    size = matrix.block_size(order)
    signs = rng.integers(0, 2, size, dtype=np.uint8)
    costs = rng.random(size)
    message = rng.integers(0, 2, order, dtype=np.uint8)
    flips = matrix.embed(signs, costs, message, order)
    best = min(
        (costs[list(chosen)].sum() for k in (0, 1, 2) for chosen in combinations(range(size), k)
         if np.array_equal(matrix.extract(signs ^ np.isin(np.arange(size), chosen), order, order), message)),
    )  # fmt: skip
    assert costs[flips].sum() == pytest.approx(best)


@FAST
@given(
    data=st.binary(max_size=300),
    name=names,
    encrypted=st.booleans(),
    carriers=st.integers(2304, 20000),
    seed=st.integers(0, 2**32 - 1),
)
def test_format_2_round_trips_on_any_cover_signs(
    data: bytes, name: str, encrypted: bool, carriers: int, seed: int
) -> None:
    from invsteg.payload import sealed

    rng = np.random.default_rng(seed)
    passphrase = "pw" if encrypted else None
    locator = sealed.locator_key(passphrase) if not encrypted else bytes(rng.bytes(32))
    if len(data) > sealed.capacity_bytes(carriers, file_name=name, encrypted=encrypted):
        return
    message = sealed.seal(
        data, file_name=name, wire_id=5, passphrase=passphrase, carriers=carriers, locator=locator,
        random_bytes=rng.bytes,
    )  # fmt: skip
    signs = rng.integers(0, 2, carriers, dtype=np.uint8)
    stego = signs ^ message.flips(signs, rng.random(carriers))
    assert message.correction_used(stego) == 0
    got = sealed.open_signs(stego, passphrase=passphrase, locator=locator)
    assert (got.data, got.wire_id, got.encrypted) == (data, 5, encrypted)


@FAST
@given(size=st.integers(0, 6000), seed=st.integers(0, 2**32 - 1))
def test_format_2_finds_nothing_in_random_signs(size: int, seed: int) -> None:
    from invsteg.payload import sealed

    bits = np.random.default_rng(seed).integers(0, 2, size, dtype=np.uint8)
    with pytest.raises(PayloadError):
        sealed.open_signs(bits, passphrase=None)


# -- formats 2 and 3: the keyed container, format 3's layout and digits ------------------------


@FAST
@given(
    data=st.binary(max_size=600),
    name=plain_names,
    encrypted=st.booleans(),
    version=st.sampled_from([2, 3]),
    locator=st.binary(min_size=32, max_size=32),
    salt=st.binary(min_size=16, max_size=16),
)
def test_the_keyed_container_round_trips_and_refuses_other_keys(
    data: bytes, name: str, encrypted: bool, version: int, locator: bytes, salt: bytes
) -> None:
    from invsteg.payload.keyed import MessageKeys, pack_v2, unpack_v2

    keys = MessageKeys.derive(locator, salt)
    blob = pack_v2(data, file_name=name, wire_id=3, keys=keys, encrypted=encrypted, version=version)
    got = unpack_v2(blob, keys=keys, encrypted=encrypted, version=version)
    assert (got.data, got.file_name, got.encrypted) == (data, name, encrypted)
    other = MessageKeys.derive(bytes(b ^ 1 for b in locator), salt)
    with pytest.raises(PayloadError):  # another passphrase's keys never read it
        unpack_v2(blob, keys=other, encrypted=encrypted, version=version)


@FAST
@given(bits=st.lists(st.integers(0, 1), max_size=2000))
def test_format_3_digits_round_trip(bits: list[int]) -> None:
    from invsteg.payload import parity

    trits = parity.bits_to_trits(np.array(bits, dtype=np.uint8))
    assert trits.size % parity.TRIT_GROUP == 0 and int(trits.max(initial=0)) <= 2
    assert parity.trits_to_bits(trits)[: len(bits)].tolist() == bits


@FAST
@given(height=st.integers(8, 70), width=st.integers(8, 70), key=st.binary(min_size=32, max_size=32))
def test_format_3_parts_split_the_samples_without_overlap(height: int, width: int, key: bytes) -> None:
    """Public part, head and the 4 body segments: disjoint, and together every sample."""
    from invsteg.payload import parity
    from invsteg.payload.keyed import MessageKeys

    shape = (height, width)
    layout = parity.keyed_layout(shape, parity.public_positions(shape), MessageKeys.derive(key, bytes(16)))
    every = np.concatenate([layout.public, layout.head, *layout.segments])
    assert np.array_equal(np.sort(every), np.arange(3 * height * width))
    assert [s.size for s in layout.segments] == parity.body_sizes(shape)


@FAST
@given(
    height=st.integers(24, 64),
    width=st.integers(24, 64),
    seed=st.integers(0, 2**32 - 1),
    passphrase=st.none() | st.just("pw"),
)
def test_format_3_finds_nothing_in_random_samples(
    height: int, width: int, seed: int, passphrase: str | None
) -> None:
    from invsteg.payload import parity

    samples = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    with pytest.MonkeyPatch.context() as monkeypatch, pytest.raises(PayloadError):
        cheap_kdfs(monkeypatch)
        parity.open_samples(samples, passphrase=passphrase)
