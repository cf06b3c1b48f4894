"""Colour-coded maps to region masks, robust to anti-aliased edges, JPEG noise and near-miss colours.

The rule, in three steps:

1. *Painted colours* are found among flat pixels only (each channel within ``FLAT_TOLERANCE`` of all 8
   neighbours), so the hundreds of blended colours on anti-aliased edges never become regions. Flat colours
   closer than ``MERGE_DISTANCE`` (RGB 0..255, Euclidean) are one painted colour; in automatic mode a painted
   colour must cover ``MIN_REGION_FRACTION`` of the flat pixels. Merging colours that look painted (each that
   large, further apart than noise) is logged as a warning: the map then has fewer regions than colours.
2. Every pixel, edges included, goes to its nearest painted colour.
3. With a reference palette (``palette_from``) the map's painted colours are matched one-to-one to the
   palette by the assignment that minimises the total colour distance, so a doodle's (254, 0, 0) lands in the
   region the style map paints (255, 51, 31), even when another palette colour is closer in plain RGB. A
   match further than ``FAR_COLOUR_DISTANCE`` is used but logged as a warning that names the colour and where
   it is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..errors import DoodleError
from ..files.image_io import check_image
from .regions import RegionMasks, check_region_count

log = logging.getLogger(__name__)

FLAT_TOLERANCE = 24
MERGE_DISTANCE = 48.0
MIN_REGION_FRACTION = 0.002
FAR_COLOUR_DISTANCE = 120.0
N_COLORS = "n_colors (--colors)"
"""How messages name the region count asked for: the node's input and the CLI's flag."""


def masks_from_colors(
    image: torch.Tensor | Sequence[torch.Tensor],
    n_colors: int = 0,
    palette_from: RegionMasks | None = None,
    palette_name: str = "palette_from",
) -> RegionMasks:
    """Turn colour-coded maps ``[B, H, W, C]`` (0..1, C = 1, 3 or 4) into one-hot region masks.

    ``n_colors`` = 0 detects the number of regions; otherwise the map must have exactly that many painted
    colours. ``palette_from`` reuses another map's palette so that regions line up across maps: the map may
    then paint fewer colours than it has (``n_colors``, if set, must equal its size); error messages call it
    ``palette_name``.
    """
    rgb = image_to_rgb8(image)
    if n_colors < 0:
        raise DoodleError(f"{N_COLORS} must be 0 (automatic) or a positive number, got {n_colors}")
    if palette_from is None:
        palette = detect_palette(rgb, n_colors)
        labels = nearest_color(rgb, palette)
        return RegionMasks.from_labels(torch.from_numpy(labels), torch.from_numpy(palette / 255.0).float())

    reference = palette_from.palette.detach().cpu().double().numpy() * 255.0
    if n_colors not in (0, len(reference)):
        raise DoodleError(
            f"{N_COLORS} is {n_colors} but palette_from has {len(reference)} regions: set it to 0 or {len(reference)}"
        )
    own = detect_palette(rgb, 0)
    if len(own) > len(reference):
        raise DoodleError(
            f"the map has {len(own)} painted colours ({describe_colors(own)}) but {palette_name} has only "
            f"{len(reference)} regions ({describe_colors(reference)}): repaint the extra colours with these"
        )
    own_labels = nearest_color(rgb, own)
    labels = match_colors(own, reference, own_labels)[own_labels]
    return RegionMasks.from_labels(torch.from_numpy(labels), palette_from.palette.detach().cpu().float())


def image_to_rgb8(image: torch.Tensor | Sequence[torch.Tensor]) -> np.ndarray:
    """Validate a map batch and return it as ``uint8 [B, H, W, 3]``.

    Greyscale is repeated to RGB; RGBA is composited over black, so transparent parts form one black region.
    """
    if not isinstance(image, torch.Tensor):
        sizes = {tuple(item.shape[-3:-1]) for item in image}
        if len(sizes) > 1:
            raise DoodleError(f"the maps in one batch must have one size, got {sorted(sizes)}: resize them first")
        image = torch.cat([item if item.ndim == 4 else item[None] for item in image])
    if isinstance(image, torch.Tensor) and image.ndim == 3:
        image = image[None]
    check_image(image, "the colour map", channels=(1, 3, 4))
    channels = image.shape[-1]
    image = image.detach().float().cpu()
    if channels == 1:
        image = image.expand(-1, -1, -1, 3)
    elif channels == 4:
        image = image[..., :3] * image[..., 3:]
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def detect_palette(rgb: np.ndarray, n_colors: int) -> np.ndarray:
    """The painted colours of ``uint8 [B, H, W, 3]`` maps, largest area first, as float RGB 0..255 ``[R, 3]``."""
    colors, counts = _cluster_flat_colors(rgb)
    if n_colors == 0:
        keep = counts >= max(1.0, MIN_REGION_FRACTION * counts.sum())
        keep[0] = True
        return colors[keep]
    minimum = MIN_REGION_FRACTION * counts.sum()
    if len(colors) < n_colors:
        raise DoodleError(
            f"{N_COLORS} asks for {n_colors} regions but the map has only {len(colors)} painted colours "
            f"({describe_colors(colors)}): lower it or set it to 0 (automatic)"
        )
    if len(colors) > n_colors and counts[n_colors] >= minimum:
        significant = int((counts >= minimum).sum())
        raise DoodleError(
            f"the map has {significant} painted colours but {N_COLORS} is {n_colors} "
            f"({describe_colors(colors[:significant])}): set it to {significant} or 0 (automatic)"
        )
    return colors[:n_colors]


def nearest_color(rgb: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """Index of the nearest of ``colours`` for every pixel, ``int64 [B, H, W]``."""
    pixels = torch.from_numpy(rgb).float().reshape(-1, 3)
    centres = torch.from_numpy(np.asarray(colors)).float()
    labels = torch.cdist(pixels, centres).argmin(dim=1)
    return labels.reshape(rgb.shape[:3]).numpy()


def match_colors(own: np.ndarray, reference: np.ndarray, own_labels: np.ndarray) -> np.ndarray:
    """For each of a map's painted colours, the index of its partner in ``reference`` (one-to-one).

    ``own_labels`` (each pixel's index into ``own``) only serves to say where a far colour is.
    """
    partner, distances = _partners(own, reference)
    for index, target in enumerate(partner):
        if distances[index, target] > FAR_COLOUR_DISTANCE:
            where = np.argwhere(own_labels == index)
            y, x = where[:, 1].mean(), where[:, 2].mean()
            log.warning(
                "doodle colour %s (around x=%d, y=%d) is far from every palette colour; it was mapped to %s",
                _rgb_text(own[index]),
                x,
                y,
                _rgb_text(reference[target]),
            )
    return partner


def aligned_to_palette(masks: RegionMasks, palette: torch.Tensor, palette_name: str = "the palette") -> RegionMasks:
    """``masks`` with their channels in ``palette``'s order, matched one-to-one by colour (as ``palette_from``).

    A generator or a style map knows its regions by colour, not by position: masks made without
    ``palette_from`` (whose regions come largest first) still paint each region with its own texture.
    Error messages call the palette's owner ``palette_name``.
    """
    advice = f"make them with MaskFromColors or RandomDoodleMask in {palette_name}'s colours (palette_from)"
    check_region_count(masks.n_regions, palette_name, palette.shape[0], advice)
    own, reference = (colors.detach().cpu().double().numpy() * 255.0 for colors in (masks.palette, palette))
    partner, _ = _partners(own, reference)
    order = np.argsort(partner)  # channel order[k] of the masks is region k of the palette
    if (order == np.arange(len(order))).all():
        return RegionMasks(masks.masks, palette.detach().cpu().float())
    return RegionMasks(masks.masks[:, torch.from_numpy(order).to(masks.masks.device)], palette.detach().cpu().float())


def labels_in_palette(masks: RegionMasks, palette: torch.Tensor, palette_name: str = "the palette") -> torch.Tensor:
    """Each pixel's region as an index into ``palette`` ``[B, H, W]``, the colours the masks use matched
    one-to-one to the palette's; a colour the palette lacks (further than ``FAR_COLOUR_DISTANCE``) is refused
    by name, since nothing in the palette's owner could paint it."""
    used = torch.nonzero(masks.masks.flatten(2).amax(dim=(0, 2)) > 0).flatten().cpu()
    own = masks.palette[used].detach().cpu().double().numpy() * 255.0
    reference = palette.detach().cpu().double().numpy() * 255.0
    if len(own) > len(reference):
        raise DoodleError(
            f"the doodle paints {len(own)} colours but {palette_name} has only {len(reference)} "
            f"({describe_colors(reference)}): paint the doodle in {palette_name}'s colours"
        )
    partner, distances = _partners(own, reference)
    far = [k for k, target in enumerate(partner) if distances[k, target] > FAR_COLOUR_DISTANCE]
    if far:
        raise DoodleError(
            f"the doodle paints {describe_colors(own[far])}, which {palette_name} lacks (its colours: "
            f"{describe_colors(reference)}): paint those parts in one of its colours"
        )
    region = torch.zeros(masks.n_regions, dtype=torch.long)
    region[used] = torch.from_numpy(partner)
    return region.to(masks.masks.device)[masks.labels()]


def _partners(own: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The one-to-one assignment of ``own`` colours to ``reference`` ones with the least total distance, and
    the colour distances ``[len(own), len(reference)]``."""
    distances = np.linalg.norm(own[:, None, :] - reference[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(distances)
    partner = np.empty(len(own), dtype=np.int64)
    partner[rows] = cols
    return partner, distances


def _cluster_flat_colors(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy clustering of the flat pixels' colours, most frequent first: (centres [K, 3], counts [K])."""
    flat = _flat_pixels(rgb)
    if not flat.any():
        flat = np.ones(rgb.shape[:3], dtype=bool)
    codes = rgb[flat].astype(np.int32)
    keys = (codes[:, 0] << 16) | (codes[:, 1] << 8) | codes[:, 2]
    unique, counts = np.unique(keys, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    unique, counts = unique[order], counts[order]
    values = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1).astype(np.float64)

    sums: list[np.ndarray] = []
    totals: list[float] = []
    seeds: list[np.ndarray] = []
    painted: list[tuple[np.ndarray, np.ndarray]] = []  # (colour, the colour it joined) of painted-looking merges
    for value, count in zip(values, counts, strict=True):
        if seeds:
            distances = np.linalg.norm(np.asarray(seeds) - value, axis=1)
            nearest = int(distances.argmin())
            if distances[nearest] < MERGE_DISTANCE:
                sums[nearest] += value * count
                totals[nearest] += count
                if count >= MIN_REGION_FRACTION * counts.sum() and distances[nearest] >= MERGE_DISTANCE / 2:
                    painted.append((value, seeds[nearest]))
                continue
        seeds.append(value)
        sums.append(value * count)
        totals.append(float(count))
    if painted:
        log.warning(
            "the map paints %d colours within %g of another painted colour, each merged into that one's region "
            "(%s into %s first): paint each region in a clearly different colour",
            len(painted),
            MERGE_DISTANCE,
            _rgb_text(painted[0][0]),
            _rgb_text(painted[0][1]),
        )
    centres = np.asarray(sums) / np.asarray(totals)[:, None]
    counts_out = np.asarray(totals)
    order = np.argsort(-counts_out, kind="stable")
    return centres[order], counts_out[order]


def _flat_pixels(rgb: np.ndarray) -> np.ndarray:
    """Pixels whose 8 neighbours all share their colour within ``FLAT_TOLERANCE``: painted, not edges.

    One channel at a time: a maximum over a trailing axis of 3 was most of a doodle render's time on a GPU.
    """
    height, width = rgb.shape[1:3]
    flat = np.ones(rgb.shape[:3], dtype=bool)
    for channel in range(3):
        values = rgb[..., channel].astype(np.int16)
        padded = np.pad(values, ((0, 0), (1, 1), (1, 1)), mode="edge")
        spread = np.zeros_like(values)
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                np.maximum(spread, np.abs(padded[:, dy : dy + height, dx : dx + width] - values), out=spread)
        flat &= spread <= FLAT_TOLERANCE
    return flat


def _rgb_text(color: np.ndarray) -> str:
    return "(" + ",".join(str(int(round(c))) for c in color) + ")"


def describe_colors(colors: np.ndarray) -> str:
    """RGB 0..255 colours ``[N, 3]`` as messages write them: "(255,0,0) (0,0,255)"."""
    return " ".join(_rgb_text(c) for c in colors)
