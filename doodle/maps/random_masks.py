"""Random smooth region masks: diamond-square heights, 1-D K-means into regions, a median filter, no specks.

They are the feed-forward generator's training data and a "surprise me" doodle. Unlike the reference code,
every requested region is present in every mask (a filter that erases one triggers a redraw), pieces smaller
than ``min_piece`` of the image are absorbed by their neighbours, and any width and height work (a long thin
map costs memory for its own pixels).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from ..declared import check_seed
from ..errors import DoodleError
from ..limits import MAX_BATCH, MAX_MASK_SIDE, MAX_SMOOTHING
from .regions import RegionMasks, check_region_count, one_hot_masks

MAX_ATTEMPTS = 50
MAX_MASK_PIXELS = MAX_MASK_SIDE * MAX_MASK_SIDE
"""Pixels of one call's masks in all (width x height x batch), about 0.5 GiB of labels."""
MAX_HEIGHT_MAP_CELLS = 2 * (MAX_MASK_SIDE + 1) ** 2
"""Cells of one map's height grid (:func:`height_map_shape`, 8 bytes each): 1 GiB, twice the largest square's."""


@dataclass(frozen=True, kw_only=True)
class MaskShape:
    """How random regions look; checked when made (``min_piece`` against the region count when used)."""

    roughness: float = 0.5
    """0..1: how much of each coarser level's random amplitude the next finer level keeps: low gives round
    blobs, high ragged coasts."""
    smoothing: int = 11
    """The median filter's diameter in pixels: removes thin slivers."""
    min_piece: float = 0.02
    """Pieces smaller than this share of the image are absorbed by their neighbours."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.roughness <= 1.0:
            raise DoodleError(f"roughness must be between 0 and 1, got {self.roughness}")
        if not 0 <= self.smoothing <= MAX_SMOOTHING:
            raise DoodleError(f"smoothing must be between 0 and {MAX_SMOOTHING}, got {self.smoothing}")
        if not 0.0 <= self.min_piece < 1.0:
            raise DoodleError(f"min_piece must be at least 0 and below 1, got {self.min_piece}")


def random_masks(
    width: int,
    height: int,
    n_regions: int,
    seed: int,
    *,
    batch_size: int = 1,
    shape: MaskShape = MaskShape(),
    palette: torch.Tensor | None = None,
) -> RegionMasks:
    """A reproducible batch of random region masks."""
    _validate(width, height, n_regions, batch_size, shape.min_piece)
    check_seed(seed)
    if palette is None:
        palette = default_palette(n_regions)
    else:
        advice = f"set n_regions to {palette.shape[0]}"
        check_region_count(n_regions, "palette_from", palette.shape[0], advice, what="the masks asked for")
    rng = np.random.default_rng(seed)
    labels = np.stack([random_labels(width, height, n_regions, rng, shape) for _ in range(batch_size)])
    return RegionMasks.from_labels(torch.from_numpy(labels), palette.detach().cpu().float())


def random_labels(
    width: int,
    height: int,
    n_regions: int,
    rng: np.random.Generator,
    shape: MaskShape,
    *,
    shuffle_regions: bool = False,
    shares: np.ndarray | None = None,
) -> np.ndarray:
    """One label map ``int64 [H, W]`` with all ``n_regions`` present and no piece below ``shape.min_piece``.

    Heights are cut into bands by K-means, or, given ``shares`` (one per band, lowest first, summing to 1),
    at the quantiles that give each band that share of the area.
    """
    for _ in range(MAX_ATTEMPTS):
        heights = diamond_square(height, width, shape.roughness, rng)
        labels = kmeans_1d(heights, n_regions) if shares is None else quantile_bands(heights, shares)
        labels = median_filter_ordered(labels, n_regions, shape.smoothing)
        labels = absorb_small_pieces(labels, int(shape.min_piece * height * width))
        if len(np.unique(labels)) == n_regions:
            if shuffle_regions:
                labels = rng.permutation(n_regions)[labels]
            return labels
    raise DoodleError(
        f"could not fit {n_regions} regions into {width}x{height} with smoothing {shape.smoothing}, each region at "
        f"least {shape.min_piece:g} of the image: make width and height larger (or use fewer regions or less "
        "smoothing)"
    )


def diamond_square(height: int, width: int, roughness: float, rng: np.random.Generator) -> np.ndarray:
    """A fractal height map in about [-1, 1], cut from a grid of (2^n + 1)-squares side by side, 2^n the
    smallest power that covers the shorter side: a long thin map costs its own pixels, not its longer side
    squared."""
    rows, cols = height_map_shape(height, width)
    step = _square(height, width)
    grid = np.zeros((rows, cols))
    grid[::step, ::step] = rng.uniform(-1, 1, grid[::step, ::step].shape)
    amplitude = 1.0
    while step > 1:
        half = step // 2
        corners = (
            grid[0:-1:step, 0:-1:step]
            + grid[0:-1:step, step::step]
            + grid[step::step, 0:-1:step]
            + grid[step::step, step::step]
        )
        centres = grid[half::step, half::step]
        grid[half::step, half::step] = corners / 4 + rng.uniform(-amplitude, amplitude, centres.shape)
        _square_step(grid, step, amplitude, rng)
        step, amplitude = half, amplitude * roughness
    top = rng.integers(0, rows - height + 1)
    left = rng.integers(0, cols - width + 1)
    return grid[top : top + height, left : left + width]


def height_map_shape(height: int, width: int) -> tuple[int, int]:
    """The grid :func:`diamond_square` computes for a ``height`` x ``width`` map: as many squares as cover it."""
    step = _square(height, width)
    rows, cols = (max(1, -(-(side - 1) // step)) * step + 1 for side in (height, width))
    return rows, cols


def _square(height: int, width: int) -> int:
    """2^n, the side of :func:`diamond_square`'s squares less one: the smallest (at least 2) that covers the
    shorter side."""
    return 2 ** max(1, int(np.ceil(np.log2(max(min(height, width), 2) - 1))))


def _square_step(grid: np.ndarray, step: int, amplitude: float, rng: np.random.Generator) -> None:
    """Set the edge midpoints to the mean of their (up to four) neighbours plus noise."""
    half = step // 2
    padded = np.pad(grid, half, constant_values=np.nan)
    for row_start, col_start in ((0, half), (half, 0)):
        rows = np.arange(row_start, grid.shape[0], step)[:, None] + half
        cols = np.arange(col_start, grid.shape[1], step)[None, :] + half
        neighbours = np.stack(
            [padded[rows - half, cols], padded[rows + half, cols], padded[rows, cols - half], padded[rows, cols + half]]
        )
        mean = np.nanmean(neighbours, axis=0)
        grid[rows - half, cols - half] = mean + rng.uniform(-amplitude, amplitude, mean.shape)


def kmeans_1d(values: np.ndarray, k: int, iterations: int = 50) -> np.ndarray:
    """K-means of scalar values, labels ordered by centre (0 = lowest). Exact on a 1024-bin histogram."""
    counts, edges = np.histogram(values, bins=1024)
    bins = (edges[:-1] + edges[1:]) / 2
    cumulative = np.cumsum(counts) / counts.sum()
    centres = bins[np.searchsorted(cumulative, (np.arange(k) + 0.5) / k).clip(0, len(bins) - 1)].astype(float)
    for _ in range(iterations):
        centres.sort()
        assignment = np.searchsorted((centres[:-1] + centres[1:]) / 2, bins)
        weights = np.bincount(assignment, weights=counts, minlength=k)
        sums = np.bincount(assignment, weights=counts * bins, minlength=k)
        updated = np.where(weights > 0, sums / np.maximum(weights, 1), centres)
        if np.allclose(updated, centres):
            break
        centres = updated
    centres.sort()
    return np.searchsorted((centres[:-1] + centres[1:]) / 2, values).astype(np.int64)


def quantile_bands(values: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Labels ordered by value (0 = lowest) such that label ``i`` covers about ``shares[i]`` of the values."""
    cuts = np.quantile(values, np.cumsum(shares)[:-1].clip(0, 1))
    return np.searchsorted(cuts, values).astype(np.int64)


def median_filter_ordered(labels: np.ndarray, n_labels: int, diameter: int) -> np.ndarray:
    """Median filter of ordered labels with a disk, by threshold decomposition (one disk count per threshold).

    For ordered labels the median is the number of thresholds t with a majority of the disk at label >= t;
    the disk has an odd number of pixels, so there are no ties. A disk count is a sum of row segments, each
    a difference of two running sums along the row: a few passes per disk row instead of a 2-D convolution's
    diameter² taps (docs/history/benchmarks.md, Random masks).
    """
    if diameter <= 1 or n_labels == 1:
        return labels
    radius = diameter // 2
    height, width = labels.shape
    rows = [(dy, math.isqrt(radius**2 - dy**2)) for dy in range(-radius, radius + 1)]
    majority = sum(2 * half + 1 for _, half in rows) // 2
    median = np.zeros(labels.shape, dtype=np.int64)
    for threshold in range(1, n_labels):
        padded = np.pad((labels >= threshold).astype(np.int32), radius, mode="edge")
        running = np.zeros((padded.shape[0], padded.shape[1] + 1), dtype=np.int32)
        np.cumsum(padded, axis=1, out=running[:, 1:])
        votes = np.zeros(labels.shape, dtype=np.int32)
        for dy, half in rows:
            segment = running[radius + dy : radius + dy + height]
            votes += (
                segment[:, radius + half + 1 : radius + half + 1 + width]
                - segment[:, radius - half : radius - half + width]
            )
        median += votes > majority
    return median


def absorb_small_pieces(labels: np.ndarray, min_pixels: int) -> np.ndarray:
    """Give every connected piece smaller than ``min_pixels`` to the nearest larger piece."""
    if min_pixels <= 1:
        return labels
    keep = np.zeros(labels.shape, dtype=bool)
    for label in np.unique(labels):
        pieces, count = ndimage.label(labels == label)
        sizes = np.bincount(pieces.ravel(), minlength=count + 1)
        sizes[0] = 0
        keep |= sizes[pieces] >= min_pixels
    if keep.all() or not keep.any():
        return labels
    _, (rows, cols) = ndimage.distance_transform_edt(~keep, return_indices=True)
    return labels[rows, cols]


def default_palette(n_regions: int) -> torch.Tensor:
    """Distinct, bright colours for previews: hues spread around the wheel, alternating lightness."""
    colors = [colorsys.hsv_to_rgb(i / n_regions, 0.75, 1.0 if i % 2 == 0 else 0.7) for i in range(n_regions)]
    return torch.tensor(colors, dtype=torch.float32)


def _validate(width: int, height: int, n_regions: int, batch_size: int, min_piece: float) -> None:
    if width < 1 or height < 1:
        raise DoodleError(f"width and height must be at least 1, got {width}x{height}")
    if width * height * max(1, batch_size) > MAX_MASK_PIXELS or math.prod(height_map_shape(height, width)) > (
        MAX_HEIGHT_MAP_CELLS
    ):
        raise DoodleError(
            f"{batch_size} x {width}x{height} is too large for random masks: "
            f"use at most {MAX_MASK_SIDE}x{MAX_MASK_SIDE} pixels in all"
        )
    if n_regions < 1:
        raise DoodleError(f"n_regions must be at least 1, got {n_regions}")
    if n_regions > width * height:
        raise DoodleError(f"{width}x{height} is too small for {n_regions} regions: make width and height larger")
    if not 1 <= batch_size <= MAX_BATCH:
        raise DoodleError(f"batch_size must be between 1 and {MAX_BATCH}, got {batch_size}")
    if min_piece >= 1.0 / n_regions:
        most = math.ceil(1 / min_piece) - 1
        raise DoodleError(
            f"n_regions must be at most {most} where every region keeps at least {min_piece:g} of the image, "
            f"got {n_regions}"
        )


MASK_SAMPLINGS = ("varied", "equal", "reference")
"""How training draws region areas; the first is the default. See ``training_masks``."""


def check_mask_sampling(sampling: str) -> None:
    """Refuse an unknown sampling name, so training settings fail before any work and callers alike."""
    if sampling not in MASK_SAMPLINGS:
        raise DoodleError(f"mask_sampling must be one of {', '.join(MASK_SAMPLINGS)}, got {sampling!r}")


def training_masks(
    size: int,
    n_regions: int,
    batch_size: int,
    rng: np.random.Generator,
    sampling: str = MASK_SAMPLINGS[0],
) -> torch.Tensor:
    """One-hot masks ``[B, R, size, size]`` for training; every region is present in every mask.

    ``varied``: each mask draws its own area shares, uniformly from those that give every region at least a
    quarter of its fair share, and a random order of the regions' height bands. A doodle is mostly one or two
    big regions (a sky, a field) and a few small ones; this way every region is, over training, sometimes the
    big one and sometimes a small piece, and big shapes are common rather than rare.
    ``equal``: every region takes a random height rank, and a mask where one covers less than half its fair
    share is redrawn: areas near-equal within each mask.
    ``reference``: as the original code did (K-means bands always in the same order, so the same regions are
    always the thin middle bands; kept for comparisons).
    Roughness varies between 0.35 and 0.75 (one value, 0.35, for ``reference``).
    """
    check_mask_sampling(sampling)
    floor = 0.5 / n_regions if sampling == "equal" else 0.0
    min_piece, shuffle = (0.0, False) if sampling == "reference" else (0.01, True)
    smoothing = max(3, size // 16) | 1
    masks = []
    for _ in range(batch_size):
        for _ in range(MAX_ATTEMPTS):
            roughness = 0.35 if sampling == "reference" else rng.uniform(0.35, 0.75)
            shares = _varied_shares(n_regions, rng) if sampling == "varied" else None
            shape = MaskShape(roughness=roughness, smoothing=smoothing, min_piece=min_piece)
            labels = random_labels(size, size, n_regions, rng, shape, shuffle_regions=shuffle, shares=shares)
            if np.bincount(labels.ravel(), minlength=n_regions).min() >= floor * labels.size:
                break
        masks.append(torch.from_numpy(labels))
    return one_hot_masks(torch.stack(masks), n_regions)


def _varied_shares(n_regions: int, rng: np.random.Generator) -> np.ndarray:
    """Area shares uniform on the simplex, each at least a quarter of the fair share."""
    floor = 0.25 / n_regions
    return floor + (1 - n_regions * floor) * rng.dirichlet(np.ones(n_regions))
