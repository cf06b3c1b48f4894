"""Scoring an image of an example doodle with the L-BFGS objective, in total and region by region.

Shared by the quality and training-balance benchmarks so both measure exactly what the optimiser minimises.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.nn import functional as F

from doodle import api
from doodle.files.image_io import load_image, to_channels_first
from doodle.maps.regions import RegionMasks
from doodle.neural.objective import DoodleObjective
from doodle.neural.optimize import level_objective, style_at_level
from doodle.neural.style_loss import region_grams, style_loss
from doodle.neural.vgg import VGGFeatures


@dataclass(frozen=True)
class Example:
    """One of the shipped examples: the style, its map, and the doodle with masks in the style's palette."""

    name: str
    style: torch.Tensor
    style_masks: RegionMasks
    doodle: torch.Tensor
    target: torch.Tensor

    @classmethod
    def load(cls, name: str, device: torch.device | str = "cpu") -> Example:
        """The tensors the objective reads go to ``device``; the doodle image stays a CPU image to render from."""
        style = to_channels_first(load_image(f"samples/{name}/style.png")).to(device)
        style_masks = api.masks_from_colors(load_image(f"samples/{name}/style_mask.png"))
        doodle = load_image(f"samples/{name}/target_mask.png")
        target = api.masks_from_colors(doodle, palette_from=style_masks).masks.to(device)
        return cls(name, style, replace(style_masks, masks=style_masks.masks.to(device)), doodle, target)


def score(network: VGGFeatures, example: Example, image: torch.Tensor) -> tuple[float, list[float]]:
    """The L-BFGS objective at ``image``'s size (built as the optimiser builds it) and each region's share.

    A region's loss is its relative Gram error ``||G_r - S_r||^2 / ||S_r||^2`` averaged over the layers; the
    total is the objective itself (errors and norms summed over regions before dividing).
    """
    size = tuple(image.shape[-2:])
    objective = level_objective(network, example.style, example.style_masks.masks, size)
    return _scored(objective, image, F.interpolate(example.target, size=size, mode="area"))


def painting_halves_score(network: VGGFeatures, example: Example, size: tuple[int, int]) -> list[float]:
    """:func:`score` of the style painting's own left and right halves (with their own maps) at ``size``'s scale.

    The yardstick for a texture generator: another piece of the same painting has the same textures but not
    the whole painting's particular shapes, as a generator's render cannot, so its Gram error measures how
    much the painting varies within itself. L-BFGS instead matches the whole painting's Grams exactly.
    A half has half the doodle's positions, which raises its error, but it is part of the painting it is
    scored against, which lowers it: a level to compare with, not an exact bound.
    """
    style, masks = style_at_level(example.style, example.style_masks.masks, size)
    objective = DoodleObjective(network, style, masks)  # level_objective, keeping the resized style to cut
    middle = style.shape[-1] // 2
    return [_scored(objective, style[..., half], masks[..., half])[0] for half in (slice(middle), slice(middle, None))]


def _scored(objective: DoodleObjective, image: torch.Tensor, masks: torch.Tensor) -> tuple[float, list[float]]:
    objective.set_target_masks(masks)
    with torch.no_grad():
        features = objective.network(image, objective.layers)
        total = float(style_loss(features, objective.plans, objective.targets))  # the objective: no TV, no content
        per_region = torch.zeros(masks.shape[1], device=masks.device)
        for layer, style in objective.targets.grams.items():
            grams = region_grams(features[layer], objective.plans[layer])[0]
            per_region += ((grams - style) ** 2).sum(dim=(1, 2)) / (style**2).sum(dim=(1, 2)).clamp_min(1e-12)
    return total, (per_region / len(objective.layers)).tolist()


def render_score(
    network: VGGFeatures, bundle: api.GeneratorBundle, example: Example, size: tuple[int, int], seeds: int
) -> tuple[float, list[float]]:
    """:func:`score` of renders of the example doodle, averaged over noise seeds ``0..seeds-1``.

    Each render is made at the doodle's own size and area-downscaled to ``size``, as a user would see it.
    Averaged, because one seed's score moves a lot: the deepest layer sees only a few hundred positions at 256 px.
    """
    totals, regions = [], []
    for seed in range(seeds):
        render = to_channels_first(api.render_image(bundle, seed, doodle=example.doodle))
        total, per_region = score(network, example, F.interpolate(render, size=size, mode="area"))
        totals.append(total)
        regions.append(per_region)
    return sum(totals) / seeds, [sum(column) / seeds for column in zip(*regions, strict=True)]
