"""Issue #12 hardening: pixel limit, decoder restriction, notices, attack settings, bounded memory."""

from __future__ import annotations

import io
import struct
import tracemalloc
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from invsteg.errors import InputFileError, UsageError
from invsteg.io import images
from invsteg.ops import distortions

# -- helpers ---------------------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, depth: int, color_type: int, rows: bytes | None = None) -> bytes:
    """A PNG written by hand: Pillow writes neither 48-bit colour nor a header without pixels."""
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    idat = _chunk(b"IDAT", zlib.compress(rows)) if rows is not None else b""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + idat + _chunk(b"IEND", b"")


def _png16(values: np.ndarray, color_type: int) -> bytes:
    """``(H, W[, C])`` uint16 -> a 16-bit PNG (color type 0 gray, 2 RGB, 6 RGBA)."""
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in values)
    return _png(values.shape[1], values.shape[0], 16, color_type, rows)


def _saved(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture
def no_warnings() -> Iterator[None]:
    """Any Python warning escaping the code under test fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- 1. the pixel limit ----------------------------------------------------------------------------


def test_huge_png_header_is_refused_by_the_limit_not_called_damaged(no_warnings: None) -> None:
    data = _png(20000, 20000, 8, 2)  # D10: the header alone; no pixel is ever decoded
    with pytest.raises(InputFileError) as info:
        images.decode_image(data, "big.png", "cover")
    message = str(info.value)
    assert "cover is 20000 x 20000 = 400 MP, over the limit of 100 MP" in message
    assert "`max_pixels`" in message and "damaged" not in message


def test_pixel_limit_is_per_call_and_leaves_pillow_alone(tmp_path: Path, no_warnings: None) -> None:
    global_limit = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "c.png"
    Image.fromarray(_noise(40, 50)).save(path)
    with pytest.raises(InputFileError, match=r"50 x 40 = 0\.002 MP, over the limit of 0\.0019"):
        images.read_image(str(path), "cover", max_pixels=1999)
    assert images.read_image(str(path), "cover", max_pixels=2000).size == (50, 40)
    assert images.read_image(str(path), "cover", max_pixels=None).size == (50, 40)
    assert global_limit == Image.MAX_IMAGE_PIXELS


def test_raised_limit_bypasses_pillows_global_bomb_check(no_warnings: None) -> None:
    # 400 MP is over Pillow's own 179 MP error threshold; with the limit raised, what fails
    # is the missing pixel data, not a decompression-bomb error
    with pytest.raises(InputFileError, match="damaged or truncated") as info:
        images.decode_image(_png(20000, 20000, 8, 2), "big.png", "cover", max_pixels=10**9)
    assert "decompression bomb" not in str(info.value)


def _webp_vp8x(width: int, height: int) -> bytes:
    body = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = b"VP8X" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def test_webp_limit_is_checked_before_the_decoder_allocates(no_warnings: None) -> None:
    with pytest.raises(InputFileError, match="16000 x 16000 = 256 MP, over the limit of 100 MP"):
        images.decode_image(_webp_vp8x(16000, 16000), "big.webp", "cover")
    # Pillow's WebP plugin has its own size check; over it, the message says so plainly
    with pytest.raises(InputFileError, match="larger than Pillow decodes"):
        images.decode_image(_webp_vp8x(16000, 16000), "big.webp", "cover", max_pixels=10**9)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_max_pixels_must_be_a_positive_whole_number(bad: object) -> None:
    with pytest.raises(UsageError, match="`max_pixels`"):
        images.decode_image(_saved(Image.fromarray(_noise(4, 4)), "PNG"), "c.png", "cover", max_pixels=bad)


# -- 2. which decoders run, and what they report ---------------------------------------------------


def _eps() -> bytes:
    return b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n0 0 moveto 8 8 lineto stroke\n%%EOF\n"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_eps(), "cover is an EPS file; invsteg reads PNG, JPEG, WebP, BMP, TIFF, GIF"),
        (_saved(Image.fromarray(_noise(16, 16)), "ICO"), "cover is an ICO file"),
        (_saved(Image.fromarray(_noise(16, 16)), "PCX"), "cover is a PCX file"),
        (_saved(Image.fromarray(_noise(16, 16)), "PPM"), "cover is a PNM file"),
        (b"8BPS\x00\x01" + bytes(40), "cover is a PSD file"),
        (b"plain text, no image", "cover is not an image invsteg can read"),
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "cover image is damaged or truncated"),
    ],
    ids=["EPS", "ICO", "PCX", "PPM", "PSD", "text", "broken-PNG"],
)
def test_other_formats_are_refused_by_name(
    data: bytes, match: str, monkeypatch: pytest.MonkeyPatch, no_warnings: None
) -> None:
    def never(self: object) -> None:
        raise AssertionError("the EPS plugin (Ghostscript) must never see an input")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    with pytest.raises(InputFileError, match=match):
        images.decode_image(data, "in.x", "cover")


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"], ids=str.lower)
def test_the_listed_formats_still_decode(image_format: str, no_warnings: None) -> None:
    data = _saved(Image.fromarray(_noise(12, 20)), image_format)
    loaded = images.decode_image(data, "in", "cover")
    assert loaded.size == (20, 12) and loaded.format == image_format


def test_16_bit_colour_png_gets_its_note(no_warnings: None) -> None:
    values = np.random.default_rng(1).integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    loaded = images.decode_image(_png16(values, 2), "in.png", "cover")  # D11: mode "RGB"
    assert loaded.notices == ["cover: 16-bit colour reduced to 8-bit RGB"]
    np.testing.assert_array_equal(loaded.pixels, values >> 8)


def test_16_bit_rgba_png_gets_both_notes(no_warnings: None) -> None:
    values = np.random.default_rng(2).integers(0, 65536, (6, 5, 4), dtype=np.uint16)
    notices = images.decode_image(_png16(values, 6), "in.png", "cover").notices
    assert any("16-bit" in n for n in notices) and any("alpha" in n for n in notices)


def test_dark_16_bit_grayscale_is_not_scaled_as_8_bit(no_warnings: None) -> None:
    # every value <= 255 used to be read as an 8-bit image, 257 times too bright
    values = np.array([[0, 128, 255, 257 * 40, 65535]], dtype=np.uint16)
    loaded = images.decode_image(_png16(values, 0), "in.png", "cover")
    assert loaded.notices == ["cover: 16-bit grayscale converted to 8-bit RGB"]
    np.testing.assert_array_equal(loaded.pixels[0, :, 0], [0, 0, 1, 40, 255])


def _animated(image_format: str) -> bytes:
    frames = [Image.fromarray(np.full((8, 8, 3), value, np.uint8)) for value in (10, 200, 90)]
    return _saved(frames[0], image_format, save_all=True, append_images=frames[1:])


@pytest.mark.parametrize("image_format", ["GIF", "PNG", "TIFF", "WEBP"])
def test_animated_inputs_say_only_the_first_frame_is_used(image_format: str, no_warnings: None) -> None:
    loaded = images.decode_image(_animated(image_format), "anim", "cover")
    assert "cover: animated or multi-page (3 frames); only the first frame is used" in loaded.notices
    assert abs(int(loaded.pixels.mean()) - 10) <= 2  # frame 1, not a later one


@pytest.mark.parametrize(
    ("exif", "warning"),
    [
        (b"II*\x00\x08\x00\x00\x00\xff\xff", "Corrupt EXIF data"),
        (
            b"II*\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHII", 0x010F, 2, 100, 1000) + bytes(4),
            "Tag data larger than file",
        ),
    ],
    ids=["corrupt-exif", "tag-past-end"],
)
def test_pillow_warnings_become_notices(exif: bytes, warning: str, no_warnings: None) -> None:
    data = _saved(Image.fromarray(_noise(8, 8)), "JPEG", exif=b"Exif\x00\x00" + exif)
    loaded = images.decode_image(data, "in.jpg", "cover")
    assert any(n.startswith("cover: ") and warning in n for n in loaded.notices), loaded.notices


# -- 3. attack settings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"noise": 1.0, "seed": -1}, "`seed`"),
        ({"blur": 1e30}, r"blur sigma \(`blur`\) must be a finite number from 0 to 100"),
        ({"blur": 100.5}, "`blur`"),
        ({"noise": 1e300}, r"noise sigma \(`noise`\) must be a finite number from 0 to 255"),
        ({"noise": float("nan")}, "`noise`"),
    ],
    ids=["negative-seed", "huge-blur", "blur-over-100", "huge-noise", "nan-noise"],
)
def test_bad_attack_settings_are_usage_errors(settings: dict[str, float], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        distortions.check_attacks(**settings)
    with pytest.raises(UsageError, match=match):
        distortions.attack_image(_noise(8, 8), **settings)


def test_attack_limits_are_inclusive() -> None:
    img = _noise(8, 8)
    distortions.attack_image(img, blur=100.0, noise=255.0, seed=2**64 + 5)  # big seeds are fine


# -- 4. bounded memory -----------------------------------------------------------------------------


def test_noise_in_bands_equals_one_whole_image_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    img = _noise(37, 29, seed=3)
    whole = img + np.random.default_rng(5).normal(0.0, 7.0, img.shape)
    expected = np.clip(np.round(whole), 0, 255).astype(np.uint8)
    monkeypatch.setattr(distortions, "NOISE_BAND_VALUES", 29 * 3 * 4)  # bands of 4 rows, last one short
    np.testing.assert_array_equal(distortions.attack_image(img, noise=7.0, seed=5).pixels, expected)

    counts = np.random.default_rng(6).poisson(img / 255.0 * 300.0)
    expected = np.clip(np.round(counts / 300.0 * 255), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(distortions.real_poisson(img, 300.0, np.random.default_rng(6)), expected)


def test_noise_attack_has_no_whole_image_float_temporaries() -> None:
    img = _noise(1000, 1000, seed=4)  # 3 MB; one float64 copy would be 24 MB
    tracemalloc.start()
    try:
        distortions.attack_image(img, noise=3.0, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * img.nbytes + 4 * 8 * distortions.NOISE_BAND_VALUES, peak


# -- embedded colour profiles ---------------------------------------------------------------------


def srgb_profile(*, swap_red_green: bool = False) -> bytes:
    """lcms's sRGB profile; with its red and green colorants swapped, a profile that is not."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    if swap_red_green:
        count = struct.unpack(">I", data[128:132])[0]
        tags = {}
        for i in range(count):
            signature, offset, size = struct.unpack(">4sII", data[132 + 12 * i : 144 + 12 * i])
            tags[signature] = (offset, size)
        (red, red_size), (green, green_size) = tags[b"rXYZ"], tags[b"gXYZ"]
        red_tag, green_tag = bytes(data[red : red + red_size]), bytes(data[green : green + green_size])
        data[red : red + red_size], data[green : green + green_size] = green_tag, red_tag
    return bytes(data)


def tagged_png(pixels: np.ndarray, icc: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", icc_profile=icc)
    return buffer.getvalue()


def test_an_srgb_profile_leaves_every_pixel_alone() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    loaded = images.decode_image(tagged_png(pixels, srgb_profile()), "a.png", "cover")
    assert np.array_equal(loaded.pixels, pixels) and loaded.notices == []


def test_another_profile_is_converted_to_srgb_with_one_note() -> None:
    pixels = np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    loaded = images.decode_image(tagged_png(pixels, srgb_profile(swap_red_green=True)), "a.png", "cover")
    assert loaded.pixels.tolist() == [[[0, 255, 0], [0, 0, 255]]]  # its red is sRGB's green
    assert len(loaded.notices) == 1 and "converted from its colour profile" in loaded.notices[0]


def test_an_unreadable_profile_is_a_note_not_an_error() -> None:
    pixels = np.full((4, 4, 3), 7, dtype=np.uint8)
    loaded = images.decode_image(tagged_png(pixels, b"not a profile" * 20), "a.png", "cover")
    assert np.array_equal(loaded.pixels, pixels)
    assert len(loaded.notices) == 1 and "colour profile is unreadable" in loaded.notices[0]
