"""The evaluation views of ``docs/design.md`` (center256, whole512, full), applied to PIL images."""

from __future__ import annotations

from PIL import Image

VIEWS = ("center256", "whole512", "full")


def center_crop(image: Image.Image, size: int) -> Image.Image:
    """The ``size`` x ``size`` crop at the centre of ``image`` (at full resolution)."""
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def apply_view(image: Image.Image, view: str) -> Image.Image:
    """``center256``: the 256x256 centre crop at full resolution (fine detail);
    ``whole512``: shorter side resized (Lanczos) to 512, then the 512x512 centre crop
    (a whole scene); ``full``: the image as is."""
    if view == "center256":
        return center_crop(image, 256)
    if view == "whole512":
        scale = 512 / min(image.size)
        resized = image.resize(
            (max(512, round(image.width * scale)), max(512, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
        return center_crop(resized, 512)
    if view == "full":
        return image
    raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
