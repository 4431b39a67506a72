"""Payload layer: container format (golden), crypto errors, Reed-Solomon, interleaving."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from invsteg.errors import PayloadError, UsageError
from invsteg.payload import (
    NoPayloadError,
    PassphraseNotExpectedError,
    PassphraseRequiredError,
    PayloadCorruptedError,
    PayloadTamperedError,
    PayloadTooLargeError,
    UnsupportedVersionError,
    WrongPassphraseError,
    bits_to_bytes,
    bytes_to_bits,
    capacity_bytes,
    container,
    deinterleave,
    ecc,
    ecc_decode,
    ecc_encode,
    extract_payload,
    interleave,
    interleave_seed,
    pack,
    safe_file_name,
    unpack,
)
from invsteg.payload.ecc import PUBLIC_INTERLEAVE_SEED, permutation
from invsteg.payload.frame import frame_payload

REAL_SCRYPT_N = container.SCRYPT_N


# Cheap key derivations in this process (conftest); the tests that pin the real cost
# put it back, and ``python -m invsteg`` runs keep it.
pytestmark = pytest.mark.usefixtures("fast_kdf")


def counter_bytes():
    """Deterministic stand-in for os.urandom: successive bytes 0, 1, 2, ..."""
    pool = bytes(range(256)) * 64
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        out = pool[pos : pos + n]
        pos += n
        return out

    return take


def public_keystream(n: int) -> bytes:
    """The whitening keystream, rebuilt from the documented spec rather than the module."""
    key = hashlib.sha256(b"invsteg/v1/public-whitening-key").digest()
    return Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor().update(bytes(n))


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# --- golden format -------------------------------------------------------------------------------

GOLDEN_PLAIN = "743e741b0eea52efb4786997a42ad6d1613d49c7ba7b25b46628434f94eed10a3095f86a1f640e"
GOLDEN_ENCRYPTED = (
    "743e741b0eea53efb4783d9fcb47a1b04a4f36bbb3712ebf02483abb770b5c991689e6d0b277cdd885ecef9ea7"
    "6cf60f9c27293ad8997364abd9066d5fbe6528595098f57ac5507a6363b690d01f2bff8db7df"
)


def test_golden_plain_container_pins_format() -> None:
    blob = pack(b"invsteg", file_name="dir/note.txt", wire_id=2, passphrase=None)
    assert blob.hex() == GOLDEN_PLAIN
    # Decode by hand, following the layout in container.py's docstring.
    plain = xor(blob, public_keystream(len(blob)))
    magic, version, wire, flags, body_len = struct.unpack(">4sBBBI", plain[:11])
    assert (magic, version, wire, flags, body_len) == (b"ISTG", 1, 2, 0, len(blob) - 11)
    inner, digest = plain[11:-8], plain[-8:]
    assert inner == b"\x08note.txt" + struct.pack(">I", 7) + b"invsteg"
    assert digest == hashlib.sha256(plain[:-8]).digest()[:8]


def test_golden_encrypted_container_pins_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "SCRYPT_N", REAL_SCRYPT_N)
    assert (container.SCRYPT_N, container.SCRYPT_R, container.SCRYPT_P) == (2**15, 8, 1)
    blob = pack(
        b"invsteg",
        file_name="dir/note.txt",
        wire_id=2,
        passphrase="correct horse",
        random_bytes=counter_bytes(),
    )
    assert blob.hex() == GOLDEN_ENCRYPTED
    plain = xor(blob, public_keystream(len(blob)))
    magic, version, wire, flags, body_len = struct.unpack(">4sBBBI", plain[:11])
    assert (magic, version, wire, flags, body_len) == (b"ISTG", 1, 2, 1, len(blob) - 11)
    salt, check, nonce = plain[11:27], plain[27:35], plain[35:47]
    assert salt == bytes(range(16)) and nonce == bytes(range(16, 28))
    derived = Scrypt(salt=salt, length=40, n=2**15, r=8, p=1).derive(b"correct horse")
    assert check == derived[32:]
    inner = AESGCM(derived[:32]).decrypt(nonce, plain[47:], plain[:47])
    assert inner == b"\x08note.txt" + struct.pack(">I", 7) + b"invsteg"
    assert b"note" not in plain  # the name is inside the ciphertext


def test_golden_interleave_permutation() -> None:
    # Images must decode with any future numpy: the permutation is pinned.
    expected = "26 14 18 31 9 13 28 12 25 2 7 24 15 30 8 5 27 11 16 6 3 4 17 0 19 21 10 23 20 29 1 22"
    assert permutation(32, PUBLIC_INTERLEAVE_SEED).tolist() == [int(x) for x in expected.split()]


@pytest.mark.parametrize(("n", "shift", "chunk"), [(1000, 63, 1 << 20), (5000, 60, 64), (70_000, 40, 4096)])
def test_permutation_is_the_stable_argsort_of_the_aes_keys(
    n: int, shift: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lean build sorts keys truncated to ``64 - shift`` bits, then orders ties by full
    key; with few bits left nearly every entry ties (and small chunks cross key blocks)."""
    monkeypatch.setattr(ecc, "_KEY_CHUNK", chunk)
    seed = hashlib.sha256(f"{n}".encode()).digest()
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    expected = np.argsort(np.frombuffer(encryptor.update(bytes(8 * n)), dtype="<u8"), kind="stable")
    assert np.array_equal(ecc._lean_permutation(n, seed, shift), expected)
    order = permutation(n, seed)
    assert order.dtype == np.int32 and np.array_equal(order, expected)


# --- container round trips and errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "passphrase"),
    [
        (b"", "empty.txt", None),
        (b"", "empty.txt", "pw"),
        (b"\x00", "one.bin", None),
        (b"\xff", "one.bin", "pw"),
        (os.urandom(100_000), "random.bin", None),
        (b"text " * 2000, "Ünïcødé 文件 🎉.txt", "pässwörd"),
    ],
)
def test_round_trip(data: bytes, name: str, passphrase: str | None) -> None:
    blob = pack(data, file_name="/some/dir/" + name, wire_id=7, passphrase=passphrase)
    got = unpack(blob + os.urandom(5), passphrase=passphrase)  # trailing padding is ignored
    assert got.data == data
    assert got.file_name == name
    assert got.wire_id == 7
    assert got.encrypted == (passphrase is not None)


def test_compression_only_when_smaller() -> None:
    text = b"abc" * 1000
    assert unpack(pack(text, file_name="t", wire_id=0, passphrase=None), passphrase=None).compressed
    noise = os.urandom(1000)
    blob = pack(noise, file_name="t", wire_id=0, passphrase=None)
    assert not unpack(blob, passphrase=None).compressed
    assert len(blob) == container.overhead_bytes("t", encrypted=False) + 1000


def test_whitening_hides_magic_and_balances_bits() -> None:
    blob = pack(bytes(4000), file_name="zeros", wire_id=0, passphrase=None)
    assert b"ISTG" not in blob and bytes(4) not in blob
    # Biased content (all zero bits) comes out balanced: the keystream does the work.
    bits = bytes_to_bits(container.whiten(bytes(20_000)))
    assert abs(bits.mean() - 0.5) < 0.01


def test_wrong_passphrase() -> None:
    blob = pack(b"secret", file_name="s", wire_id=0, passphrase="right")
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        unpack(blob, passphrase="wrong")


def test_tampered_ciphertext() -> None:
    blob = bytearray(pack(b"secret data", file_name="s", wire_id=0, passphrase="pw"))
    blob[-20] ^= 0x01  # inside the ciphertext (after header, salt, check, nonce)
    with pytest.raises(PayloadTamperedError, match="tampered"):
        unpack(bytes(blob), passphrase="pw")


def test_corrupted_plain() -> None:
    blob = bytearray(pack(b"some data here", file_name="s", wire_id=0, passphrase=None))
    blob[15] ^= 0x40
    with pytest.raises(PayloadCorruptedError, match="corrupted"):
        unpack(bytes(blob), passphrase=None)


def test_no_payload_in_random_bytes() -> None:
    with pytest.raises(NoPayloadError, match="no payload found"):
        unpack(os.urandom(500), passphrase=None)
    with pytest.raises(NoPayloadError):
        unpack(b"", passphrase=None)


def test_passphrase_required_and_not_expected() -> None:
    with pytest.raises(PassphraseRequiredError):
        unpack(pack(b"x", file_name="a", wire_id=0, passphrase="pw"), passphrase=None)
    with pytest.raises(PassphraseNotExpectedError):
        unpack(pack(b"x", file_name="a", wire_id=0, passphrase=None), passphrase="pw")
    with pytest.raises(UsageError):
        pack(b"x", file_name="a", wire_id=0, passphrase="")


def _forge(header_fields: tuple, inner: bytes) -> bytes:
    """A well-formed plain container with arbitrary fields (the hash is public, so anyone can)."""
    header = struct.pack(">4sBBBI", *header_fields)
    body = inner + hashlib.sha256(header + inner).digest()[:8]
    return container.whiten(header + body)


def test_unsupported_version() -> None:
    inner = b"\x01a" + struct.pack(">I", 1) + b"x"
    with pytest.raises(UnsupportedVersionError, match="version 9"):
        unpack(_forge((b"ISTG", 9, 0, 0, len(inner) + 8), inner), passphrase=None)


def test_crafted_lengths_do_not_allocate() -> None:
    inner = b"\x01a" + struct.pack(">I", 1) + b"x"
    # Body length far beyond the blob: rejected before anything is read or allocated.
    with pytest.raises(PayloadCorruptedError):
        unpack(_forge((b"ISTG", 1, 0, 0, 2**32 - 1), inner), passphrase=None)
    # A decompression bomb claiming 1 GiB from a few bytes: rejected by the ratio bound.
    bomb = zlib.compress(bytes(1_000_000), 9)
    inner = b"\x01a" + struct.pack(">I", 2**30) + bomb
    with pytest.raises(PayloadCorruptedError, match="implausible"):
        unpack(_forge((b"ISTG", 1, 0, 2, len(inner) + 8), inner), passphrase=None)
    # Claiming less than the stream holds: decompression stops at the claim.
    inner = b"\x01a" + struct.pack(">I", 1000) + bomb
    with pytest.raises(PayloadCorruptedError, match="wrong length"):
        unpack(_forge((b"ISTG", 1, 0, 2, len(inner) + 8), inner), passphrase=None)


def test_fuzzed_headers_raise_only_payload_errors() -> None:
    rng = np.random.default_rng(0)
    good = pack(b"hello" * 20, file_name="f", wire_id=1, passphrase=None)
    for _ in range(300):
        blob = bytearray(good)
        for pos in rng.integers(0, len(blob), size=rng.integers(1, 4)):
            blob[pos] ^= int(rng.integers(1, 256))
        with pytest.raises(PayloadError):
            unpack(bytes(blob[: rng.integers(0, len(blob) + 1)]), passphrase=None)


def test_too_large() -> None:
    with pytest.raises(PayloadTooLargeError):
        frame_payload(os.urandom(1000), file_name="a", wire_id=0, passphrase=None, num_latents=8000)


# --- safe file names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("", "payload.bin"),
        ("..", "payload.bin"),
        (".bashrc", "bashrc"),
        ("a/b\\c", "c"),
        ("-rf", "rf"),
        ("na\x00me\n\x1b[31m.txt", "name[31m.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("what?.txt", "what_.txt"),
        ("CON.txt", "_CON.txt"),
        ("dir/", "payload.bin"),
        ("Ünïcødé 文件.txt", "Ünïcødé 文件.txt"),
    ],
)
def test_safe_file_name(stored: str, safe: str) -> None:
    assert safe_file_name(stored) == safe


def test_safe_file_name_length_keeps_extension() -> None:
    out = safe_file_name("é" * 300 + ".tar.gz")
    assert len(out.encode("utf-8")) <= 255 and out.endswith(".gz")


# --- Reed-Solomon, bits, interleaving -------------------------------------------------------------


def test_bits_bytes_round_trip() -> None:
    data = os.urandom(33)
    bits = bytes_to_bits(data)
    assert bits.shape == (264,) and bits.dtype == np.uint8 and set(np.unique(bits)) <= {0, 1}
    assert bytes_to_bits(b"\x80").tolist() == [1, 0, 0, 0, 0, 0, 0, 0]  # MSB first
    assert bits_to_bytes(bits) == data
    with pytest.raises(ValueError):
        bits_to_bytes(bits[:-1])


def test_ecc_corrects_up_to_half_nsym_per_codeword() -> None:
    rng = np.random.default_rng(1)
    nsym = 16
    data = rng.integers(0, 256, size=600, dtype=np.uint8).tobytes()  # 3 codewords, last shortened
    coded = ecc_encode(data, nsym)
    assert len(coded) == 600 + 3 * nsym
    damaged = bytearray(coded)
    for start in range(0, len(coded), 255):
        cw_len = min(255, len(coded) - start)
        for pos in rng.choice(cw_len, size=nsym // 2, replace=False):
            damaged[start + pos] ^= int(rng.integers(1, 256))
    assert ecc_decode(bytes(damaged), nsym) == data
    # One more error than the budget in a codeword: reported, not silently wrong.
    for pos in rng.choice(np.arange(0, 255), size=nsym // 2 + 1, replace=False):
        damaged[pos] ^= 0x5A
    with pytest.raises(PayloadCorruptedError):
        ecc_decode(bytes(damaged), nsym)


@pytest.mark.parametrize("nsym", [2, 16, 128, 200])
def test_ecc_is_byte_for_byte_reedsolo(nsym: int) -> None:
    """The numpy encoder and batched decoder give what reedsolo's reference gives: the
    same codewords, the same corrections and, here, the same failures (the format is
    reedsolo's)."""
    from reedsolo import ReedSolomonError, RSCodec

    reference = RSCodec(nsym, nsize=255)
    rng = np.random.default_rng(nsym)
    k = 255 - nsym
    for trial in range(12):
        data = rng.integers(0, 256, size=int(rng.integers(1, 4 * k)), dtype=np.uint8).tobytes()
        coded = ecc_encode(data, nsym)
        assert coded == bytes(reference.encode(data))
        damaged = bytearray(coded)
        for start in range(0, len(damaged), 255):
            size = min(255, len(damaged) - start)
            wrong = int(rng.integers(0, nsym // 2 + 4)) if trial % 2 else nsym // 2
            for pos in rng.choice(size, size=min(size, wrong), replace=False):
                damaged[start + pos] ^= int(rng.integers(1, 256))
        try:
            expected = bytes(reference.decode(bytes(damaged))[0])
        except ReedSolomonError:
            expected = None
        try:
            got = ecc_decode(bytes(damaged), nsym)
        except PayloadCorruptedError:
            got = None
        assert got == expected
        if trial % 2 == 0:
            assert got == data  # nsym // 2 wrong bytes per codeword: always repaired


def test_interleave_round_trip() -> None:
    bits = np.random.default_rng(2).integers(0, 2, size=12_345, dtype=np.uint8)
    seed = interleave_seed("pw")
    mixed = interleave(bits, seed)
    assert not np.array_equal(mixed, bits)
    assert np.array_equal(deinterleave(mixed, seed), bits)
    assert not np.array_equal(deinterleave(mixed, PUBLIC_INTERLEAVE_SEED), bits)


def test_interleave_spreads_a_burst() -> None:
    nsym, codewords = 64, 20
    n = 255 * 8 * codewords
    burst = np.zeros(n, dtype=bool)
    burst[5000 : 5000 + 300] = True  # 38 contiguous bytes wrong in image order, all in codeword 2
    spread = deinterleave(burst, PUBLIC_INTERLEAVE_SEED)
    per_cw_bytes = spread.reshape(codewords, 255, 8).any(axis=2).sum(axis=1)
    unspread = burst.reshape(codewords, 255, 8).any(axis=2).sum(axis=1)
    assert unspread.max() > nsym // 2  # would defeat Reed-Solomon
    assert per_cw_bytes.max() <= nsym // 2  # spread thinly enough to correct


# --- whole frame: container + ECC + interleaving -------------------------------------------------


@pytest.mark.parametrize("passphrase", [None, "pw"])
def test_frame_round_trip_with_burst(passphrase: str | None) -> None:
    data = os.urandom(1500)
    num_latents = 8 * 255 * 24 + 13  # odd count: leftover latents are filled too
    bits = frame_payload(
        data, file_name="doc.pdf", wire_id=3, passphrase=passphrase, num_latents=num_latents, nsym=64
    ).bits
    assert bits.shape == (num_latents,) and abs(bits.mean() - 0.5) < 0.03
    damaged = bits.copy()
    damaged[1000:1360] ^= 1  # a damaged image region: 45 bytes, more than one codeword corrects
    got = extract_payload(damaged, passphrase=passphrase, nsym=64)
    assert (got.data, got.file_name, got.wire_id) == (data, "doc.pdf", 3)


def test_frame_passphrase_errors() -> None:
    secret = frame_payload(b"x", file_name="a", wire_id=0, passphrase="pw", num_latents=4000).bits
    with pytest.raises(NoPayloadError, match="wrong passphrase"):
        extract_payload(secret, passphrase="nope")
    with pytest.raises(NoPayloadError, match="give the passphrase"):
        extract_payload(secret, passphrase=None)
    public = frame_payload(b"x", file_name="a", wire_id=0, passphrase=None, num_latents=4000).bits
    with pytest.raises(PassphraseNotExpectedError):
        extract_payload(public, passphrase="pw")
    with pytest.raises(NoPayloadError):
        extract_payload(np.random.default_rng(3).integers(0, 2, 4000), passphrase=None)


def test_frame_reports_unrepairable_damage() -> None:
    bits = frame_payload(
        os.urandom(300), file_name="a", wire_id=0, passphrase=None, num_latents=8 * 255 * 2, nsym=8
    ).bits
    damaged = bits.copy()
    damaged[::7] ^= 1  # ~14% bit errors: far beyond 4 bytes per codeword
    with pytest.raises((PayloadCorruptedError, NoPayloadError)):
        extract_payload(damaged, passphrase=None, nsym=8)


@pytest.mark.parametrize("num_latents", [8 * 100, 8 * 255 + 5, 8 * 255 * 3 + 8 * 40, 8 * 255 * 7 + 1])
@pytest.mark.parametrize("encrypted", [False, True])
def test_capacity_is_honest(num_latents: int, encrypted: bool) -> None:
    name, nsym = "file.dat", 16
    passphrase = "pw" if encrypted else None
    cap = capacity_bytes(num_latents, nsym, file_name=name, encrypted=encrypted)
    assert cap > 0
    data = os.urandom(cap)  # incompressible: no help from zlib
    bits = frame_payload(
        data, file_name=name, wire_id=0, passphrase=passphrase, num_latents=num_latents, nsym=nsym
    ).bits
    assert bits.shape == (num_latents,)
    assert extract_payload(bits, passphrase=passphrase, nsym=nsym).data == data
    with pytest.raises(PayloadTooLargeError):  # and it is tight: one byte more does not fit
        frame_payload(
            data + b"!", file_name=name, wire_id=0, passphrase=passphrase, num_latents=num_latents, nsym=nsym
        )


def test_capacity_small_image_is_zero() -> None:
    assert capacity_bytes(100, 16) == 0
