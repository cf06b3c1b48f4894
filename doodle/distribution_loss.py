"""The per-region sliced Wasserstein loss: each region's colours and features matched as distributions.

A Gram matrix holds second moments only: it cannot tell a few bright specks from an even spread with the
same energy, nor a pastel shift of a region's colours. This loss compares whole distributions (Heitz et al.
2021, "A sliced Wasserstein loss for neural texture synthesis"), region by region:

* A region's *members* at one layer are the positions whose strongest mask there is that region's (the soft
  masks of :func:`~doodle.style_loss.mask_pyramid`, so borders go to the majority region). At ``"rgb"`` the
  features are the pixels themselves, which makes that term independent of the loss network.
* Features of the members are projected on random unit directions and sorted; the style region's sorted
  projections are resampled to as many quantiles as the target has members; the error is their mean squared
  difference. This is the squared 1-D Wasserstein-2 distance along each direction, averaged.
* As with the Gram loss, each layer's error is relative: summed over the regions present in style and
  target, divided by the style regions' feature variance summed alike (a direction's expected variance,
  the trace of the covariance over the channel count). The loss is the mean over layers.

Fresh directions each training step make the expected loss see every direction; L-BFGS needs a fixed
objective, so it keeps one set per scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .errors import DoodleError
from .style_loss import AREA_EPSILON

RGB = "rgb"
"""The layer name of the image's own pixels."""
FEATURE_LAYERS = ("conv1_1", "conv2_1", "conv3_1")
"""The loss network's layers the term matches (beside the pixels)."""
DISTRIBUTION_LAYERS = (RGB, *FEATURE_LAYERS)
MAX_STYLE_MEMBERS = 4096
"""A style region's members kept per layer (a fixed random subset beyond this): the quantiles of 4096
samples are within a few per cent of the full distribution's, and sorting the style's projections every
step stays cheap (sorting is most of this loss's time)."""
MAX_DISTRIBUTION_WEIGHT = 1000.0
DISTRIBUTION_HELP = (
    "weight of the per-region sliced Wasserstein term on colours and conv1_1..conv3_1 features: pulls each "
    "region's colour distribution to the painting's (pastel or washed-out colours, specks); 0 = off, 1 is "
    "about the Gram loss's scale and costs about 1.5x the time"
)
DIRECTIONS = 32
"""Random directions per layer: fewer than the deeper layers' channels, to bound the sorting; training draws
new ones every step, so over the steps every direction counts."""


def check_distribution_weight(weight: float) -> None:
    """Refuse a weight outside 0..MAX_DISTRIBUTION_WEIGHT (or not a number), for training and L-BFGS alike."""
    if not (math.isfinite(weight) and 0 <= weight <= MAX_DISTRIBUTION_WEIGHT):
        raise DoodleError(f"distribution_weight must be between 0 and {MAX_DISTRIBUTION_WEIGHT:g}, got {weight}")


def region_members(layer_masks: torch.Tensor) -> list[tuple[int, int, torch.Tensor]]:
    """(image, region, flat position indices) for every non-empty region of masks ``[B, R, h, w]``."""
    batch, regions = layer_masks.shape[:2]
    strongest = layer_masks.reshape(batch, regions, -1).argmax(dim=1)
    members = []
    for b in range(batch):
        for r in range(regions):
            index = torch.nonzero(strongest[b] == r).squeeze(1)
            if len(index):
                members.append((b, r, index))
    return members


@dataclass(frozen=True)
class DistributionTargets:
    """The style's region members per layer: features ``[C, m]`` (None where the region is absent), the
    variance along a random direction ``[R]``, and the channel count."""

    samples: dict[str, list[torch.Tensor | None]]
    variance: dict[str, torch.Tensor]
    channels: dict[str, int]


def distribution_targets(
    features: Mapping[str, torch.Tensor], layer_masks: Mapping[str, torch.Tensor], seed: int = 0
) -> DistributionTargets:
    """Targets from the style's features ``{layer: [1, C, h, w]}`` and its masks at each layer ``[1, R, h, w]``."""
    rng = torch.Generator().manual_seed(seed)
    samples: dict[str, list[torch.Tensor | None]] = {}
    variance: dict[str, torch.Tensor] = {}
    for layer, feature in features.items():
        flat = feature[0].reshape(feature.shape[1], -1)
        regions = layer_masks[layer].shape[1]
        samples[layer] = [None] * regions
        variance[layer] = torch.zeros(regions, device=feature.device)
        for _, r, index in region_members(layer_masks[layer]):
            if len(index) > MAX_STYLE_MEMBERS:
                keep = torch.randperm(len(index), generator=rng)[:MAX_STYLE_MEMBERS]
                index = index[keep.to(index.device)]
            chosen = flat[:, index].detach()
            samples[layer][r] = chosen
            variance[layer][r] = chosen.var(dim=1, unbiased=False).mean()
    return DistributionTargets(samples, variance, {layer: feature.shape[1] for layer, feature in features.items()})


def random_directions(channels: int, rng: torch.Generator, count: int = DIRECTIONS) -> torch.Tensor:
    """``count`` random unit directions ``[C, K]`` in a space of ``channels`` dimensions."""
    directions = torch.randn(channels, count, generator=rng)
    return directions / directions.norm(dim=0, keepdim=True)


def resampled(sorted_values: torch.Tensor, count: int) -> torch.Tensor:
    """Sorted values ``[K, m]`` at ``count`` evenly spaced quantiles, ``[K, count]`` (linear interpolation)."""
    size = sorted_values.shape[1]
    if size == count:
        return sorted_values
    levels = torch.arange(count, device=sorted_values.device, dtype=sorted_values.dtype) + 0.5
    where = (levels * (size / count) - 0.5).clamp(0, size - 1)
    below = where.floor().long()
    above = (below + 1).clamp_max(size - 1)
    weight = where - below
    return sorted_values[:, below] * (1 - weight) + sorted_values[:, above] * weight


def sorted_projections(values: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """``values`` ``[C, n]`` projected on ``directions`` ``[C, K]``, each direction's ``n`` values sorted."""
    return (directions.T @ values).sort(dim=1).values


def sliced_error(target: torch.Tensor, style: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the sorted projections of ``target`` ``[C, n]`` and the quantile-matched
    ones of ``style`` ``[C, m]`` on ``directions`` ``[C, K]``."""
    return quantile_error(target, sorted_projections(style, directions), directions)


def quantile_error(target: torch.Tensor, style_sorted: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """:func:`sliced_error` given the style's :func:`sorted_projections` (sorted once for a batch's images)."""
    projected = sorted_projections(target, directions)
    return ((projected - resampled(style_sorted, target.shape[1])) ** 2).mean()


def distribution_loss(
    features: Mapping[str, torch.Tensor],
    members: Mapping[str, Sequence[tuple[int, int, torch.Tensor]]],
    targets: DistributionTargets,
    directions: Mapping[str, torch.Tensor],
) -> torch.Tensor:
    """Mean over layers of the relative sliced Wasserstein error of every region present in style and target."""
    total = 0.0
    for layer, samples in targets.samples.items():
        feature = features[layer]
        flat = feature.reshape(feature.shape[0], feature.shape[1], -1)
        error = feature.new_zeros(())
        scale = feature.new_zeros(())
        style_sorted: dict[int, torch.Tensor] = {}
        for b, r, index in members[layer]:
            if samples[r] is None:
                continue
            if r not in style_sorted:
                style_sorted[r] = sorted_projections(samples[r], directions[layer])
            error = error + quantile_error(flat[b][:, index], style_sorted[r], directions[layer])
            scale = scale + targets.variance[layer][r]
        total = total + error / scale.clamp_min(AREA_EPSILON)
    return total / len(targets.samples)
