"""Image operations below the models: colour spaces, wavelets, 8-bit quantisation, attacks."""
