"""The ``invsteg`` command line: parse, call :mod:`invsteg.api`, print.

One module per group of commands (``images``: hide, reveal, attack; ``files``: embed-file,
extract-file; ``capacity``; ``rescale``: down, up; ``tools``: models, eval, train,
convert-weights), the shared options in ``_app`` and the one error handler in ``_main``.
torch is imported inside commands only, so ``invsteg --help`` is instant.
"""

from invsteg.cli import capacity, files, images, rescale, tools  # noqa: F401  (each registers its commands on the app)
from invsteg.cli._app import DEFAULT_MAX_PIXELS, app
from invsteg.cli._main import EXIT_INTERRUPTED, EXIT_SOFTWARE, Interrupted, main

__all__ = ["DEFAULT_MAX_PIXELS", "EXIT_INTERRUPTED", "EXIT_SOFTWARE", "Interrupted", "app", "main"]
