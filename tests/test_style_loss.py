"""The style loss's maths against direct small computations: pyramid, Grams, loss, gradients."""

from __future__ import annotations

import itertools
import logging

import pytest
import torch

from doodle.neural.objective import DoodleObjective, LossWeights
from doodle.neural.style_loss import mask_pyramid, region_grams, region_plan, style_loss, style_targets
from doodle.neural.vgg import STYLE_LAYERS
from tests.helpers import tiny_network


def direct_mean3x3(mask: torch.Tensor) -> torch.Tensor:
    """3x3 mean over the neighbours that exist (padding not counted), by loops."""
    height, width = mask.shape
    out = torch.zeros_like(mask)
    for y, x in itertools.product(range(height), range(width)):
        values = [
            mask[j, i] for j in range(y - 1, y + 2) for i in range(x - 1, x + 2) if 0 <= j < height and 0 <= i < width
        ]
        out[y, x] = sum(values) / len(values)
    return out


def test_mask_pyramid_follows_the_network_in_size_and_value() -> None:
    network = tiny_network()
    masks = torch.zeros(1, 2, 21, 34)
    masks[0, 0, :, :15] = 1
    masks[0, 1] = 1 - masks[0, 0]
    pyramid = mask_pyramid(masks, network.ops, STYLE_LAYERS)
    features = network(torch.rand(1, 3, 21, 34), STYLE_LAYERS)
    for layer in STYLE_LAYERS:
        assert pyramid[layer].shape[-2:] == features[layer].shape[-2:], layer
        torch.testing.assert_close(pyramid[layer].sum(dim=1), torch.ones_like(pyramid[layer][:, 0]))
    torch.testing.assert_close(pyramid["conv1_1"][0, 0], direct_mean3x3(masks[0, 0]))
    pooled = torch.nn.functional.avg_pool2d(pyramid["conv1_1"], 2)  # TINY_CONFIG: conv1_1, pool, conv2_1
    torch.testing.assert_close(pyramid["conv2_1"][0, 1], direct_mean3x3(pooled[0, 1]))


def direct_gram(features: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """sum_p w(p) f(p) f(p)^T / (C * sum_p w(p)), pixel by pixel."""
    channels = features.shape[0]
    total = torch.zeros(channels, channels, dtype=features.dtype)
    for y, x in itertools.product(range(features.shape[1]), range(features.shape[2])):
        vector = features[:, y, x]
        total += weights[y, x] * torch.outer(vector, vector)
    return total / (channels * weights.sum())


def test_region_grams_equal_the_direct_weighted_means_and_skip_empty_regions() -> None:
    torch.manual_seed(0)
    features = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    masks = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    masks[:, 1, :2] = 0
    masks[1, 2] = 0
    grams = region_grams(features, region_plan(masks))
    for b, r in itertools.product(range(2), range(3)):
        if b == 1 and r == 2:
            assert torch.equal(grams[b, r], torch.zeros(4, 4, dtype=torch.float64))
        else:
            torch.testing.assert_close(grams[b, r], direct_gram(features[b], masks[b, r]))


def test_binary_mask_gram_is_the_originals_masked_gram_over_the_area() -> None:
    features = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    mask = (torch.rand(1, 1, 4, 4) > 0.5).double()
    masked = (features * mask).reshape(3, -1)
    expected = masked @ masked.T / (3 * mask.sum())
    torch.testing.assert_close(region_grams(features, region_plan(mask))[0, 0], expected)


def test_style_image_against_itself_has_zero_loss_and_another_image_does_not() -> None:
    network = tiny_network()
    image = torch.rand(1, 3, 40, 48)
    masks = torch.zeros(1, 3, 40, 48)
    masks[0, 0, :20] = 1
    masks[0, 1, 20:, :30] = 1
    masks[0, 2] = 1 - masks[0, 0] - masks[0, 1]
    objective = DoodleObjective(network, image, masks)
    objective.set_target_masks(masks)
    assert float(objective(image)) < 1e-10
    assert float(objective(torch.rand(1, 3, 40, 48))) > 1e-3


def test_loss_equals_the_documented_formula_computed_directly() -> None:
    torch.manual_seed(1)
    network = tiny_network(dtype=torch.float64)
    style, image = torch.rand(1, 3, 32, 32, dtype=torch.float64), torch.rand(1, 3, 24, 40, dtype=torch.float64)
    style_masks = torch.zeros(1, 2, 32, 32, dtype=torch.float64)
    style_masks[0, 0, :, :12] = 1
    style_masks[0, 1] = 1 - style_masks[0, 0]
    target_masks = torch.zeros(1, 2, 24, 40, dtype=torch.float64)
    target_masks[0, 0, 10:] = 1
    target_masks[0, 1] = 1 - target_masks[0, 0]
    targets = style_targets(network, style, style_masks, STYLE_LAYERS)
    pyramid = mask_pyramid(target_masks, network.ops, STYLE_LAYERS)
    plans = {layer: region_plan(pyramid[layer]) for layer in STYLE_LAYERS}
    loss = style_loss(network(image, STYLE_LAYERS), plans, targets)

    style_features, style_pyramid = network(style, STYLE_LAYERS), mask_pyramid(style_masks, network.ops, STYLE_LAYERS)
    features = network(image, STYLE_LAYERS)
    expected = 0.0
    for layer in STYLE_LAYERS:
        errors, norms = 0.0, 0.0
        for region in range(2):
            reference = direct_gram(style_features[layer][0], style_pyramid[layer][0, region])
            generated = direct_gram(features[layer][0], pyramid[layer][0, region])
            errors += ((generated - reference) ** 2).sum()
            norms += (reference**2).sum()
        expected += errors / norms
    torch.testing.assert_close(loss, expected / len(STYLE_LAYERS))


def test_gradient_matches_finite_differences() -> None:
    network = tiny_network(dtype=torch.float64)
    style = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    masks = torch.zeros(1, 2, 16, 16, dtype=torch.float64)
    masks[0, 0, :, :7] = 1
    masks[0, 1] = 1 - masks[0, 0]
    objective = DoodleObjective(network, style, masks, LossWeights(tv_weight=0.1))
    objective.set_target_masks(masks.flip(-1))
    objective.set_content(torch.rand(1, 3, 16, 16, dtype=torch.float64), 0.5)
    image = torch.rand(1, 3, 16, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(objective, (image,), eps=1e-6, atol=1e-5)


def test_region_absent_from_the_style_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    network = tiny_network()
    style_masks = torch.zeros(1, 3, 32, 32)
    style_masks[0, 0, :16] = 1
    style_masks[0, 1, 16:] = 1
    target = torch.zeros(1, 3, 32, 32)
    target[0, 2, :, :10] = 1
    target[0, 0, :, 10:] = 1
    objective = DoodleObjective(network, torch.rand(1, 3, 32, 32), style_masks)
    with caplog.at_level(logging.WARNING):
        objective.set_target_masks(target)
    assert "absent from the style" in caplog.text
    loss = objective(torch.rand(1, 3, 32, 32))
    assert torch.isfinite(loss) and loss > 0
