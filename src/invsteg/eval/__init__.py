"""Quality metrics and evaluation after 8-bit rounding."""
