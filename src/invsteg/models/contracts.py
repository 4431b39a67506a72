"""What each kind of model promises to the pipeline that uses it.

The zoo checks a model's task when it creates it (from the closed architecture table),
so pipelines rely on these contracts instead of probing attributes. Images are
``(B, 3, H, W)`` float tensors in ``[0, 1]``; H and W are multiples of ``size_multiple``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import Tensor

_M = TypeVar("_M", bound="Model")


class Model(Protocol):
    """What every contract keeps of ``nn.Module``: pipelines move a model and read its size."""

    def to(self: _M, *args: Any, **kwargs: Any) -> _M: ...

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...


class SecretsConfig(Protocol):
    @property
    def secrets(self) -> int: ...


@runtime_checkable
class ImageHider(Model, Protocol):
    """Cover and K secrets -> stego; stego -> K secrets (task ``hide``)."""

    size_multiple: int
    min_size: int

    @property
    def config(self) -> SecretsConfig: ...

    def hide(self, cover: Tensor, *secrets: Tensor) -> tuple[Tensor, Tensor]:
        """``(stego, lost part)``; the lost part is what reveal does not get back."""
        ...

    def reveal(self, stego: Tensor) -> list[Tensor]:
        """The K secrets, in the order they were hidden."""
        ...


@runtime_checkable
class RobustHider(ImageHider, Protocol):
    """An :class:`ImageHider` whose reveal first restores a distorted stego (task ``robust``)."""

    def restore(self, stego: Tensor) -> tuple[Tensor, Tensor]:
        """``(restored stego bands, estimated distortion levels)``."""
        ...


@runtime_checkable
class ColourEmbedder(Model, Protocol):
    """Colour (ab of CIELAB) <-> latents given lightness L (task ``embed``).

    ``ab`` is ``(B, 2, H, W)``, L ``(B, 1, H, W)``, both in Lab units; latents are
    ``(B, latent_channels, H/2, W/2)``, standard normal for natural colours.
    ``uses_cover_colour``: decode also takes the cover's ab and keeps its 2x2 means.
    """

    size_multiple: int
    latent_channels: int
    uses_cover_colour: bool

    def encode(self, ab: Tensor, lightness: Tensor) -> Tensor: ...

    def decode(self, z: Tensor, lightness: Tensor, cover_ab: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class Rescaler(Model, Protocol):
    """Image -> an image ``scale`` times smaller, and back (task ``rescale``).

    ``downscale`` returns ``(small image (B, 3, H/s, W/s), lost part z)``; ``upscale``
    restores ``(B, 3, H, W)`` from the small image, with ``z`` drawn at ``temperature``
    (0: its mean).
    """

    scale: int
    size_multiple: int

    def downscale(self, image: Tensor) -> tuple[Tensor, Tensor]: ...

    def upscale(
        self,
        small: Tensor,
        z: Tensor | None = None,
        *,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> Tensor: ...
