"""Decoding and encoding 8-bit RGB images: mode conversion, EXIF orientation, formats.

Everything here works on ``(H, W, 3)`` uint8 numpy arrays; torch is not imported.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from invsteg.errors import InputFileError, UsageError
from invsteg.fileio import STDIO, read_bytes

LOSSLESS_FORMATS = {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF"}
LOSSY_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
LOSSY_INPUT_FORMATS = {"JPEG", "WEBP", "MPO"}


@dataclass
class LoadedImage:
    """An image as ``(H, W, 3)`` uint8, with the notices its conversion produced."""

    pixels: np.ndarray
    source: str
    format: str | None
    notices: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.pixels.shape[1], self.pixels.shape[0]


def _to_rgb(image: Image.Image, role: str, notices: list[str]) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if values.max(initial=0) > 255 else 255.0
        eight_bit = np.clip(np.round(values / peak * 255), 0, 255).astype(np.uint8)
        notices.append(f"{role}: {mode} (16-bit or float) grayscale converted to 8-bit RGB")
        return Image.fromarray(eight_bit).convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        notices.append(f"{role}: alpha channel dropped, the image is used as RGB")
    elif mode in ("L", "1"):
        notices.append(f"{role}: grayscale converted to RGB")
    elif mode == "P":
        notices.append(f"{role}: palette image converted to RGB")
    else:
        notices.append(f"{role}: {mode} converted to RGB")
    return image.convert("RGB")


def decode_image(data: bytes, source: str, role: str) -> LoadedImage:
    """Decode fully (catching truncation), apply EXIF orientation, convert to 8-bit RGB."""
    notices: list[str] = []
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image_format = image.format
            # exif_transpose returns a copy even when there is nothing to do, so ask the tag.
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            oriented = ImageOps.exif_transpose(image)
            if orientation in range(2, 9):
                notices.append(f"{role}: EXIF orientation applied")
            rgb = _to_rgb(oriented, role, notices)
            pixels = np.array(rgb, dtype=np.uint8)
    except UnidentifiedImageError:
        raise InputFileError(f"{role} is not an image Pillow can read: {source}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputFileError(f"{role} image is damaged or truncated: {source} ({exc})") from None
    return LoadedImage(pixels, source, image_format, notices)


def read_image(source: str, role: str) -> LoadedImage:
    """Read and decode ``source`` (a path or ``-`` for stdin). ``role`` names it in errors."""
    return decode_image(read_bytes(source, role), source, role)


def output_format(destination: str, *, allow_lossy: bool) -> str:
    """The Pillow format for ``destination``'s extension (PNG for stdout).

    Lossy formats destroy hidden data, so they need ``allow_lossy``.
    """
    if destination == STDIO:
        return "PNG"
    suffix = Path(destination).suffix.lower()
    if suffix in LOSSLESS_FORMATS:
        return LOSSLESS_FORMATS[suffix]
    if suffix in LOSSY_FORMATS:
        if not allow_lossy:
            raise UsageError(
                f"{destination}: {LOSSY_FORMATS[suffix]} is lossy and would destroy the hidden data; "
                "write PNG, or pass --allow-lossy to write it anyway"
            )
        return LOSSY_FORMATS[suffix]
    supported = ", ".join(sorted(LOSSLESS_FORMATS))
    raise UsageError(f"{destination}: unknown image extension; use one of {supported}")


def encode_image(pixels: np.ndarray, image_format: str, quality: int = 95) -> bytes:
    """``(H, W, 3)`` uint8 -> file bytes. No metadata is copied (no EXIF leaks)."""
    buffer = io.BytesIO()
    options = {"quality": quality} if image_format in ("JPEG", "WEBP") else {}
    Image.fromarray(pixels, "RGB").save(buffer, format=image_format, **options)
    return buffer.getvalue()
