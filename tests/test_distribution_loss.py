"""The sliced Wasserstein term's maths against direct small computations: quantiles, errors, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodle.neural.distribution_loss import (
    DETAIL,
    DIRECTIONS,
    RGB,
    VARIANCE_FLOOR,
    distribution_loss,
    distribution_targets,
    neighbour_differences,
    random_directions,
    region_members,
    resampled,
    sliced_error,
)
from doodle.neural.objective import DoodleObjective, LossWeights
from tests.helpers import tiny_network


def direct_sliced_error(target: np.ndarray, style: np.ndarray, directions: np.ndarray) -> float:
    """For each direction: sort both projections, take the style's at the target's quantiles (Hazen)."""
    errors = []
    for direction in directions.T:
        ours = np.sort(direction @ target)
        levels = (np.arange(len(ours)) + 0.5) / len(ours)
        theirs = np.quantile(direction @ style, levels, method="hazen")
        errors.append(np.mean((ours - theirs) ** 2))
    return float(np.mean(errors))


@pytest.mark.parametrize("size,count", [(7, 7), (9, 4), (5, 13), (1, 3)])
def test_resampled_quantiles_are_numpys_hazen_quantiles(size: int, count: int) -> None:
    values = np.sort(np.random.default_rng(size).normal(size=(2, size)), axis=1)
    expected = np.quantile(values, (np.arange(count) + 0.5) / count, axis=1, method="hazen").T
    np.testing.assert_allclose(resampled(torch.from_numpy(values), count).numpy(), expected, atol=1e-12)


def test_sliced_error_equals_the_direct_computation() -> None:
    rng = np.random.default_rng(0)
    target, style = rng.normal(size=(3, 11)), rng.normal(1.0, 2.0, size=(3, 17))
    directions = random_directions(3, torch.Generator().manual_seed(1)).double()
    assert directions.shape == (3, DIRECTIONS)
    torch.testing.assert_close(directions.norm(dim=0), torch.ones(DIRECTIONS, dtype=torch.float64))
    ours = sliced_error(torch.from_numpy(target), torch.from_numpy(style), directions)
    assert float(ours) == pytest.approx(direct_sliced_error(target, style, directions.numpy()), rel=1e-10)


def test_it_tells_apart_distributions_with_the_same_second_moment() -> None:
    """Specks (0 or sqrt 2) and an even tone (1) have one Gram; the sliced error sees them apart."""
    even = torch.ones(1, 100, dtype=torch.float64)
    specks = torch.tensor([0.0, 2**0.5], dtype=torch.float64).repeat(50)[None]
    assert float((even**2).mean()) == pytest.approx(float((specks**2).mean()))
    one = torch.ones(1, 1, dtype=torch.float64)
    assert float(sliced_error(even, specks, one)) > 0.15
    assert float(sliced_error(specks[:, torch.randperm(100)], specks, one)) == pytest.approx(0.0, abs=1e-12)


def test_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    target = torch.randn(3, 9, dtype=torch.float64, requires_grad=True)
    style = torch.randn(3, 14, dtype=torch.float64)
    directions = random_directions(3, torch.Generator().manual_seed(2)).double()
    assert torch.autograd.gradcheck(lambda t: sliced_error(t, style, directions), (target,))


def test_members_are_the_positions_where_a_region_is_strongest() -> None:
    masks = torch.zeros(2, 3, 2, 3)
    masks[0, 0] = torch.tensor([[0.6, 0.2, 0.0], [1.0, 0.4, 0.0]])
    masks[0, 1] = 1 - masks[0, 0]
    masks[1, 2] = 1
    members = {(b, r): index.tolist() for b, r, index in region_members(masks)}
    assert members == {(0, 0): [0, 3], (0, 1): [1, 2, 4, 5], (1, 2): [0, 1, 2, 3, 4, 5]}


def two_region_style() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 40)
    masks = torch.zeros(1, 2, 32, 40)
    masks[0, 0, :, :18] = 1
    masks[0, 1] = 1 - masks[0, 0]
    return image, masks


def test_loss_is_the_layers_mean_of_region_errors_over_the_style_variance() -> None:
    image, masks = two_region_style()
    targets = distribution_targets({RGB: image}, {RGB: masks})
    directions = {RGB: random_directions(3, torch.Generator().manual_seed(0))}
    other = torch.rand(1, 3, 32, 40)
    flat, style = other[0].reshape(3, -1), image[0].reshape(3, -1)
    errors = [sliced_error(flat[:, index], style[:, index], directions[RGB]) for _, _, index in region_members(masks)]
    variance = [style[:, masks[0, r].flatten() > 0].var(dim=1, unbiased=False).mean() for r in range(2)]
    expected = sum(errors) / sum(variance)
    members = {RGB: region_members(masks)}
    torch.testing.assert_close(distribution_loss({RGB: other}, members, targets, directions), expected)
    assert float(distribution_loss({RGB: image}, members, targets, directions)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("flat_region", [False, True])
def test_the_detail_layer_weighs_each_region_by_its_own_variance(flat_region: bool) -> None:
    image, masks = two_region_style()
    if flat_region:  # a flat-coloured region's variance counts as VARIANCE_FLOOR of the regions' mean
        image[..., :18] = 0.5
    style = neighbour_differences(image)
    targets = distribution_targets({DETAIL: style}, {DETAIL: masks})
    directions = {DETAIL: random_directions(6, torch.Generator().manual_seed(0))}
    other = neighbour_differences(torch.rand(1, 3, 32, 40))
    flat, painting = other[0].reshape(6, -1), style[0].reshape(6, -1)
    variances = [float(painting[:, masks[0, r].flatten() > 0].var(dim=1, unbiased=False).mean()) for r in range(2)]
    floor = VARIANCE_FLOOR * sum(variances) / 2
    expected = 0.0
    for _, r, index in region_members(masks):
        error = float(sliced_error(flat[:, index], painting[:, index], directions[DETAIL]))
        expected += error / max(variances[r], floor) / 2
    members = {DETAIL: region_members(masks)}
    got = float(distribution_loss({DETAIL: other}, members, targets, directions))
    assert got == pytest.approx(expected, rel=1e-5)
    assert (variances[0] < floor) == flat_region


def test_a_balanced_layer_averages_regions_in_each_image_then_the_images() -> None:
    image, masks = two_region_style()
    style = neighbour_differences(image)
    targets = distribution_targets({DETAIL: style}, {DETAIL: masks})
    directions = {DETAIL: random_directions(6, torch.Generator().manual_seed(2))}
    batch_masks = torch.cat([masks, torch.stack([torch.zeros_like(masks[0, 0]), torch.ones_like(masks[0, 1])])[None]])
    other = neighbour_differences(torch.rand(2, 3, 32, 40))

    def alone(b: int) -> float:
        one = batch_masks[b : b + 1]
        members = {DETAIL: region_members(one)}
        return float(distribution_loss({DETAIL: other[b : b + 1]}, members, targets, directions))

    members = {DETAIL: region_members(batch_masks)}
    assert [r for _, r, _ in members[DETAIL]] == [0, 1, 1]  # two regions in the first image, one in the second
    got = float(distribution_loss({DETAIL: other}, members, targets, directions))
    assert got == pytest.approx((alone(0) + alone(1)) / 2, rel=1e-5)


def test_a_balanced_layer_adds_to_the_pooled_layers_mean_at_one_layers_weight() -> None:
    image, masks = two_region_style()
    style = {RGB: image, "doubled": 2 * image, DETAIL: neighbour_differences(image)}
    other = torch.rand(1, 3, 32, 40)
    target = {RGB: other, "doubled": 2 * other, DETAIL: neighbour_differences(other)}
    directions = {layer: random_directions(f.shape[1], torch.Generator().manual_seed(1)) for layer, f in style.items()}

    def alone(layer: str) -> float:
        targets = distribution_targets({layer: style[layer]}, {layer: masks})
        return float(distribution_loss({layer: target[layer]}, {layer: region_members(masks)}, targets, directions))

    targets = distribution_targets(style, dict.fromkeys(style, masks))
    members = dict.fromkeys(style, region_members(masks))
    got = float(distribution_loss(target, members, targets, directions))
    assert got == pytest.approx((alone(RGB) + alone("doubled") + alone(DETAIL)) / 2, rel=1e-5)


def test_neighbour_differences_are_each_pixel_minus_its_right_and_lower_neighbour() -> None:
    image = torch.rand(2, 3, 4, 5)
    got = neighbour_differences(image).numpy()
    pixels = image.numpy()
    height, width = pixels.shape[-2:]
    for b in range(2):
        for y in range(height):
            for x in range(width):
                right = pixels[b, :, y, min(x + 1, width - 1)]
                below = pixels[b, :, min(y + 1, height - 1), x]
                expected = np.concatenate([pixels[b, :, y, x] - right, pixels[b, :, y, x] - below])
                np.testing.assert_allclose(got[b, :, y, x], expected, atol=1e-7)


def test_objective_adds_the_weighted_term_and_the_style_itself_scores_zero() -> None:
    network = tiny_network()
    image, masks = two_region_style()
    plain = DoodleObjective(network, image, masks)
    with_term = DoodleObjective(network, image, masks, LossWeights(distribution_weight=2.0))
    for objective in (plain, with_term):
        objective.set_target_masks(masks)
    assert float(with_term(image)) == pytest.approx(0.0, abs=1e-6)
    other = torch.rand(1, 3, 32, 40)
    term = float(with_term(other)) - float(plain(other))
    assert term > 0
    features = network(other, ["conv1_1", "conv2_1", "conv3_1"]) | {RGB: other, DETAIL: neighbour_differences(other)}
    direct = distribution_loss(features, with_term.members, with_term.distribution, with_term.directions)
    assert term == pytest.approx(2.0 * float(direct), rel=1e-4)
    with_term.draw_directions(torch.Generator().manual_seed(5))
    assert float(with_term(other)) - float(plain(other)) != pytest.approx(term, rel=1e-6)
