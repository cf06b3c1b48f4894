"""The per-region sliced Wasserstein loss: each region's colours and features matched as distributions.

A Gram matrix holds second moments only: it cannot tell a few bright specks from an even spread with the
same energy, nor a pastel shift of a region's colours. This loss compares whole distributions (Heitz et al.
2021, "A sliced Wasserstein loss for neural texture synthesis"), region by region:

* A region's *members* at one layer are the positions whose strongest mask there is that region's (the soft
  masks of :func:`~doodle.neural.style_loss.mask_pyramid`, so borders go to the majority region). At ``"rgb"`` the
  features are the pixels themselves and at ``"detail"`` their differences to their neighbours, which makes
  those terms independent of the loss network.
* Features of the members are projected on random unit directions and sorted; the style region's sorted
  projections are resampled to as many quantiles as the target has members; the error is their mean squared
  difference. This is the squared 1-D Wasserstein-2 distance along each direction, averaged.
* As with the Gram loss, each layer's error is relative: summed over the regions present in style and
  target, divided by the style regions' feature variance summed alike (a direction's expected variance,
  the trace of the covariance over the channel count); at ``"detail"`` each region's error is divided by
  its own variance and averaged (in each image, then over the images), so a low-contrast region's flat fill
  costs as much as a busy one's. The loss is the mean over the colour layers plus the detail layer at one
  such layer's weight.

Fresh directions each training step make the expected loss see every direction; L-BFGS needs a fixed
objective, so it keeps one set per scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..declared import check_range, declared
from .style_loss import AREA_EPSILON

RGB = "rgb"
"""The layer name of the image's own pixels."""
DETAIL = "detail"
"""The layer name of the image's neighbour differences (:func:`neighbour_differences`): a region's fine
texture, which neither the pixels' distribution sees nor the features' much (their variance is mostly colour);
Heeger and Bergen (1995) matched band-pass histograms for the same reason."""
PIXEL_LAYERS = (RGB, DETAIL)
"""The layers made from the image alone (:func:`pixel_layers`), at the image's own positions."""
FEATURE_LAYERS = ("conv1_1", "conv2_1", "conv3_1")
"""The loss network's layers the term matches (beside the pixels)."""
DISTRIBUTION_LAYERS = (*PIXEL_LAYERS, *FEATURE_LAYERS)
BALANCED_LAYERS = (DETAIL,)
"""Layers whose regions weigh alike (each region's error over its own variance): pooled, a low-contrast sky's
flat fill costs too little to be given texture. The other layers pool (each region's error over the summed
variance): balancing them did not help (``docs/history/benchmarks.md``, First look)."""
VARIANCE_FLOOR = 0.1
"""A balanced region's variance counts as at least this share of the style regions' mean, so a flat-coloured
region of a painting does not weigh without bound."""
MAX_STYLE_MEMBERS = 4096
"""A style region's members kept per layer (a fixed random subset beyond this): the quantiles of 4096
samples are within a few per cent of the full distribution's, and sorting the style's projections every
step stays cheap (sorting is most of this loss's time)."""
MAX_DISTRIBUTION_WEIGHT = 1000.0
DISTRIBUTION_HELP = (
    "weight of the per-region sliced Wasserstein term on colours, their neighbour differences and "
    "conv1_1..conv3_1 features: pulls each region's colours and fine texture to the painting's (pastel or "
    "washed-out colours, flat fill, specks); 0 = off, 1 is "
    "about the Gram loss's scale and costs about 1.5x the time"
)
DIRECTIONS = 32
"""Random directions per layer: fewer than the deeper layers' channels, to bound the sorting; training draws
new ones every step, so over the steps every direction counts."""


def declared_distribution_weight(default: float) -> float:
    """The ``distribution_weight`` field of training's and L-BFGS's settings (:mod:`doodle.declared`)."""
    return declared(default, DISTRIBUTION_HELP, low=0.0, high=MAX_DISTRIBUTION_WEIGHT, step=0.1)


def check_distribution_weight(weight: float) -> None:
    """Refuse a weight outside 0..MAX_DISTRIBUTION_WEIGHT (or not a number), for training and L-BFGS alike."""
    check_range("distribution_weight", weight, 0, MAX_DISTRIBUTION_WEIGHT)


def neighbour_differences(image: torch.Tensor) -> torch.Tensor:
    """``[B, 6, H, W]``: each pixel's colour minus its right and its lower neighbour's (0 past the last
    column and row)."""
    padded = F.pad(image, (0, 1, 0, 1), mode="replicate")
    return torch.cat([image - padded[..., :-1, 1:], image - padded[..., 1:, :-1]], dim=1)


def pixel_layers(image: torch.Tensor) -> dict[str, torch.Tensor]:
    """``PIXEL_LAYERS``: the term's layers made from the image alone, without the loss network."""
    return dict(zip(PIXEL_LAYERS, (image, neighbour_differences(image)), strict=True))


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


def layer_error(
    errors: list[torch.Tensor],
    variances: list[torch.Tensor],
    images: list[int],
    balanced: bool,
    reference: torch.Tensor,
) -> torch.Tensor:
    """One layer's relative error from its regions' ``errors``, their style ``variances`` and the batch index
    of the image each is in: pooled (summed over summed), or ``balanced`` (each region over its own variance,
    floored at ``VARIANCE_FLOOR`` of the style's ``reference`` mean, averaged in each image, then over the
    images, so that ranks each given part of a batch average to the whole batch's loss)."""
    if not errors:
        return reference.new_zeros(())
    if not balanced:
        return torch.stack(errors).sum() / torch.stack(variances).sum().clamp_min(AREA_EPSILON)
    floor = (VARIANCE_FLOOR * reference).clamp_min(AREA_EPSILON)
    relative = torch.stack(errors) / torch.stack(variances).clamp_min(floor)
    image_of = torch.tensor(images, device=relative.device)
    return torch.stack([relative[image_of == image].mean() for image in sorted(set(images))]).mean()


def distribution_loss(
    features: Mapping[str, torch.Tensor],
    members: Mapping[str, Sequence[tuple[int, int, torch.Tensor]]],
    targets: DistributionTargets,
    directions: Mapping[str, torch.Tensor],
) -> torch.Tensor:
    """The layers' relative sliced Wasserstein errors of every region present in style and target
    (:func:`layer_error`; ``BALANCED_LAYERS`` balanced, the others pooled), summed over the number of pooled
    layers: the pooled layers' mean, to which each balanced layer adds as much as one of them weighs (so the
    colours weigh what they did before the detail layer came)."""
    total = 0.0
    for layer, samples in targets.samples.items():
        feature = features[layer]
        flat = feature.reshape(feature.shape[0], feature.shape[1], -1)
        errors, variances, images = [], [], []
        style_sorted: dict[int, torch.Tensor] = {}
        for b, r, index in members[layer]:
            if samples[r] is None:
                continue
            if r not in style_sorted:
                style_sorted[r] = sorted_projections(samples[r], directions[layer])
            errors.append(quantile_error(flat[b][:, index], style_sorted[r], directions[layer]))
            variances.append(targets.variance[layer][r])
            images.append(b)
        present = targets.variance[layer][[sample is not None for sample in samples]]
        total = total + layer_error(errors, variances, images, layer in BALANCED_LAYERS, present.mean())
    return total / max(1, sum(layer not in BALANCED_LAYERS for layer in targets.samples))
