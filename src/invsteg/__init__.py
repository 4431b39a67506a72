"""invsteg: hide images and files in images with invertible neural networks.

Importing the package is cheap: torch loads only when a model is used, and the version only
when asked for (``importlib.metadata`` alone takes longer to import than the whole CLI).
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("invsteg")
        except PackageNotFoundError:  # running from a source tree without installation
            return "0.0.0+source"
    raise AttributeError(f"module 'invsteg' has no attribute {name!r}")
