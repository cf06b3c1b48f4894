"""Semantic patch loss: the search and the loss against brute force, regions kept apart, exact gradients."""

from __future__ import annotations

import pytest
import torch

from doodle.errors import DoodleError
from doodle.neural import patch_loss as patches
from doodle.neural.objective import DoodleObjective, LossWeights
from doodle.neural.optimize_settings import OptimizeSettings
from tests.helpers import tiny_network


def two_region_masks(height: int, width: int, split: int) -> torch.Tensor:
    masks = torch.zeros(1, 2, height, width, dtype=torch.float64)
    masks[0, 0, :, :split] = 1
    masks[0, 1] = 1 - masks[0, 0]
    return masks


def brute_force_loss(target: torch.Tensor, target_masks, style: torch.Tensor, style_masks) -> torch.Tensor:
    """The patch loss of one layer, pixel loop by pixel loop, as the method describes it."""

    def rows(features, masks):
        found = []
        for y in range(1, features.shape[2] - 1):
            for x in range(1, features.shape[3] - 1):
                patch = features[0, :, y - 1 : y + 2, x - 1 : x + 2].reshape(-1)
                found.append((patch, int(masks[0, :, y, x].argmax())))
        return found

    style_rows = rows(style, style_masks)
    scale = torch.stack([row for row, _ in style_rows]).pow(2).mean()
    error, counted = 0.0, 0
    for row, region in rows(target, target_masks):
        candidates = [s for s, r in style_rows if r == region]
        if not candidates:
            continue
        similarity = [float(row @ s / (row.norm() * s.norm())) for s in candidates]
        best = candidates[similarity.index(max(similarity))]
        error = error + (row - best).pow(2).sum()
        counted += row.numel()
    return error / counted / scale


def test_the_chunked_search_finds_the_brute_force_nearest_patch(monkeypatch) -> None:
    generator = torch.Generator().manual_seed(0)
    target, style = torch.randn(37, 12, generator=generator), torch.randn(23, 12, generator=generator)
    monkeypatch.setattr(patches, "MAX_SIMILARITIES", 50)  # chunks of 2 rows
    unit = lambda rows: rows / rows.norm(dim=1, keepdim=True)  # noqa: E731
    assert torch.equal(patches.nearest_patches(target, style), (unit(target) @ unit(style).T).argmax(dim=1))


def test_the_loss_is_the_brute_force_computation() -> None:
    generator = torch.Generator().manual_seed(1)
    style = torch.randn(1, 4, 9, 10, generator=generator, dtype=torch.float64)
    target = torch.randn(1, 4, 8, 7, generator=generator, dtype=torch.float64)
    style_masks, target_masks = two_region_masks(9, 10, 4), two_region_masks(8, 7, 3)
    targets = patches.patch_targets({"conv3_1": style}, {"conv3_1": style_masks})
    found = patches.patch_loss({"conv3_1": target}, {"conv3_1": patches.patch_regions(target_masks)}, targets)
    torch.testing.assert_close(found, brute_force_loss(target, target_masks, style, style_masks))


def test_no_patch_draws_from_another_region() -> None:
    """The target is the painting with its halves swapped: an unrestricted search would copy most patches
    exactly from the other region; searched within regions it cannot, and each region's candidates are
    exactly the painting's patches centred in that region."""
    generator = torch.Generator().manual_seed(2)
    style = torch.randn(1, 3, 8, 12, generator=generator, dtype=torch.float64)
    style_masks = two_region_masks(8, 12, 6)
    target = torch.cat([style[..., 6:], style[..., :6]], dim=-1)
    targets = patches.patch_targets({"conv3_1": style}, {"conv3_1": style_masks})
    centres = patches.patch_regions(style_masks).tolist()
    for region, candidates in enumerate(targets.patches["conv3_1"]):
        expected = [row for row, centre in zip(patches.patches_of(style), centres, strict=True) if centre == region]
        assert torch.equal(candidates, torch.stack(expected))
    regions = {"conv3_1": patches.patch_regions(style_masks)}
    same_region = patches.patch_loss({"conv3_1": target}, regions, targets)
    everywhere = patches.PatchTargets({"conv3_1": [patches.patches_of(style)] * 2}, targets.scale)
    anywhere = patches.patch_loss({"conv3_1": target}, regions, everywhere)
    assert float(anywhere) < 0.5 * float(same_region)


def test_gradients_are_exact() -> None:
    generator = torch.Generator().manual_seed(3)
    style = torch.randn(1, 2, 7, 7, generator=generator, dtype=torch.float64)
    masks = two_region_masks(7, 7, 3)
    targets = patches.patch_targets({"conv3_1": style}, {"conv3_1": masks})
    regions = {"conv3_1": patches.patch_regions(masks)}
    target = torch.randn(1, 2, 7, 7, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: patches.patch_loss({"conv3_1": t}, regions, targets), (target,))


def test_a_batch_of_targets_is_refused() -> None:
    with pytest.raises(DoodleError, match="one image at a time"):
        patches.patches_of(torch.zeros(2, 3, 5, 5))


def test_the_objective_with_patches_alone_scores_the_painting_itself_zero() -> None:
    torch.manual_seed(0)
    style = torch.rand(1, 3, 48, 48)
    masks = two_region_masks(48, 48, 24).float()
    objective = DoodleObjective(tiny_network(), style, masks, LossWeights(gram_weight=0.0, patch_weight=1.0))
    objective.set_target_masks(masks)
    assert float(objective(style)) < 1e-6 < float(objective(torch.rand(1, 3, 48, 48)))


def test_settings_need_one_style_loss() -> None:
    with pytest.raises(DoodleError, match="both 0"):
        OptimizeSettings(gram_weight=0.0, patch_weight=0.0)
    with pytest.raises(DoodleError, match="patch_weight must be"):
        OptimizeSettings(patch_weight=-1.0)
