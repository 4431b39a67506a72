"""Assembled networks, each built from a config dataclass (import them from their modules:
this package imports nothing, so :mod:`invsteg.models.contracts` costs no torch import)."""
