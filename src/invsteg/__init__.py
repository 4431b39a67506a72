"""invsteg: hide images and files in images with invertible neural networks.

Importing the package is cheap: torch loads only when a model is used.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("invsteg")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
