"""Images decoded once and held in memory; random crops and flips cut from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from invsteg.errors import InputFileError
from invsteg.eval.views import center_crop
from invsteg.io.files import image_files


def image_paths(folder: str | Path) -> list[Path]:
    """The image files of ``folder``, sorted by name (FileNotFoundError if there are none)."""
    try:
        return image_files(folder)
    except InputFileError:
        raise FileNotFoundError(f"no images in {folder}") from None


def load_rgb(path: Path) -> Image.Image:
    """``path`` decoded and converted to RGB (the file is closed again)."""
    with Image.open(path) as image:
        return image.convert("RGB")


def to_tensor(image: Image.Image) -> Tensor:
    """PIL RGB -> ``(3, H, W)`` uint8."""
    return torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).contiguous()


class ImageBank:
    """Every image of a folder at several scales, as uint8 tensors, for fast random crops.

    Smaller scales show the model whole scenes (more texture per pixel), as the
    ``whole512`` evaluation view does.
    """

    def __init__(self, folder: str | Path, crop: int, scales: tuple[float, ...] = (1.0,)) -> None:
        self.crop = crop
        self.images: list[Tensor] = []
        for path in image_paths(folder):
            image = load_rgb(path)
            for scale in scales:
                size = (round(image.width * scale), round(image.height * scale))
                if min(size) < crop:
                    continue
                scaled = image if scale == 1.0 else image.resize(size, Image.Resampling.LANCZOS)
                self.images.append(to_tensor(scaled))
        if not self.images:
            raise FileNotFoundError(f"no image in {folder} is at least {crop} px on its short side")

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, generator: torch.Generator) -> Tensor:
        """``(batch, 3, crop, crop)`` float in ``[0, 1]``: random image, crop, flips."""
        crops = []
        for _ in range(batch):
            image = self.images[int(torch.randint(len(self.images), (1,), generator=generator))]
            _, h, w = image.shape
            top = int(torch.randint(h - self.crop + 1, (1,), generator=generator))
            left = int(torch.randint(w - self.crop + 1, (1,), generator=generator))
            crop = image[:, top : top + self.crop, left : left + self.crop]
            flips = torch.randint(2, (2,), generator=generator)
            if flips[0]:
                crop = crop.flip(-1)
            if flips[1]:
                crop = crop.flip(-2)
            crops.append(crop)
        return torch.stack(crops).float() / 255


def center_crops(folder: str | Path, size: int, limit: int | None = None) -> Tensor:
    """``(N, 3, size, size)`` float center crops at full resolution (the ``center256`` view)."""
    crops = [to_tensor(center_crop(load_rgb(path), size)) for path in image_paths(folder)[:limit]]
    return torch.stack(crops).float() / 255
