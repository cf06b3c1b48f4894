"""L-BFGS doodles: the loss falls, any aspect ratio, pixels kept in range, a given start, cancel, bad input."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from torch.nn import functional as F

from doodle.errors import DoodleError
from doodle.neural.objective import DoodleObjective, LossWeights
from doodle.neural.optimize import SEARCHED_ITERATIONS, optimize_doodle, run_lbfgs
from doodle.neural.optimize_settings import OptimizeSettings
from doodle.neural.style_loss import total_variation
from doodle.neural.vgg import CONTENT_LAYER
from tests.helpers import tiny_network

SETTING_NAMES = {field.name for field in dataclasses.fields(OptimizeSettings)}


def split_settings(options: dict) -> tuple[OptimizeSettings, dict]:
    """Settings given by name become OptimizeSettings (one scale unless asked: these tests use one)."""
    named = {key: options.pop(key) for key in list(options) if key in SETTING_NAMES}
    return OptimizeSettings(**({"scales": 1} | named)), options


def paint(network, style, style_masks, target_masks, **options) -> torch.Tensor:
    settings, options = split_settings(options)
    return optimize_doodle(network, style, style_masks, target_masks, settings, **options)


def optimize_via_api(api, network_name, style, style_masks, target_masks, **options) -> torch.Tensor:
    settings, options = split_settings(options)
    style = api.Style(style, style_masks)
    return api.optimize_image(style, target_masks, settings, network_choice=api.NetworkChoice(network_name), **options)


def two_regions(height: int, width: int, split: int) -> torch.Tensor:
    masks = torch.zeros(1, 2, height, width)
    masks[0, 0, :, :split] = 1
    masks[0, 1] = 1 - masks[0, 0]
    return masks


def style_image() -> torch.Tensor:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 40, 40) * 0.2
    image[:, 0, :, :20] += 0.7
    image[:, 2, :, 20:] += torch.sin(torch.arange(20.0) * 2)[None, None, :] * 0.3 + 0.4
    return image.clamp(0, 1)


def test_optimisation_lowers_the_loss_and_keeps_any_aspect_ratio() -> None:
    network, style, style_masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    target = two_regions(27, 45, 30)
    result = paint(network, style, style_masks, target, iterations=30, scales=2, seed=1, init="noise")
    assert result.shape == (1, 3, 27, 45)
    objective = DoodleObjective(network, style, style_masks)
    objective.set_target_masks(target)
    torch.manual_seed(1)
    start = (0.5 + 0.2 * torch.randn(1, 3, 27, 45)).clamp(0, 1)
    assert float(objective(result)) < 0.5 * float(objective(start))


def test_size_sets_the_long_side() -> None:
    result = paint(
        tiny_network(), style_image(), two_regions(40, 40, 20), two_regions(30, 60, 20), iterations=2, size=40
    )
    assert result.shape == (1, 3, 20, 40)


def test_works_under_the_hosts_inference_mode() -> None:
    network = tiny_network()  # networks are loaded outside inference mode (see test_networks)
    with torch.inference_mode():
        style, masks = style_image(), two_regions(40, 40, 20)
        result = paint(network, style, masks, masks, iterations=3)
    assert torch.isfinite(result).all()


def test_cancel_stops_within_one_iteration() -> None:
    calls = []

    def cancel_at_three(done: int, total: int, preview=None) -> None:
        calls.append(done)
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        paint(
            tiny_network(),
            style_image(),
            two_regions(40, 40, 20),
            two_regions(40, 40, 20),
            iterations=50,
            progress=cancel_at_three,
        )
    assert calls == [1, 2, 3]


def test_content_image_pulls_the_result_towards_it() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    content = torch.zeros(1, 3, 40, 40)
    content[:, :, 10:30, 10:30] = 1
    free = paint(network, style, masks, masks, iterations=20, seed=0)
    kept = paint(
        network, style, masks, masks, iterations=20, seed=0, content_image=content, content_weight=5.0, init="content"
    )
    assert (kept - content).abs().mean() < (free - content).abs().mean()


def test_tv_weight_smooths_the_result() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    free, smooth = (
        paint(network, style, masks, masks, iterations=20, seed=0, init="noise", tv_weight=weight)
        for weight in (0.0, 10.0)
    )
    assert total_variation(smooth) < 0.5 * total_variation(free)


def region_color_distance(image: torch.Tensor, style: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean over regions and channels of the squared difference of the sorted colours of ``image`` and ``style``
    (each a region's own pixels, same masks and sizes, so the quantiles line up one to one)."""
    total = 0.0
    for region in masks[0].bool():
        ours, theirs = (picture[0][:, region].sort(dim=1).values for picture in (image, style))
        total += float(((ours - theirs) ** 2).mean())
    return total / masks.shape[1]


def test_distribution_weight_brings_each_regions_colors_towards_the_style() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    plain, matched = (
        paint(network, style, masks, masks, iterations=20, seed=0, init="noise", distribution_weight=weight)
        for weight in (0.0, 5.0)
    )
    assert region_color_distance(matched, style, masks) < 0.5 * region_color_distance(plain, style, masks)


def test_the_loss_is_taken_in_range_and_pixels_beyond_it_come_back() -> None:
    """Lowest at 1.5 for pixels 0..31 and at 0.5 for the rest, which start at 1.7, beyond white."""
    seen = []
    start = torch.full((1, 1, 8, 8), 0.5)
    start.view(-1)[32:] = 1.7
    goal = torch.full_like(start, 0.5)
    goal.view(-1)[:32] = 1.5

    def distance(pixels: torch.Tensor) -> torch.Tensor:
        seen.append((float(pixels.detach().min()), float(pixels.detach().max())))
        return ((pixels - goal) ** 2).mean()

    result = run_lbfgs(distance, start, 20, lambda step, preview: None)
    assert min(low for low, _ in seen) >= 0 and max(high for _, high in seen) <= 1
    assert torch.allclose(result, goal.clamp(0, 1), atol=1e-3)


def test_after_the_line_searched_iterations_each_costs_one_evaluation_and_the_loss_falls_on() -> None:
    """An ill-conditioned quadratic (curvatures 0.01..10) that a few iterations cannot solve."""
    goal = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    curvature = torch.logspace(-2, 1, goal.numel()).view_as(goal)

    def run(steps: int) -> tuple[int, float]:
        evaluations = []

        def loss(pixels: torch.Tensor) -> torch.Tensor:
            evaluations.append(1)
            return (curvature * (pixels - goal) ** 2).sum()

        result = run_lbfgs(loss, torch.full_like(goal, 0.5), steps, lambda step, preview: None)
        return len(evaluations), float((curvature * (result - goal) ** 2).sum())

    searched_evaluations, searched_loss = run(SEARCHED_ITERATIONS)
    evaluations, loss = run(SEARCHED_ITERATIONS + 20)
    assert searched_evaluations > SEARCHED_ITERATIONS, "the first iterations search their step"
    assert evaluations - searched_evaluations == 20, "later ones take the plain step: one evaluation each"
    assert loss < 0.5 * searched_loss, "and they go on lowering the loss"


def test_init_image_is_where_the_optimisation_starts() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    objective = DoodleObjective(network, style, masks)
    objective.set_target_masks(masks)
    painted = paint(network, style, masks, masks, iterations=30, seed=0, init="noise")
    larger = F.interpolate(painted, size=(80, 80), mode="bilinear", align_corners=False)  # resized back to fit
    polished = paint(network, style, masks, masks, iterations=1, seed=0, init="noise", init_image=larger)
    fresh = paint(network, style, masks, masks, iterations=1, seed=0, init="noise")
    assert float(objective(polished)) < 0.5 * float(objective(fresh))
    assert (polished - painted).abs().mean() < 0.5 * (fresh - painted).abs().mean()


def content_term(network, image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The content loss written out: conv4_2's mean squared difference relative to the content's energy."""
    ours, theirs = (network(picture, [CONTENT_LAYER])[CONTENT_LAYER] for picture in (image, content))
    return ((ours - theirs) ** 2).mean() / (theirs**2).mean()


def test_patch_gram_and_content_terms_add_up() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    image, content = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)

    def alone(**weights) -> float:
        objective = DoodleObjective(network, style, masks, LossWeights(**weights))
        objective.set_target_masks(masks)
        return float(objective(image))

    combined = DoodleObjective(network, style, masks, LossWeights(gram_weight=0.5, patch_weight=2.0))
    combined.set_target_masks(masks)
    combined.set_content(content, 3.0)
    gram, patches = alone(gram_weight=1.0), alone(gram_weight=0.0, patch_weight=1.0)
    assert gram > 0 and patches > 0
    expected = 0.5 * gram + 2.0 * patches + 3.0 * float(content_term(network, image, content))
    assert float(combined(image)) == pytest.approx(expected, rel=1e-5)


def test_content_weight_pulls_a_patch_loss_result_towards_the_content() -> None:
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    content = torch.zeros(1, 3, 40, 40)
    content[:, :, 10:30, 10:30] = 1
    free, kept = (
        paint(
            network,
            style,
            masks,
            masks,
            iterations=20,
            seed=0,
            init="noise",
            gram_weight=0.0,
            patch_weight=1.0,
            content_image=content,
            content_weight=weight,
        )
        for weight in (0.0, 5.0)
    )
    with torch.no_grad():
        assert content_term(network, kept, content) < 0.5 * content_term(network, free, content)


def test_init_image_is_where_a_patch_loss_optimisation_starts() -> None:
    """One iteration from init_image is one L-BFGS step of the patch objective from exactly that image."""
    network, style, masks = tiny_network(), style_image(), two_regions(40, 40, 20)
    start = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    objective = DoodleObjective(network, style, masks, LossWeights(gram_weight=0.0, patch_weight=1.0))
    objective.set_target_masks(masks)
    by_hand = run_lbfgs(objective, start, 1, lambda step, preview: None)
    polished = paint(
        network, style, masks, masks, iterations=1, init="noise", init_image=start, gram_weight=0.0, patch_weight=1.0
    )
    torch.testing.assert_close(polished, by_hand)
    assert float(objective(polished)) < float(objective(start))
    assert 0 < (polished - start).abs().mean() < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"iterations": 0}, "iterations"),
        ({"scales": 0}, "scales"),
        ({"init": "zeros"}, "init"),
        ({"init": "content"}, "no content_image"),
        ({"init_image": torch.full((1, 3, 40, 40), float("nan"))}, "init_image contains NaN"),
        ({"init_image": torch.rand(1, 4, 40, 40)}, "init_image must be one RGB image"),
        ({"init_image": torch.rand(2, 3, 40, 40)}, "init_image must be one RGB image"),
        ({"content_weight": -1.0}, "content_weight must be a number of at least 0"),
        ({"content_weight": float("nan")}, "content_weight must be a number of at least 0"),
        ({"content_weight": 1.0}, "content_weight is 1 but no content_image was given"),
        ({"patch_weight": 1.0, "scales": 2}, "patch loss needs 24 pixels a side at the coarsest scale, and 40x40 in 2"),
        ({"tv_weight": float("inf")}, "tv_weight must be a number of at least 0"),
        ({"distribution_weight": -1.0}, "distribution_weight must be a number between 0 and 1000"),
        ({"distribution_weight": float("nan")}, "distribution_weight must be a number between 0 and 1000"),
        ({"distribution_weight": 1001.0}, "distribution_weight must be a number between 0 and 1000"),
        ({"size": -5}, "size"),
        ({"size": 100000}, "too large"),
        (
            {"target_masks": two_regions(40, 40, 20).repeat(1, 2, 1, 1)},
            "the target masks have 4 regions but the style map has 2",
        ),
        ({"target_masks": two_regions(4, 40, 20)}, "too small"),
    ],
)
def test_bad_input_gets_clear_messages(kwargs: dict, message: str) -> None:
    arguments = {"target_masks": two_regions(40, 40, 20), "iterations": 5} | kwargs
    with pytest.raises(DoodleError, match=message):
        paint(tiny_network(), style_image(), two_regions(40, 40, 20), **arguments)


def test_style_image_and_map_of_different_sizes_are_refused() -> None:
    with pytest.raises(DoodleError, match="style image is 40x40 but its map is 30x40"):
        DoodleObjective(tiny_network(), style_image(), two_regions(40, 30, 10))
    with pytest.raises(DoodleError, match="style image is 40x40 but its map is 30x40"):
        paint(tiny_network(), style_image(), two_regions(40, 30, 10), two_regions(40, 40, 20))


def test_channels_last_content_image_as_init_works() -> None:
    content = torch.rand(1, 40, 40, 3).permute(0, 3, 1, 2)  # a view of ComfyUI's [B, H, W, C] layout
    masks = two_regions(40, 40, 20)
    result = paint(
        tiny_network(),
        style_image(),
        masks,
        masks,
        iterations=2,
        init="content",
        content_image=content,
        content_weight=1.0,
    )
    assert result.shape == (1, 3, 40, 40)


def test_bad_request_fails_before_the_network_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    from doodle import api
    from doodle.maps.regions import RegionMasks

    def no_loading(*args, **kwargs):
        raise AssertionError("the network must not be loaded for a bad request")

    monkeypatch.setattr(api, "load_network", no_loading)
    masks = RegionMasks(two_regions(40, 40, 20), torch.eye(3)[:2])
    with pytest.raises(DoodleError, match="iterations"):
        optimize_via_api(api, "vgg16-hed", torch.rand(1, 40, 40, 3), masks, masks, iterations=0)
    with pytest.raises(DoodleError, match="content_weight"):
        optimize_via_api(api, "vgg16-hed", torch.rand(1, 40, 40, 3), masks, masks, content_weight=-2.0)
    with pytest.raises(DoodleError, match="tv_weight"):
        optimize_via_api(api, "vgg16-hed", torch.rand(1, 40, 40, 3), masks, masks, tv_weight=-1.0)
    short_map = RegionMasks(two_regions(30, 40, 20), torch.eye(3)[:2])
    with pytest.raises(DoodleError, match="style image is 40x40 but its map is 40x30"):
        optimize_via_api(api, "vgg16-hed", torch.rand(1, 40, 40, 3), short_map, masks)


def test_target_masks_are_lined_up_with_the_style_palette_by_color(monkeypatch: pytest.MonkeyPatch) -> None:
    from doodle import api
    from doodle.maps.regions import RegionMasks

    received = []
    monkeypatch.setattr(api, "load_network", lambda *args, **kwargs: tiny_network())

    def optimised(network, style, style_masks, target, settings, *rest, **named) -> torch.Tensor:
        received.append(target)
        assert settings.tv_weight == 0.25, "tv_weight reaches the optimiser"
        assert settings.distribution_weight == 0.5, "so does distribution_weight"
        return torch.zeros(1, 3, 40, 40)

    monkeypatch.setattr(api, "optimize_checked", optimised)
    style = RegionMasks(two_regions(40, 40, 20), torch.eye(3)[:2])
    target = RegionMasks(two_regions(40, 40, 10), torch.eye(3)[:2])
    swapped = RegionMasks(target.masks[:, [1, 0]], target.palette[[1, 0]])
    optimize_via_api(
        api, "tiny", torch.rand(1, 40, 40, 3), style, swapped, iterations=1, tv_weight=0.25, distribution_weight=0.5
    )
    assert torch.equal(received[0], target.masks)


def test_a_batch_where_one_item_is_used_is_named_in_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from doodle import api
    from doodle.maps.regions import RegionMasks

    monkeypatch.setattr(api, "load_network", lambda *args, **kwargs: tiny_network())
    masks = RegionMasks(two_regions(40, 40, 20), torch.eye(3)[:2])
    two_targets = RegionMasks(masks.masks.repeat(2, 1, 1, 1), masks.palette)
    with caplog.at_level(logging.WARNING, logger="doodle.api"):
        result = optimize_via_api(api, "tiny", torch.rand(1, 40, 40, 3), masks, two_targets, iterations=1)
    assert result.shape == (1, 40, 40, 3)
    assert "target_masks holds 2 items: only the first is used" in caplog.text


def test_init_synthesis_starts_from_the_paintings_own_strokes() -> None:
    """The style's blue half carries a stripe pattern: a synthesis start has it from the first iteration on, a
    region-mean start is flat there and one iteration cannot paint it."""
    network, style = tiny_network(), style_image()
    masks = two_regions(40, 40, 20)
    target = two_regions(32, 48, 30)
    stripes = {}
    for init in ("synthesis", "style-mean"):
        image = paint(network, style, masks, target, iterations=1, seed=0, init=init)
        blue = image[0, 2, 4:-4, 34:-4]
        stripes[init] = float((blue[:, 1:] - blue[:, :-1]).abs().mean())
    painting = style[0, 2, :, 20:]
    own = float((painting[:, 1:] - painting[:, :-1]).abs().mean())
    assert stripes["synthesis"] > 0.5 * own > stripes["style-mean"], stripes


def test_a_weight_that_overflows_the_loss_stops_at_its_first_evaluation_and_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evaluations = []
    real = DoodleObjective.__call__
    monkeypatch.setattr(DoodleObjective, "__call__", lambda self, image: evaluations.append(1) or real(self, image))
    masks = two_regions(40, 40, 20)
    with pytest.raises(DoodleError, match=r"diverged \(loss is not finite\): lower patch_weight \(1e\+308\)"):
        paint(tiny_network(), style_image(), masks, masks, iterations=5, patch_weight=1e308)
    assert len(evaluations) == 1
