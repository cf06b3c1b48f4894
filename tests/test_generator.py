"""The generator: any size, deterministic, tile-consistent noise, seamless tiled rendering."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from doodle import api
from doodle.errors import DoodleError
from doodle.generator.file import GeneratorBundle
from doodle.generator.model import (
    DoodleGenerator,
    GeneratorConfig,
    RegionModulation,
    conv_block,
    grown,
    hashed_noise,
    run_block,
)
from doodle.generator.render import RenderSettings, render
from doodle.maps.random_masks import MaskShape, random_masks
from doodle.maps.regions import RegionMasks
from tests.helpers import painted_map


def small_bundle(
    regions: int = 3, levels: int = 4, modulated: bool = False, normalization: str = "none"
) -> GeneratorBundle:
    """A random small generator; ``modulated`` with random (not zero) region modulation, batch-normalised
    with random running statistics."""
    torch.manual_seed(0)
    config = GeneratorConfig(
        regions, levels=levels, widths=(8,) * levels, noise_channels=4, modulated=modulated, normalization=normalization
    )
    model = DoodleGenerator(config)
    if modulated:
        for name, parameter in model.named_parameters():
            if "modulations" in name:
                torch.nn.init.normal_(parameter, std=0.3)
    for layer in model.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.running_mean.normal_(std=0.1)
            layer.running_var.uniform_(0.5, 2)
    return GeneratorBundle(model.eval(), torch.rand(regions, 3), "vgg16-hed", name="small")


@pytest.mark.parametrize(("height", "width"), [(37, 53), (8, 8), (1, 70), (64, 48)])
def test_any_size_renders_to_that_size(height: int, width: int) -> None:
    masks = random_masks(width, height, 3, seed=0, shape=MaskShape(smoothing=0, min_piece=0)).masks
    image = render(small_bundle(), masks, seed=1, settings=RenderSettings(tile_size=0))
    assert image.shape == (1, 3, height, width)
    assert torch.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


def test_same_seed_same_image_other_seed_other_image() -> None:
    bundle, masks = small_bundle(), random_masks(40, 40, 3, seed=0).masks
    first = render(bundle, masks, seed=5)
    assert torch.equal(first, render(bundle, masks, seed=5))
    assert (first - render(bundle, masks, seed=6)).abs().max() > 1e-5


def test_noise_of_a_tile_is_the_slice_of_the_whole_images_noise() -> None:
    whole = hashed_noise(2**40 + 7, (2, 3, 48, 64), level=1, offset=(0, 0), first_image=0, device="cpu")
    tile = hashed_noise(2**40 + 7, (1, 3, 16, 32), level=1, offset=(16, 32), first_image=1, device="cpu")
    assert torch.equal(tile, whole[1:2, :, 16:32, 32:64])
    assert -1 <= whole.min() < -0.9 and 0.9 < whole.max() < 1
    assert abs(float(whole.mean())) < 0.05


@pytest.mark.parametrize(
    ("levels", "width", "modulated", "normalization"),
    [(4, 300, False, "none"), (6, 700, False, "none"), (4, 300, True, "none"), (4, 300, True, "batch")],
)
def test_tiled_render_equals_the_whole_render(levels: int, width: int, modulated: bool, normalization: str) -> None:
    """The tile margin grows with the levels: six reach twice as far as five (the image is wider than a
    tile and its margins, so the margin is what is tested). Batch normalisation renders with its running
    statistics, the same for every tile."""
    bundle = small_bundle(levels=levels, modulated=modulated, normalization=normalization)
    masks = random_masks(width, 170, 3, seed=2).masks
    whole = render(bundle, masks, seed=3, settings=RenderSettings(tile_size=0))
    tiled = render(bundle, masks, seed=3, settings=RenderSettings(tile_size=64))
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("levels", "widths"), [(3, (24, 32, 32)), (5, (24, 32, 32, 48, 64)), (7, (24, 32, 32, 48, 64, 64, 64))]
)
def test_default_architecture_with_any_number_of_levels(levels: int, widths: tuple[int, ...]) -> None:
    config = GeneratorConfig.with_levels(4, levels)
    assert (config.levels, config.widths, config.multiple) == (levels, widths, 2 ** (levels - 1))
    assert GeneratorConfig.with_levels(4) == GeneratorConfig(4, levels=5, modulated=True)


@pytest.mark.parametrize(("levels", "more"), [(1, 2), (3, 5)])
def test_a_grown_generator_renders_what_it_grew_from_and_its_new_levels_learn(levels: int, more: int) -> None:
    model = small_bundle(levels=levels).model
    bigger = grown(model, more, seed=0)
    assert bigger.config == GeneratorConfig(3, levels=more, widths=(8,) * more, noise_channels=4)
    masks = random_masks(96, 64, 3, seed=4, batch_size=2).masks  # sides a multiple of the new padding: same pad
    with torch.no_grad():
        torch.testing.assert_close(bigger(masks, seed=2), model(masks, seed=2), atol=1e-5, rtol=0)
    bigger(masks, seed=2).square().mean().backward()
    new_input = bigger.inputs[more - 1][0].weight.grad
    join_weights_on_new_levels = bigger.joins[levels - 1][0].weight.grad[:, 8:]
    assert new_input is not None and new_input.abs().sum() == 0  # sealed off at first by zero weights,
    assert join_weights_on_new_levels.abs().sum() > 0  # which learn, and so open it
    with pytest.raises(ValueError, match="cannot shrink"):
        grown(bigger, levels, seed=0)


def test_modulation_scales_and_shifts_each_convolution_per_region() -> None:
    """Against a direct computation: one block, masks of two regions, a region's own scale and shift."""
    modulation = RegionModulation(2, 3)
    torch.nn.init.normal_(modulation.map.weight)
    block = conv_block(2, 3)
    masks = torch.zeros(1, 2, 6, 7)
    masks[0, 0, :, :4] = 1
    masks[0, 1] = 1 - masks[0, 0]
    x = torch.randn(1, 2, 6, 7)
    expected = x
    weights = modulation.map.weight[:, :, 0, 0]  # [2 * 3 convs * 3 channels, 2 regions]
    for index, layer in enumerate(block):
        expected = layer(expected)
        if isinstance(layer, torch.nn.Conv2d):
            conv = index // 2
            scale = torch.einsum("cr,brhw->bchw", weights[6 * conv : 6 * conv + 3], masks)
            shift = torch.einsum("cr,brhw->bchw", weights[6 * conv + 3 : 6 * conv + 6], masks)
            expected = expected * (1 + scale) + shift
    torch.testing.assert_close(run_block(block, x, modulation(masks)), expected)


def test_a_generator_given_modulation_renders_as_before_until_it_learns() -> None:
    model = small_bundle().model
    modulated = grown(model, model.config.levels, seed=0, modulated=True)
    assert modulated.config.modulated and not model.config.modulated
    masks = random_masks(64, 48, 3, seed=1).masks
    with torch.no_grad():
        torch.testing.assert_close(modulated(masks, seed=2), model(masks, seed=2), atol=1e-6, rtol=0)
    modulated(masks, seed=2).square().mean().backward()
    assert modulated.join_modulations[0].map.weight.grad.abs().sum() > 0
    assert grown(modulated, 5, seed=0).config.modulated, "growing levels keeps the modulation"


def test_batch_normalisation_normalises_each_convolution_before_its_modulation() -> None:
    """Against a direct computation: in training, each channel of a convolution's output has zero mean and
    unit variance over the batch (the layer's initial affine is the identity) before the region's scale and
    shift; in eval mode the running statistics are used instead."""
    modulation = RegionModulation(2, 3)
    torch.nn.init.normal_(modulation.map.weight)
    block = conv_block(2, 3, normalized=True)
    masks = torch.zeros(2, 2, 6, 7)
    masks[:, 0, :, :4] = 1
    masks[:, 1] = 1 - masks[:, 0]
    x = torch.randn(2, 2, 6, 7)
    weights = modulation.map.weight[:, :, 0, 0]
    convs = [layer for layer in block if isinstance(layer, torch.nn.Conv2d)]
    for training in (True, False):
        block.train(training)
        expected = x
        for index, conv in enumerate(convs):
            out = conv(expected)
            if training:
                mean, var = out.mean(dim=(0, 2, 3), keepdim=True), out.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
            else:
                norm = block[3 * index + 1]
                mean, var = norm.running_mean.view(1, -1, 1, 1), norm.running_var.view(1, -1, 1, 1)
            out = (out - mean) / (var + 1e-5).sqrt()
            scale = torch.einsum("cr,brhw->bchw", weights[6 * index : 6 * index + 3], masks)
            shift = torch.einsum("cr,brhw->bchw", weights[6 * index + 3 : 6 * index + 6], masks)
            expected = F.leaky_relu(out * (1 + scale) + shift, 0.1)
        torch.testing.assert_close(run_block(block, x, modulation(masks)), expected)


def test_a_batch_normalised_generator_normalises_every_convolution_but_the_one_reading_the_noise() -> None:
    model = small_bundle(normalization="batch").model
    for blocks, unnormalised in ((model.inputs, [0]), (model.joins, [])):
        for block in blocks:
            layers = list(block)
            convs = [index for index, layer in enumerate(layers) if isinstance(layer, torch.nn.Conv2d)]
            normalised = [i for i, index in enumerate(convs) if isinstance(layers[index + 1], torch.nn.BatchNorm2d)]
            assert normalised == [i for i in range(len(convs)) if i not in unnormalised]


def test_a_batch_normalised_generator_cannot_grow_levels() -> None:
    model = small_bundle(normalization="batch").model
    assert grown(model, model.config.levels, seed=0).config.normalization == "batch"
    with pytest.raises(ValueError, match="normalised generator cannot grow"):
        grown(model, model.config.levels + 1, seed=0)


def test_batch_images_get_their_own_noise() -> None:
    masks = random_masks(32, 32, 3, seed=0).masks.expand(2, -1, -1, -1)
    images = render(small_bundle(), masks, seed=0)
    assert (images[0] - images[1]).abs().max() > 1e-5


@pytest.mark.parametrize(
    ("masks", "tile", "message"),
    [
        (torch.zeros(1, 4, 8, 8), 0, "the masks have 4 regions but generator small has 3"),
        (torch.zeros(1, 3, 3000, 3000), 0, "too large to render in one piece"),
        (torch.zeros(1, 3, 8, 8), -1, "tile_size"),
        (torch.zeros(1, 3, 1, 1).expand(-1, -1, 8200, 8200), 10**5, "in pieces of 8200x8200, more than 8192x8192"),
        (torch.full((1, 3, 8, 8), float("nan")), 0, "NaN"),
    ],
)
def test_bad_render_requests_get_clear_messages(masks: torch.Tensor, tile: int, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        render(small_bundle(), masks, settings=RenderSettings(tile_size=tile))


def test_reflection_padding_everywhere() -> None:
    convs = [m for m in small_bundle().model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    assert convs and all(conv.padding_mode == "reflect" for conv in convs)


def test_masks_in_another_region_order_render_by_color() -> None:
    bundle = small_bundle()
    masks = random_masks(40, 30, 3, seed=2, palette=bundle.palette)
    reordered = RegionMasks(masks.masks[:, [1, 2, 0]], bundle.palette[[1, 2, 0]])
    expected = api.render_image(bundle, 3, masks=masks)
    assert torch.equal(api.render_image(bundle, 3, masks=reordered), expected)
    assert not torch.equal(api.render_image(bundle, 3, masks=RegionMasks(reordered.masks, bundle.palette)), expected)


def test_a_doodle_or_masks_with_more_regions_than_the_generator_name_it() -> None:
    labels = np.repeat(np.arange(4), 10)[None, :].repeat(12, axis=0)
    doodle = painted_map(labels, [(255, 255, 255), (255, 0, 0), (0, 0, 255), (0, 255, 0)], blur=False)
    with pytest.raises(DoodleError, match=r"4 painted colours .* but generator small has only 3 regions"):
        api.render_image(small_bundle(), 0, doodle=doodle)
    masks = RegionMasks.from_labels(torch.from_numpy(labels)[None], torch.eye(4, 3))
    with pytest.raises(DoodleError, match="the masks have 4 regions but generator small has 3"):
        api.render_image(small_bundle(), 0, masks=masks)


def test_batch_size_copies_one_doodle_and_is_named_unused_for_several(caplog: pytest.LogCaptureFixture) -> None:
    bundle = small_bundle()
    one = random_masks(24, 16, 3, seed=1, palette=bundle.palette)
    assert api.render_image(bundle, 0, masks=one, batch_size=3).shape == (3, 16, 24, 3)
    two = RegionMasks(one.masks.repeat(2, 1, 1, 1), one.palette)
    with caplog.at_level(logging.WARNING, logger="doodle.api"):
        assert api.render_image(bundle, 0, masks=two, batch_size=3).shape == (2, 16, 24, 3)
    assert "hold 2 doodles" in caplog.text


@pytest.mark.parametrize("damage", ["huge", "flat"])
def test_a_render_that_is_not_finite_or_one_flat_color_over_several_regions_is_refused(damage: str) -> None:
    bundle = small_bundle()
    with torch.no_grad():
        if damage == "huge":  # finite weights whose render overflows
            for parameter in bundle.model.parameters():
                parameter.mul_(1e30)
        else:  # the last layer paints black everywhere
            bundle.model.to_rgb.weight.zero_()
            bundle.model.to_rgb.bias.fill_(-1.0)
    masks = random_masks(40, 32, 3, seed=0).masks
    with pytest.raises(DoodleError, match="painted .*: its weights are damaged or far out of range"):
        render(bundle, masks, settings=RenderSettings(tile_size=16))
    if damage == "flat":  # one region painted one colour is what it should be
        one_region = torch.zeros_like(masks)
        one_region[:, 1] = 1
        assert render(bundle, one_region).unique().tolist() == [0.0]
