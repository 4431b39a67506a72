"""Decoding and encoding 8-bit RGB images: mode conversion, EXIF orientation, formats.

Everything here works on ``(H, W, 3)`` uint8 numpy arrays; torch is not imported.

Decoding is defensive, since inputs come from anywhere: only the formats in
:data:`READ_FORMATS` reach a decoder (Pillow knows dozens, some of which hand the file to
Ghostscript or parse rarely exercised containers), the size in the header is checked
against a per-call pixel limit before any pixel is decoded, and whatever Pillow warns
about while decoding becomes a notice rather than a stray Python warning.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import ExifTags, Image, ImageFile, ImageOps

from invsteg.errors import InputFileError, InvstegError, UsageError
from invsteg.io.files import image_byte_limit, read_bytes
from invsteg.ops.distortions import encode_jpeg

LOSSLESS_FORMATS = {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
LOSSY_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
LOSSY_INPUT_FORMATS = {"JPEG", "WEBP", "MPO"}

READ_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF")
"""The Pillow decoders invsteg uses (JPEG includes MPO, the multi-picture JPEG of cameras)."""
_READ_NAMES = "PNG, JPEG, WebP, BMP, TIFF, GIF"

TEXT_PREFIX = "invsteg:"
"""PNG text chunks with keys starting so are read back (:attr:`LoadedImage.text`); others are
ignored, and nothing else in an input file's metadata is kept."""

DEFAULT_MAX_PIXELS = 100_000_000
"""Images with more pixels are refused unless the caller raises the limit (``max_pixels``):
a 100 MP photo already needs a few GB on its way through the network."""

MAX_FRAMES_COUNTED = 1000
"""Frames of a multi-page file counted at most (only the first is ever used): 100,000
one-pixel TIFF pages took Pillow 41 s to count."""

# File signatures, to name a file invsteg does not read (and to tell a damaged file of a
# format it does read from something else). First match wins.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"BM", "BMP"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x02\x00", "CUR"),
    (b"icns", "ICNS"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"qoif", "QOI"),
    (b"DDS ", "DDS"),
    (b"BLP1", "BLP"),
    (b"BLP2", "BLP"),
    (b"SIMPLE  =", "FITS"),
    (b"\x01\xda", "SGI"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"/* XPM */", "XPM"),
    (b"<svg", "SVG"),
    (b"<?xml", "XML (SVG?)"),
)
_ISO_MEDIA_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}
_SAID_WITH_AN = {"EPS", "ICO", "ICNS", "SGI", "OpenEXR", "XPM", "SVG", "XML (SVG?)", "HEIC", "HEIF", "AVIF"}


@dataclass
class LoadedImage:
    """An image as ``(H, W, 3)`` uint8, with the notices its conversion produced."""

    pixels: np.ndarray
    source: str
    format: str | None
    notices: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)  # PNG text chunks invsteg wrote (TEXT_PREFIX)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.pixels.shape[1], self.pixels.shape[0]


# -- what a file is, from its first bytes ---------------------------------------------------------


def sniff_format(data: bytes) -> str | None:
    """A name for the format of ``data`` from its signature, or None if unrecognised."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_MEDIA_BRANDS:
        return _ISO_MEDIA_BRANDS[data[8:12]]
    if len(data) > 2 and data[0] == 0x0A and data[1] in (0, 2, 3, 4, 5) and data[2] == 1:
        return "PCX"
    if len(data) > 2 and data[:1] == b"P" and data[1:2] in b"1234567" and data[2:3].isspace():
        return "PNM"
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size in a WebP header (VP8X, VP8 or VP8L), or None.

    Pillow's WebP decoder allocates the whole canvas when the file is opened, so the pixel
    limit has to be checked on the header bytes before that.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.6g}"


def _check_pixels(size: tuple[int, int], role: str, source: str, max_pixels: int | None) -> None:
    width, height = size
    if max_pixels is not None and width * height > max_pixels:
        raise InputFileError(
            f"{role} is {width} x {height} = {_megapixels(width * height)} MP, over the limit of "
            f"{_megapixels(max_pixels)} MP ({source}); raise `max_pixels` if it is right"
        )


def _check_max_pixels(max_pixels: int | None) -> None:
    if max_pixels is None:
        return
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1:
        raise UsageError(f"`max_pixels` must be a whole number of pixels >= 1, got {max_pixels}")


def _not_readable(data: bytes, role: str, source: str) -> InputFileError:
    """The error for a file no allowed decoder accepts: name its format if we know it."""
    name = sniff_format(data)
    if name is None:
        return InputFileError(f"{role} is not an image invsteg can read ({_READ_NAMES}): {source}")
    if name.upper() in READ_FORMATS:
        return InputFileError(f"{role} image is damaged or truncated: {source} (not a valid {name} file)")
    article = "an" if name in _SAID_WITH_AN else "a"
    return InputFileError(f"{role} is {article} {name} file; invsteg reads {_READ_NAMES}: {source}")


# -- decoding -------------------------------------------------------------------------------------


def _open(data: bytes, role: str, source: str) -> ImageFile.ImageFile:
    """What ``Image.open(..., formats=READ_FORMATS)`` does, but without its decompression-bomb
    check: that check reads the process-global ``Image.MAX_IMAGE_PIXELS`` and fires inside
    ``open``, before the caller sees the size. The pixel limit here is per call instead."""
    Image.init()  # registers the plugins; idempotent
    prefix = data[:16]
    for name in READ_FORMATS:
        factory, accept = Image.OPEN[name]
        accepted = accept is None or accept(prefix)
        if not accepted or isinstance(accepted, str):  # a str is Pillow's "almost, but no"
            continue
        try:
            return factory(io.BytesIO(data), "")
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue  # as Image.open: the next format may still take it
    raise _not_readable(data, role, source)


def _frame_count(image: ImageFile.ImageFile) -> int | None:
    """How many frames ``image`` has, or None for more than :data:`MAX_FRAMES_COUNTED`.

    Read before load(): counting seeks through the file and back to frame 0. PNG, WebP
    and MPO state the count in a header; TIFF and GIF are walked, and only so far, since
    Pillow's own count walks them whole (a TIFF's pages in quadratic time).
    """
    if image.format not in ("TIFF", "GIF"):
        return int(getattr(image, "n_frames", 1))
    frames = 1
    try:
        while frames <= MAX_FRAMES_COUNTED:
            image.seek(frames)
            frames += 1
    except EOFError:  # the last frame
        pass
    finally:
        image.seek(0)
    return frames if frames <= MAX_FRAMES_COUNTED else None


def _raw_mode(image: ImageFile.ImageFile) -> str:
    """How the decoder unpacks the file's samples (e.g. ``RGB;16B``); '' once loaded."""
    args = image.tile[0].args if image.tile else ""
    if isinstance(args, tuple):  # TIFF: (rawmode, ...)
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def _is_16_bit(mode: str, raw_mode: str) -> bool:
    # Pillow decodes 16-bit colour (PNG 48/64-bit, TIFF RGB;16) straight into 8-bit modes,
    # so the mode alone does not show it; the raw mode in the tile does.
    return mode.startswith("I;16") or ";16" in raw_mode


def _to_rgb(image: Image.Image, role: str, notices: list[str], *, sixteen_bit: bool) -> Image.Image:
    mode = image.mode
    if mode.startswith("I;16"):
        # 16-bit grayscale: always 0..65535 (scaling by the image's own maximum would
        # brighten a dark image 257-fold); (v + 128) // 257 is round(v * 255 / 65535)
        values = np.asarray(image, dtype=np.uint32)
        notices.append(f"{role}: 16-bit grayscale converted to 8-bit RGB")
        return Image.fromarray(((values + 128) // 257).astype(np.uint8)).convert("RGB")
    if mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 else 255.0
        eight_bit = np.clip(np.round(values / peak * 255), 0, 255).astype(np.uint8)
        notices.append(f"{role}: {mode} (32-bit integer or float) grayscale converted to 8-bit RGB")
        return Image.fromarray(eight_bit).convert("RGB")
    if sixteen_bit:
        notices.append(f"{role}: 16-bit colour reduced to 8-bit RGB")
    if mode == "RGB":
        return image
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        notices.append(f"{role}: alpha channel dropped, the image is used as RGB")
    elif mode in ("L", "1"):
        notices.append(f"{role}: grayscale converted to RGB")
    elif mode == "P":
        notices.append(f"{role}: palette image converted to RGB")
    else:
        notices.append(f"{role}: {mode} converted to RGB")
    return image.convert("RGB")


def _oriented(image: Image.Image, role: str, notices: list[str]) -> Image.Image:
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    if orientation not in range(2, 9):
        return image  # exif_transpose would copy the image for nothing
    notices.append(f"{role}: EXIF orientation applied")
    return ImageOps.exif_transpose(image)


def _decode(data: bytes, source: str, role: str, max_pixels: int | None) -> LoadedImage:
    webp_size = _webp_size(data)
    if webp_size is not None:
        _check_pixels(webp_size, role, source, max_pixels)
    notices: list[str] = []
    with _open(data, role, source) as image:
        _check_pixels(image.size, role, source, max_pixels)
        frames = _frame_count(image)
        if frames != 1:
            count = f"more than {MAX_FRAMES_COUNTED:,}" if frames is None else f"{frames}"
            notices.append(f"{role}: animated or multi-page ({count} frames); only the first frame is used")
        sixteen_bit = _is_16_bit(image.mode, _raw_mode(image))
        image.load()
        image_format = image.format
        text = _invsteg_text(image)
        icc_profile = image.info.get("icc_profile")
        rgb = _to_rgb(_oriented(image, role, notices), role, notices, sixteen_bit=sixteen_bit)
        rgb = _to_srgb(rgb, icc_profile, role, notices)
        pixels = np.array(rgb, dtype=np.uint8)
    return LoadedImage(pixels, source, image_format, notices, text)


def _to_srgb(image: Image.Image, icc_profile: object, role: str, notices: list[str]) -> Image.Image:
    """``image`` (RGB) converted from its embedded colour profile to sRGB, when the profile
    moves some colour by more than one level (an sRGB profile, or one as good as it, leaves
    the pixels alone: a stego re-tagged as sRGB must still read back bit-exact)."""
    if not icc_profile or not isinstance(icc_profile, bytes):
        return image
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if source.profile.xcolor_space.strip() != "RGB":
            notices.append(f"{role}: its colour profile is not an RGB one; the colours are used as sRGB")
            return image
        transform = ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), "RGB", "RGB")
        probe = _colour_probe()
        after = np.asarray(ImageCms.applyTransform(probe, transform), dtype=np.int16)
        moved = np.abs(after - np.asarray(probe, dtype=np.int16))
        if moved.max() <= 1:
            return image
        converted = ImageCms.applyTransform(image, transform)
        name = " ".join(ImageCms.getProfileDescription(source).split())[:80]
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        notices.append(f"{role}: its colour profile is unreadable ({exc}); the colours are used as sRGB")
        return image
    notices.append(f"{role}: converted from its colour profile ({name!r}) to sRGB")
    return converted


def _colour_probe() -> Image.Image:
    """Every colour of a 17-level grid per channel (4913 colours), as one image row."""
    levels = np.linspace(0, 255, 17).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(1, -1, 3)
    return Image.fromarray(grid, "RGB")


def _invsteg_text(image: ImageFile.ImageFile) -> dict[str, str]:
    # Pillow caps each text chunk (ImageFile.MAX_TEXT_CHUNK) and their total, so a crafted
    # file cannot make this large.
    chunks = getattr(image, "text", None) if image.format == "PNG" else None
    return {k: str(v) for k, v in (chunks or {}).items() if isinstance(k, str) and k.startswith(TEXT_PREFIX)}


def decode_image(
    data: bytes, source: str, role: str, *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Decode fully (catching truncation), apply EXIF orientation, convert to 8-bit RGB.

    ``max_pixels`` (None: no limit) is checked on the size in the header, before decoding.
    Warnings Pillow raises on the way (e.g. corrupt EXIF) come back as notices.
    """
    _check_max_pixels(max_pixels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # the pixel limit above replaces Pillow's global decompression-bomb warning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            loaded = _decode(data, source, role, max_pixels)
        except Image.DecompressionBombError as exc:
            raise InputFileError(
                f"{role} is larger than Pillow decodes in this format ({exc}): {source}"
            ) from None
        except (InvstegError, MemoryError):
            raise
        except Exception as exc:  # Pillow's decoders fail on damaged data with many types
            raise InputFileError(f"{role} image is damaged or truncated: {source} ({exc})") from None
    for warning in caught:
        notice = f"{role}: {warning.message}"
        if notice not in loaded.notices:
            loaded.notices.append(notice)
    return loaded


def read_image(source: str, role: str, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read and decode ``source`` (a path or ``-`` for stdin). ``role`` names it in errors.

    Images of more than ``max_pixels`` pixels are refused (InputFileError) from their header,
    and files larger than ``files.image_byte_limit(max_pixels)`` before they are read whole.
    """
    _check_max_pixels(max_pixels)
    # The bytes are capped too: the pixel limit is read from a header, and /dev/zero has none.
    limit = None if max_pixels is None else image_byte_limit(max_pixels)
    data = read_bytes(source, role, limit=limit, hint="raise `max_pixels` if it is a real image")
    return decode_image(data, source, role, max_pixels=max_pixels)


def encode_image(
    pixels: np.ndarray, image_format: str, quality: int = 95, text: dict[str, str] | None = None
) -> bytes:
    """``(H, W, 3)`` uint8 -> file bytes. No metadata is copied (no EXIF leaks); ``text``
    (PNG only, keys starting with :data:`TEXT_PREFIX`) is written as text chunks."""
    if image_format == "JPEG":
        return encode_jpeg(pixels, quality)
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality} if image_format == "WEBP" else {}
    if image_format == "PNG":
        # zlib's fastest level: a stego PNG is written several times faster than at Pillow's
        # default 6, and only a little larger (benchmarks/results.md, embed-file speed)
        options["compress_level"] = 1
    if text and image_format == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
        options["pnginfo"] = info
    Image.fromarray(pixels, "RGB").save(buffer, format=image_format, **options)
    return buffer.getvalue()
