"""Semantic neural patches (Li & Wand's CNNMRF as alexjc/neural-doodle uses it): each 3x3 patch of the output's
deep features is pulled towards its most similar patch of the painting's, searched among the patches of the
same region only, so brushwork and local structure are copied rather than averaged as a Gram matrix does.

Similarity is normalised cross-correlation; the search runs in chunks so memory stays bounded at 512-1024 px;
the matches are constants of one evaluation, so the gradient is that of a squared distance to fixed patches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..errors import DoodleError

PATCH_LAYERS = ("conv3_1", "conv4_1")
PATCH_SIZE = 3
PATCH_MIN_SIDE = PATCH_SIZE * 8
"""The shortest side an image scored by patches may have: conv4_1 sees it after three 2x poolings, and must
still hold one patch."""
MAX_SIMILARITIES = 1 << 24
"""Similarity entries computed at once (64 MB in float32): the search's memory bound."""
NORM_EPSILON = 1e-8


@dataclass(frozen=True)
class PatchTargets:
    """The painting's patches per layer and region (``[N, C x 9]``, None where a region has none) and each
    layer's mean squared patch value, which makes the loss relative (about 1 for unrelated patches)."""

    patches: dict[str, list[torch.Tensor | None]]
    scale: dict[str, float]


def patches_of(features: torch.Tensor) -> torch.Tensor:
    """Every 3x3 patch of one image's features ``[1, C, H, W]``, as rows ``[(H-2) x (W-2), C x 9]``."""
    if features.shape[0] != 1:
        raise DoodleError(f"the patch loss scores one image at a time, got a batch of {features.shape[0]}")
    return F.unfold(features, PATCH_SIZE).squeeze(0).T


def patch_regions(layer_masks: torch.Tensor) -> torch.Tensor:
    """The region of each patch's centre, ``[(H-2) x (W-2)]``, from masks ``[1, R, H, W]`` at the layer's size."""
    margin = PATCH_SIZE // 2
    return layer_masks[0].argmax(dim=0)[margin:-margin, margin:-margin].reshape(-1)


def patch_targets(features: dict[str, torch.Tensor], layer_masks: dict[str, torch.Tensor]) -> PatchTargets:
    """The painting's patches, split by region, from its features and its masks at each layer's size."""
    patches, scale = {}, {}
    for layer, feature in features.items():
        rows, regions = patches_of(feature.detach()), patch_regions(layer_masks[layer])
        n_regions = layer_masks[layer].shape[1]
        patches[layer] = [rows[regions == r] if (regions == r).any() else None for r in range(n_regions)]
        scale[layer] = float(rows.pow(2).mean().clamp_min(NORM_EPSILON))
    return PatchTargets(patches, scale)


def nearest_patches(target: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """For each row of ``target`` ``[N, D]``, the index of the most similar row of ``style`` ``[M, D]``
    (normalised cross-correlation), in chunks of at most :data:`MAX_SIMILARITIES` entries."""
    with torch.no_grad():
        target_unit = target / target.norm(dim=1, keepdim=True).clamp_min(NORM_EPSILON)
        style_unit = style / style.norm(dim=1, keepdim=True).clamp_min(NORM_EPSILON)
        chunk = max(1, MAX_SIMILARITIES // max(1, style.shape[0]))
        starts = range(0, len(target), chunk)
        return torch.cat([(target_unit[start : start + chunk] @ style_unit.T).argmax(dim=1) for start in starts])


def patch_loss(
    features: dict[str, torch.Tensor], target_regions: dict[str, torch.Tensor], targets: PatchTargets
) -> torch.Tensor:
    """Mean over layers of the squared distance of each output patch to its match in the same region of the
    painting, relative to the painting's patch energy. Patches of regions the painting lacks are not scored."""
    total = 0.0
    for layer, style_patches in targets.patches.items():
        rows, regions = patches_of(features[layer]), target_regions[layer]
        error, counted = rows.new_zeros(()), 0
        for region, style in enumerate(style_patches):
            members = (regions == region).nonzero().squeeze(1)
            if style is None or len(members) == 0:
                continue
            own = rows[members]
            matched = style[nearest_patches(own.detach(), style)]
            error = error + (own - matched).pow(2).sum()
            counted += own.numel()
        total = total + error / max(1, counted) / targets.scale[layer]
    return total / len(targets.patches)
