"""The semantic style loss: per-region Gram matrices of VGG features, matched to the style image's.

Definitions (tests check each against a direct computation):

* Masks follow the network (:func:`mask_pyramid`): every 3x3 conv applies a 3x3 mean filter to the masks,
  padding *not* counted (``count_include_pad=False``), so the masks of all regions still sum to one at every
  pixel, borders included; every pool applies a 2x2 average (floor, like VGG's pooling).
* A region's Gram is the mask-weighted mean of feature outer products, divided by the channel count:
  ``G_r = sum_p m_r(p) f(p) f(p)^T / (C * sum_p m_r(p))``. For binary masks this is the original
  ``(F*M)(F*M)^T / (C * area)``; the soft border pixels of deeper layers count in proportion to their
  weight. Dividing by the area makes small and large regions weigh alike.
* Each layer's loss is the squared error of all present regions' Grams relative to the style Grams' squared
  norm, ``sum_r ||G_r - S_r||^2 / sum_r ||S_r||^2``; the style loss is the mean over layers. VGG's raw
  activations shrink by orders of magnitude from conv1 to conv5, so without this relative form the first
  layers alone would decide the texture.
* A region missing from the style or the target contributes nothing, never NaN (the objective warns of a
  target region the style lacks; training refuses a style map without one of its regions).

Speed: masks are constant while the image changes, so :func:`region_plan` precomputes, per layer, which
pixels each region touches and with what weight. Every iteration then gathers the features once and runs one
small matmul per region over that region's pixels only: the regions' supports overlap only along borders, so
the Grams of all regions together cost little more than one unmasked Gram, and no masked feature copies are
made.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

AREA_EPSILON = 1e-6


def mask_pyramid(
    masks: torch.Tensor, ops: Sequence[tuple[str, str]], layers: Collection[str]
) -> dict[str, torch.Tensor]:
    """Soft masks ``[B, R, h, w]`` at each requested layer, following the network's convs and pools."""
    pyramid: dict[str, torch.Tensor] = {}
    current = masks
    for kind, name in ops:
        if len(pyramid) == len(layers):
            break
        if kind == "conv":
            current = F.avg_pool2d(current, 3, stride=1, padding=1, count_include_pad=False)
            if name in layers:
                pyramid[name] = current
        else:
            current = F.avg_pool2d(current, 2)
    return pyramid


@dataclass(frozen=True)
class RegionPlan:
    """Where each (image, region) pair lives in one layer: gathered pixel indices, sqrt of their weights, areas."""

    index: torch.Tensor
    root_weight: torch.Tensor
    sizes: list[int]
    area: torch.Tensor
    regions: int


def region_plan(layer_masks: torch.Tensor) -> RegionPlan:
    """Precompute the gather plan for masks ``[B, R, h, w]`` of one layer."""
    batch, regions, height, width = layer_masks.shape
    flat = layer_masks.reshape(batch, regions, height * width)
    indices, weights = [], []
    for b in range(batch):
        for r in range(regions):
            support = torch.nonzero(flat[b, r] > 0).squeeze(1)
            indices.append(support + b * height * width)
            weights.append(flat[b, r, support])
    sizes = [len(index) for index in indices]
    return RegionPlan(torch.cat(indices), torch.cat(weights).sqrt(), sizes, flat.sum(dim=2), regions)


def region_grams(features: torch.Tensor, plan: RegionPlan) -> torch.Tensor:
    """Per-region Grams ``[B, R, C, C]`` of features ``[B, C, h, w]``; zero for empty regions."""
    batch, channels = features.shape[:2]
    flat = features.transpose(0, 1).reshape(channels, -1) if batch > 1 else features.reshape(channels, -1)
    # sum_p w f f^T = (f sqrt(w)) (f sqrt(w))^T: one weighted copy serves both sides of the product.
    weighted = flat.index_select(1, plan.index) * plan.root_weight
    # split, not slicing: each slice's backward would fill a zero tensor the size of all regions together
    grams = torch.stack([piece @ piece.T for piece in torch.split(weighted, plan.sizes, dim=1)])
    area = plan.area.reshape(-1, 1, 1)
    grams = grams / (channels * area.clamp_min(AREA_EPSILON)) * (area > AREA_EPSILON)
    return grams.reshape(batch, plan.regions, channels, channels)


@dataclass(frozen=True)
class StyleTargets:
    """The style image's region Grams per layer, computed once per style and reused."""

    grams: dict[str, torch.Tensor]
    present: torch.Tensor


def style_targets(
    network: torch.nn.Module, image: torch.Tensor, masks: torch.Tensor, layers: Sequence[str]
) -> StyleTargets:
    """Grams ``[R, C, C]`` of the style image ``[1, 3, H, W]`` under its masks ``[1, R, H, W]``."""
    with torch.no_grad():
        features = network(image, layers)
        pyramid = mask_pyramid(masks, network.ops, layers)
        grams = {layer: region_grams(features[layer], region_plan(pyramid[layer]))[0] for layer in layers}
    return StyleTargets(grams, masks[0].sum(dim=(1, 2)) > AREA_EPSILON)


def style_loss(features: dict[str, torch.Tensor], plans: dict[str, RegionPlan], targets: StyleTargets) -> torch.Tensor:
    """Mean over layers of the relative squared Gram error of every region present in style and target."""
    total = 0.0
    for layer, style in targets.grams.items():
        grams = region_grams(features[layer], plans[layer])
        counted = targets.present[None, :] & (plans[layer].area > AREA_EPSILON)
        error = ((grams - style[None]) ** 2).sum(dim=(2, 3))
        norm = (style**2).sum(dim=(1, 2))[None].expand_as(error)
        total = total + (error * counted).sum() / (norm * counted).sum().clamp_min(AREA_EPSILON)
    return total / len(targets.grams)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels: suppresses salt-and-pepper noise."""
    return ((image[..., 1:, :] - image[..., :-1, :]) ** 2).mean() + (
        (image[..., :, 1:] - image[..., :, :-1]) ** 2
    ).mean()
