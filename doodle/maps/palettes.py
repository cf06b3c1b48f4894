"""Palettes to paint with: a generator's regions or a style map's colours, each exact in 8 bits.

A canvas paints 8-bit colours; the masks it makes carry the source's own float palette, so a generator lines
them up with its regions exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..deprecated import RenamedAttribute
from ..errors import DoodleError
from ..files.image_io import check_image, load_image
from ..limits import MAX_CANVAS_SIDE, MAX_COLORS
from .colormap import MERGE_DISTANCE, describe_colors, detect_palette, image_to_rgb8
from .random_masks import default_palette
from .regions import RegionMasks

MAX_OUTSIDE_SHOWN = 3
MAP_COLOUR_BITS = 5
MAP_COVERAGE = 0.9
"""An image is a colour map when its 64 commonest colours (at 5 bits a channel, so JPEG noise stays in its
colour) cover this share of its pixels: maps cover over 0.95 even as JPEGs, paintings about a third."""
MAP_TEST_SIDE = 256
SPARE_REGIONS = 4
CANDIDATE_COLOURS = 16
"""Spare colours are the first of this many hues (``default_palette``) far enough from the map's own."""
SPARE_DISTANCE = 2 * MERGE_DISTANCE
"""How far (RGB 0..255) a spare colour lies from every colour of the map it extends: never read as one of them."""


@dataclass(frozen=True)
class Palette:
    """The colours ``[R, 3]`` (RGB 0..1) of a source's regions, in its region order."""

    colors: torch.Tensor
    source: str
    names: tuple[str, ...] = ()
    """What each region depicts, where the source says so."""
    colours = RenamedAttribute("colors")

    def __post_init__(self) -> None:
        if self.names and len(self.names) != len(self.colors):
            raise DoodleError(f"{self.source}: {len(self.names)} region names for {len(self.colors)} colours")
        if self.colors.ndim != 2 or self.colors.shape[1] != 3 or len(self.colors) == 0:
            raise DoodleError(f"{self.source}: a palette is [regions, 3], got {list(self.colors.shape)}")
        if len(np.unique(self.rgb8, axis=0)) != len(self.rgb8):
            raise DoodleError(f"{self.source}: two regions share one 8-bit colour ({describe_colors(self.rgb8)})")

    @property
    def rgb8(self) -> np.ndarray:
        """The colours as a canvas paints them, ``uint8 [R, 3]``."""
        return (self.colors.clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    def to_json(self) -> dict:
        return {"source": self.source, "colors": self.rgb8.tolist(), "names": list(self.names)}

    def masks_of(self, painting: torch.Tensor) -> RegionMasks:
        """One-hot masks of a painting ``[1, H, W, C]`` whose every pixel is exactly one of the colours."""
        check_image(painting, "the painting")
        height, width = painting.shape[1:3]
        if max(height, width) > MAX_CANVAS_SIDE:
            raise DoodleError(f"the painting is {width}x{height}; a canvas is at most {MAX_CANVAS_SIDE} a side")
        rgb = image_to_rgb8(painting)[0].astype(np.int32)
        codes = _codes(rgb.reshape(-1, 3))
        known = _codes(self.rgb8.astype(np.int32))
        order = np.argsort(known)
        slot = np.searchsorted(known[order], codes).clip(0, len(known) - 1)
        outside = known[order][slot] != codes
        if outside.any():
            colors = np.unique(rgb.reshape(-1, 3)[outside], axis=0)
            raise DoodleError(
                f"{int(outside.sum())} pixels of the painting are in colours outside {self.source}'s palette "
                f"({describe_colors(colors[:MAX_OUTSIDE_SHOWN])}{' ...' if len(colors) > MAX_OUTSIDE_SHOWN else ''})"
                f": paint it with this palette's swatches, or load it into the canvas, which snaps colours to them"
            )
        labels = torch.from_numpy(order[slot].reshape(1, height, width))
        return RegionMasks.from_labels(labels, self.colors)

    def image_of(self, masks: RegionMasks) -> torch.Tensor:
        """The masks as an IMAGE ``[B, H, W, 3]`` in the 8-bit colours painted (saved, they read back exact)."""
        return torch.from_numpy(self.rgb8).float()[masks.labels().cpu()] / 255

    def blank(self, width: int, height: int) -> RegionMasks:
        """A canvas painted all in the first (background) region."""
        return RegionMasks.from_labels(torch.zeros(1, height, width, dtype=torch.long), self.colors)


def map_palette(path: Path) -> Palette:
    """The painted colours of a style map, largest region first (as ``MaskFromColors`` numbers them)."""
    colors = detect_palette(image_to_rgb8(load_image(path)), 0)
    return Palette(torch.from_numpy(colors / 255.0).float(), Path(path).name)


def editing_palette(path: Path) -> Palette:
    """A style map's colours and then :data:`SPARE_REGIONS` spare ones, far from all of them, for regions a
    user adds while editing the map."""
    own = map_palette(path).colors
    candidates = default_palette(CANDIDATE_COLOURS)
    far = torch.cdist(candidates * 255, own * 255).min(dim=1).values > SPARE_DISTANCE
    spares = candidates[far][:SPARE_REGIONS]
    names = ("",) * len(own) + ("new",) * len(spares)
    return Palette(torch.cat([own, spares]), Path(path).name, names)


def is_color_map(path: Path) -> bool:
    """Whether the image at ``path`` is a flat colour map, the only kind of image a palette is taken from (a
    painting or a photo would give a palette of arbitrary greys); unreadable files are not."""
    try:
        stat = Path(path).stat()
    except OSError:
        return False
    return _is_color_map(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _is_color_map(path: str, modified: int, size: int) -> bool:
    """:func:`is_color_map` of one version of a file (its time and size are the key: a changed file is read
    again)."""
    try:
        with Image.open(path) as opened:
            opened.draft("RGB", (MAP_TEST_SIDE, MAP_TEST_SIDE))  # JPEGs decode small
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
        return False
    image.thumbnail((MAP_TEST_SIDE, MAP_TEST_SIDE), Image.Resampling.NEAREST)  # no blended colours
    rgb = np.asarray(image).reshape(-1, 3).astype(np.int32) >> (8 - MAP_COLOUR_BITS)
    _, counts = np.unique(_codes(rgb), return_counts=True)
    return bool(np.sort(counts)[::-1][:MAX_COLORS].sum() >= MAP_COVERAGE * len(rgb))


def _codes(rgb: np.ndarray) -> np.ndarray:
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
