"""Bytes and images in and out: files and pipes, image decoding and encoding, passphrases."""
