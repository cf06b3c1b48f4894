"""Images are read as a person sees them: EXIF orientation is honoured."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from doodle.files.image_io import load_image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_load_image_applies_exif_orientation(tmp_path: Path, orientation: int) -> None:
    pixels = np.zeros((2, 3, 3), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0)  # a corner that moves under every non-identity orientation
    stored = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    stored.save(path, exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB"), dtype=np.float32) / 255.0
    loaded = load_image(path)[0].numpy()
    assert loaded.shape == expected.shape
    np.testing.assert_array_equal(loaded, expected)
    moved = loaded.shape != pixels.shape or not np.array_equal(loaded, pixels / 255.0)
    assert moved == (orientation != 1)  # the red corner moves under every orientation but the identity
