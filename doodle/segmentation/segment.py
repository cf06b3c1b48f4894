"""Split a painting into regions: features at a working size, Ward clustering on a coarse grid whose cells join
only their neighbours (so each region grows as one coherent area), then a majority vote on the borders and
small islands joined to their surroundings."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.image import grid_to_graph
from torch.nn import functional as F

from ..errors import DoodleError
from ..limits import MAX_PAINTING_PIXELS
from ..maps.random_masks import absorb_small_pieces
from ..neural.vgg import VGGFeatures
from .features import painting_features
from .settings import DEFAULT_SEGMENTATION, MIN_PIXELS_PER_REGION, SegmentationSettings

WORK_SIDE = 512
"""The longer side features are computed at: regions are large, and this keeps 4096 px paintings quick."""
GRID_SIDE = 128
"""The longer side of the grid the clustering joins cells on."""


def segment_painting(
    painting: torch.Tensor, settings: SegmentationSettings = DEFAULT_SEGMENTATION, network: VGGFeatures | None = None
) -> torch.Tensor:
    """Region labels ``int64 [H, W]`` (0 the largest region) of a painting ``[3, H, W]`` in 0..1; islands
    smaller than ``min_region`` are joined to their surroundings, so a few regions may vanish."""
    height, width = painting.shape[1:]
    check_size(height, width, settings.regions)
    work = resized(painting.float().cpu(), WORK_SIDE)
    features = painting_features(work.permute(1, 2, 0).double().numpy(), network, np.random.default_rng(settings.seed))
    labels = upsampled(cluster(features, settings.regions), work.shape[1:])
    labels = majority_vote(labels, round(settings.smoothness / 100 * max(labels.shape)))
    labels = absorb_small_pieces(labels, int(settings.min_region / 100 * labels.size))
    return upsampled(by_area(labels), (height, width))


def check_size(height: int, width: int, regions: int) -> None:
    if height * width > MAX_PAINTING_PIXELS:
        raise DoodleError(
            f"the painting is {width}x{height}, over {MAX_PAINTING_PIXELS:,} pixels: scale it down (regions are "
            "found at 512 px anyway)"
        )
    if height * width < regions * MIN_PIXELS_PER_REGION:
        raise DoodleError(
            f"a {width}x{height} painting is too small for {regions} regions: each needs at least "
            f"{MIN_PIXELS_PER_REGION} pixels; use fewer regions or a larger painting"
        )


def resized(image: torch.Tensor, longest: int) -> torch.Tensor:
    """``image`` ``[C, H, W]`` scaled down (area-weighted) so its longer side is at most ``longest``."""
    height, width = image.shape[1:]
    scale = longest / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return F.interpolate(image[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


def cluster(features: np.ndarray, regions: int) -> np.ndarray:
    """Ward clustering of the features averaged over a coarse grid, each cell linked to its 4 neighbours."""
    grid = resized(torch.from_numpy(features).permute(2, 0, 1), GRID_SIDE).permute(1, 2, 0).numpy()
    rows, cols = grid.shape[:2]
    ward = AgglomerativeClustering(n_clusters=regions, connectivity=grid_to_graph(rows, cols), linkage="ward")
    return ward.fit_predict(grid.reshape(rows * cols, -1)).reshape(rows, cols)


def upsampled(labels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Labels at ``size``: each pixel takes the region whose smoothly scaled mask is highest there (round
    borders, not the grid's steps)."""
    if labels.shape == tuple(size):
        return labels
    best = torch.full(size, -1.0)
    chosen = torch.zeros(size, dtype=torch.int64)
    for region in np.unique(labels):
        mask = torch.from_numpy(labels == region).float()[None, None]
        mask = F.interpolate(mask, size=size, mode="bilinear", align_corners=False)[0, 0]
        higher = mask > best
        best = torch.where(higher, mask, best)
        chosen[higher] = int(region)
    return chosen.numpy()


def majority_vote(labels: np.ndarray, radius: int) -> np.ndarray:
    """Each pixel takes the region most common within ``radius`` pixels (a Potts-style clean-up)."""
    if radius < 1:
        return labels
    regions = np.unique(labels)
    votes = np.stack([ndimage.uniform_filter((labels == r).astype(np.float32), 2 * radius + 1) for r in regions])
    return regions[votes.argmax(0)]


def by_area(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0.. from the largest region down (regions that vanished leave no gap)."""
    regions, counts = np.unique(labels, return_counts=True)
    order = np.empty(labels.max() + 1, dtype=np.int64)
    order[regions[np.argsort(-counts, kind="stable")]] = np.arange(len(regions))
    return order[labels]
