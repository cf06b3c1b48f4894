"""Files: images in and out, atomic writes, one writer per output file, and state dicts read safely."""
