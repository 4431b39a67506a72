"""What the models are used for: tiling, hiding images, embedding files."""
