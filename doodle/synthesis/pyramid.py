"""The coarse-to-fine levels of one synthesis: painting, both label maps, and the guides that tell a pixel
where it lies in its region."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

GUIDE_BLUR_PATCHES = 2.0
"""The guides' blur, in patch widths at every level: near a border a pixel knows which region lies beyond it,
and at coarse levels, where a patch covers much of the picture, roughly where in the picture it is."""


@dataclass(frozen=True)
class Level:
    """One scale: the painting ``[3, Hs, Ws]`` with its labels ``[Hs, Ws]``, the doodle's labels ``[Ht, Wt]``,
    and each side's guides ``[R, H, W]`` (its masks blurred)."""

    painting: torch.Tensor
    source_labels: torch.Tensor
    target_labels: torch.Tensor
    source_guides: torch.Tensor
    target_guides: torch.Tensor


def level_count(source_size: tuple[int, int], target_size: tuple[int, int], patch_size: int) -> int:
    """Levels until the smaller short side of painting and doodle would drop below two patches and a pixel."""
    shortest = min(*source_size, *target_size)
    return 1 + max(0, math.floor(math.log2(shortest / (2 * patch_size + 1))))


def build_pyramid(
    painting: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor, n_regions: int, patch_size: int
) -> list[Level]:
    """Levels from coarsest to finest; each halves the one above it (sizes rounded up)."""
    count = level_count(tuple(source_labels.shape), tuple(target_labels.shape), patch_size)
    source_masks = _one_hot(source_labels, n_regions)
    target_masks = _one_hot(target_labels, n_regions)
    levels = []
    for index in range(count):
        if index:
            painting, source_masks, target_masks = (_halved(image) for image in (painting, source_masks, target_masks))
        levels.append(_level(painting, source_masks, target_masks, patch_size))
    return levels[::-1]


def _level(painting: torch.Tensor, source_masks: torch.Tensor, target_masks: torch.Tensor, patch_size: int) -> Level:
    sigma = GUIDE_BLUR_PATCHES * patch_size
    n_regions = source_masks.shape[0]
    source_labels, target_labels = _labels(source_masks), _labels(target_masks)
    return Level(
        painting=painting,
        source_labels=source_labels,
        target_labels=target_labels,
        source_guides=gaussian_blur(_one_hot(source_labels, n_regions), sigma),
        target_guides=gaussian_blur(_one_hot(target_labels, n_regions), sigma),
    )


def _labels(masks: torch.Tensor) -> torch.Tensor:
    """Each pixel's region; a region that shrank to less than any pixel's majority keeps its strongest pixel,
    so no region present at full size is missing at a coarse level."""
    labels = masks.argmax(dim=0)
    present = masks.flatten(1).amax(dim=1) > 0
    kept = torch.zeros_like(present)
    kept[labels.unique()] = True
    for region in torch.nonzero(present & ~kept).flatten().tolist():
        strongest = masks[region].flatten().argmax()
        labels.view(-1)[strongest] = region
    return labels


def _one_hot(labels: torch.Tensor, n_regions: int) -> torch.Tensor:
    return F.one_hot(labels.long(), n_regions).permute(2, 0, 1).float()


def _halved(image: torch.Tensor) -> torch.Tensor:
    height, width = image.shape[-2:]
    size = (max(1, math.ceil(height / 2)), max(1, math.ceil(width / 2)))
    return F.interpolate(image[None], size=size, mode="area")[0]


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """``[C, H, W]`` blurred with a separable Gaussian, edges replicated (any size, however small)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = image.shape[0]
    blurred = image[None]
    for shape, padding in (((1, -1), (radius, radius, 0, 0)), ((-1, 1), (0, 0, radius, radius))):
        weight = kernel.view(1, 1, *shape).expand(channels, 1, -1, -1)
        blurred = F.conv2d(F.pad(blurred, padding, mode="replicate"), weight, groups=channels)
    return blurred[0]
