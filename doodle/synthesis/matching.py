"""Which piece of the painting each doodle pixel takes: a nearest-neighbour field found by PatchMatch
(Barnes et al. 2009), its propagation and random search run for all pixels at once, restricted to the pixel's
own region, with a cost for painting pixels used more than their share (Kaspar et al. 2015; Jamriška et al.
2019) so that a region shows the painting's variety rather than its one best piece tiled."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .pyramid import Level

COLOUR_DIMENSIONS = 16
"""Principal components kept of a colour patch (3 x patch x patch numbers): enough for the match, a fraction
of the memory traffic."""
PCA_SAMPLES = 8192
PROPAGATION_STEPS = (-4, 4, -1, 1)
"""Neighbours whose matches a pixel tries, along each axis: the far ones spread a good match across a region
in few passes when all pixels search at once (jump flooding), the near ones refine it."""
SEARCH_RADIUS_PATCHES = 4
"""The widest random search around a pixel's match, in patch widths (then halving): the coarser levels have
searched the whole painting already, and one draw anywhere in the region each pass keeps that open."""
CHUNK_PIXELS = 1 << 18
"""Doodle pixels scored at once: bounds the search's temporary memory whatever the doodle's size."""


@dataclass
class Field:
    """For each doodle pixel (flattened), the painting pixel its patch is centred on and the patch distance."""

    index: torch.Tensor
    distance: torch.Tensor


class Matcher:
    """One level's painting side, described once; matches any doodle image of that level against it."""

    def __init__(
        self, level: Level, patch_size: int, guide_weight: float, uniformity: float, generator: torch.Generator
    ):
        self.level = level
        self.patch_size = patch_size
        self.guide_scale = guide_weight**0.5
        self.uniformity = uniformity
        self.generator = generator
        self.source_height, self.source_width = level.source_labels.shape
        self.source_labels = level.source_labels.flatten()
        self.target_labels = level.target_labels.flatten()
        self.weight, self.bias = _principal_filters(level.painting, patch_size, generator)
        self.source = self._describe(level.painting, level.source_guides)
        n_regions = level.source_guides.shape[0]
        source_counts = torch.bincount(self.source_labels, minlength=n_regions).float()
        target_counts = torch.bincount(self.target_labels, minlength=n_regions).float()
        self.pool_order = torch.argsort(self.source_labels)
        self.pool_start = torch.cumsum(source_counts, 0).long() - source_counts.long()
        self.pool_size = source_counts.long()
        share = target_counts / source_counts.clamp(min=1) * patch_size**2
        self.fair_share = share[self.source_labels].clamp(min=1e-6)
        """Times each painting pixel would be covered if every pixel of its region were used equally."""

    def _describe(self, image: torch.Tensor, guides: torch.Tensor) -> torch.Tensor:
        """Each pixel's descriptor ``[H * W, D]``: its patch's principal colour components, then its guides."""
        half = self.patch_size // 2
        color = F.conv2d(F.pad(image[None], (half,) * 4, mode="replicate"), self.weight, self.bias)[0]
        return torch.cat([color, guides * self.guide_scale]).flatten(1).T.contiguous()

    def random_field(self) -> Field:
        """Every doodle pixel on a random painting pixel of its own region."""
        index = self._random_in_region(self.target_labels)
        return Field(index, torch.zeros(index.shape, device=index.device))

    def placed_field(self) -> Field:
        """Each region of the doodle covered with its painting region as it lies, from the top left corners of
        their bounding boxes, at its own scale and repeated where the doodle's is larger (a random pixel of the
        region where that lands in another): the coarsest level starts from the painting's own arrangement,
        its dark and light parts included, rather than from noise that the search pulls towards the region's
        average look."""
        fallback = self.random_field().index
        index = fallback.clone()
        target_rows, target_cols = _coordinates(self.level.target_labels.shape, fallback.device)
        source_rows, source_cols = _coordinates((self.source_height, self.source_width), fallback.device)
        for region in self.target_labels.unique().tolist():
            here, there = self.target_labels == region, self.source_labels == region
            place = []
            for target, source in ((target_rows, source_rows), (target_cols, source_cols)):
                low = target[here].min()
                source_low, source_high = source[there].min(), source[there].max()
                place.append(source_low + (target[here] - low) % (source_high - source_low + 1))
            placed = place[0] * self.source_width + place[1]
            index[here] = torch.where(self.source_labels[placed] == region, placed, fallback[here])
        return Field(index, torch.zeros(index.shape, device=index.device))

    def _random_in_region(self, labels: torch.Tensor) -> torch.Tensor:
        draw = torch.rand(labels.shape, generator=self.generator, device=labels.device)
        size = self.pool_size[labels]
        offset = torch.minimum((draw * size).long(), (size - 1).clamp(min=0))
        return self.pool_order[self.pool_start[labels] + offset]

    def upsampled(self, coarse: Field, coarse_level: Level) -> Field:
        """The coarser level's field carried to this level: each pixel's match doubled, plus its offset within
        the 2x2 block; a match that lands in another region is drawn anew within the right one."""
        coarse_height, coarse_width = coarse_level.target_labels.shape
        coarse_source_width = coarse_level.source_labels.shape[1]
        height, width = self.level.target_labels.shape
        device = coarse.index.device
        rows = torch.arange(height, device=device)[:, None]
        cols = torch.arange(width, device=device)[None, :]
        parent = coarse.index.view(coarse_height, coarse_width)[
            (rows // 2).clamp(max=coarse_height - 1), (cols // 2).clamp(max=coarse_width - 1)
        ]
        source_row = (parent // coarse_source_width * 2 + rows % 2).clamp(max=self.source_height - 1)
        source_col = (parent % coarse_source_width * 2 + cols % 2).clamp(max=self.source_width - 1)
        index = (source_row * self.source_width + source_col).flatten()
        wrong = self.source_labels[index] != self.target_labels
        index[wrong] = self._random_in_region(self.target_labels[wrong])
        return Field(index, torch.zeros(index.shape, device=device))

    def search(self, field: Field, image: torch.Tensor, target_guides: torch.Tensor, iterations: int) -> Field:
        """Improve ``field`` for the doodle ``image`` ``[3, Ht, Wt]``: each pass tries, for every pixel at once,
        its neighbours' matches shifted by the step to them, then random matches at halving distances around its
        own, then one anywhere in its region."""
        target = self._describe(image, target_guides)
        index = field.index.clone()
        distance = torch.empty(index.shape, device=index.device)
        for _ in range(iterations):
            penalty = self._usage_penalty(index)
            best = torch.full_like(distance, torch.inf)
            self._try(index, target, penalty, index, distance, best)  # the held match, at today's penalty
            for candidate in self._propagated(index):
                self._try(candidate, target, penalty, index, distance, best)
            radius = min(max(self.source_height, self.source_width) // 2, SEARCH_RADIUS_PATCHES * self.patch_size)
            while radius >= 1:
                self._try(self._jittered(index, radius), target, penalty, index, distance, best)
                radius //= 2
            self._try(self._random_in_region(self.target_labels), target, penalty, index, distance, best)
        return Field(index, distance)

    def _usage_penalty(self, index: torch.Tensor) -> torch.Tensor:
        """Per painting pixel: ``uniformity`` x (patches covering it / its fair share)."""
        if self.uniformity == 0:
            return torch.zeros(self.source_labels.shape, device=index.device)
        coverage = patch_coverage(index, (self.source_height, self.source_width), self.patch_size)
        return self.uniformity * coverage / self.fair_share

    def _try(
        self,
        candidate: torch.Tensor,
        target: torch.Tensor,
        penalty: torch.Tensor,
        index: torch.Tensor,
        distance: torch.Tensor,
        best: torch.Tensor,
    ) -> None:
        """Keep ``candidate`` where it is in the pixel's region and costs less than the match held."""
        for chunk in _chunks(index.numel()):
            tried = candidate[chunk]
            difference = target[chunk] - self.source.index_select(0, tried)
            tried_distance = (difference * difference).sum(dim=1)
            cost = tried_distance + penalty.index_select(0, tried)
            better = (cost < best[chunk]) & (self.source_labels.index_select(0, tried) == self.target_labels[chunk])
            index[chunk] = torch.where(better, tried, index[chunk])
            distance[chunk] = torch.where(better, tried_distance, distance[chunk])
            best[chunk] = torch.where(better, cost, best[chunk])

    def _propagated(self, index: torch.Tensor) -> list[torch.Tensor]:
        """For each neighbour at :data:`PROPAGATION_STEPS` along each axis, its match moved back by the step."""
        height, width = self.level.target_labels.shape
        row = (index // self.source_width).view(height, width)
        col = (index % self.source_width).view(height, width)
        candidates = []
        for step_row, step_col in [(0, s) for s in PROPAGATION_STEPS] + [(s, 0) for s in PROPAGATION_STEPS]:
            new_row = (_neighbours(row, step_row, step_col) - step_row).clamp(0, self.source_height - 1)
            new_col = (_neighbours(col, step_row, step_col) - step_col).clamp(0, self.source_width - 1)
            candidates.append((new_row * self.source_width + new_col).flatten())
        return candidates

    def _jittered(self, index: torch.Tensor, radius: int) -> torch.Tensor:
        shape = index.shape
        row = index // self.source_width + torch.randint(
            -radius, radius + 1, shape, generator=self.generator, device=index.device
        )
        col = index % self.source_width + torch.randint(
            -radius, radius + 1, shape, generator=self.generator, device=index.device
        )
        return row.clamp(0, self.source_height - 1) * self.source_width + col.clamp(0, self.source_width - 1)


def patch_coverage(index: torch.Tensor, source_size: tuple[int, int], patch_size: int) -> torch.Tensor:
    """Per painting pixel (flattened), how many of the patches centred on ``index`` cover it."""
    height, width = source_size
    counts = torch.bincount(index, minlength=height * width).float().view(1, 1, height, width)
    coverage = F.avg_pool2d(counts, patch_size, stride=1, padding=patch_size // 2, count_include_pad=True)
    return coverage.flatten() * patch_size**2


def _coordinates(shape: tuple[int, int], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pixel's row and column, flattened."""
    height, width = shape
    rows = torch.arange(height, device=device)[:, None].expand(height, width)
    cols = torch.arange(width, device=device)[None, :].expand(height, width)
    return rows.flatten(), cols.flatten()


def _neighbours(values: torch.Tensor, step_row: int, step_col: int) -> torch.Tensor:
    """``values`` at each pixel's neighbour ``(row + step_row, col + step_col)``; its own value on the edge."""
    height, width = values.shape
    out = values.clone()
    if abs(step_row) >= height or abs(step_col) >= width:
        return out
    out[max(0, -step_row) : height - max(0, step_row), max(0, -step_col) : width - max(0, step_col)] = values[
        max(0, step_row) : height + min(0, step_row), max(0, step_col) : width + min(0, step_col)
    ]
    return out


def _chunks(count: int) -> list[slice]:
    return [slice(start, min(start + CHUNK_PIXELS, count)) for start in range(0, count, CHUNK_PIXELS)]


def _principal_filters(
    painting: torch.Tensor, patch_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Convolution filters ``[D, 3, p, p]`` and bias that give a patch's principal colour components, scaled so
    that two random patches of the painting lie about 2 apart (squared)."""
    half = patch_size // 2
    padded = F.pad(painting[None], (half,) * 4, mode="replicate")[0]
    height, width = painting.shape[-2:]
    samples = min(PCA_SAMPLES, height * width)
    centre = torch.randint(0, height * width, (samples,), generator=generator, device=painting.device)
    rows, cols = centre // width, centre % width
    offsets = torch.arange(patch_size, device=painting.device)
    patches = padded[:, rows[:, None, None] + offsets[None, :, None], cols[:, None, None] + offsets[None, None, :]]
    patches = patches.permute(1, 0, 2, 3).reshape(samples, -1)  # (channel, row, col) order, as conv2d's weight
    mean = patches.mean(dim=0)
    centred = patches - mean
    covariance = centred.T @ centred / samples
    _, vectors = torch.linalg.eigh(covariance)
    dimensions = min(COLOUR_DIMENSIONS, vectors.shape[1])
    basis = vectors[:, -dimensions:].flip(1)
    scale = covariance.trace().clamp(min=1e-8).rsqrt()
    weight = (basis.T * scale).reshape(dimensions, 3, patch_size, patch_size)
    return weight.contiguous(), -(mean @ basis) * scale
