"""The API reads images one way, everywhere: a float IMAGE ``[B, H, W, C]`` in 0..1. Anything else is refused
with one message before a network loads, never misread (issue 26: 0..255 maps merged regions, a 0..255 style
optimised to white, a channels-first content image was stretched)."""

from __future__ import annotations

import pytest
import torch

from doodle import api
from doodle.errors import DoodleError
from doodle.maps.regions import RegionMasks
from tests.test_generator import small_bundle

PALETTE = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def good_image() -> torch.Tensor:
    labels = torch.arange(24).repeat(24, 1) * 3 // 24
    return PALETTE[labels][None]  # [1, 24, 24, 3]: three stripes of palette colours


BAD_IMAGES = {
    "uint8 0..255": (lambda: (good_image() * 255).to(torch.uint8), "holds torch.uint8 values"),
    "float 0..255": (lambda: good_image() * 255, "has values from 0 to 255, not 0..1"),
    "channels-first": (lambda: good_image().permute(0, 3, 1, 2), "it looks channels-first"),
    "not finite": (lambda: good_image().index_fill(1, torch.tensor([0]), float("nan")), "NaN or infinite"),
    "no batch axis of three": (lambda: good_image()[0, :, :, 0], "must be \\[batch, height, width"),
}


def masks() -> RegionMasks:
    return api.masks_from_colors(good_image())


TINY = api.NetworkChoice("tiny")


def good_style() -> api.Style:
    return api.Style(good_image(), masks())


CALLS = {
    "masks_from_colors": lambda image: api.masks_from_colors(image),
    "render_image doodle": lambda image: api.render_image(small_bundle(), 0, doodle=image),
    "optimize_image style": lambda image: api.optimize_image(api.Style(image, masks()), masks(), network_choice=TINY),
    "optimize_image content": lambda image: api.optimize_image(
        good_style(), masks(), api.OptimizeSettings(content_weight=1.0), network_choice=TINY, content_image=image
    ),
    "optimize_image init": lambda image: api.optimize_image(
        good_style(), masks(), network_choice=TINY, init_image=image
    ),
    "train_style style": lambda image: api.train_style(
        api.Style(image, masks()), api.TrainSettings(steps=1, size=32), network_choice=TINY
    ),
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args, **kwargs):
        pytest.fail("a network was loaded for a bad image")

    monkeypatch.setattr(api, "load_network", refused)


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("kind", sorted(BAD_IMAGES))
def test_an_image_in_another_representation_is_refused_before_any_work(call: str, kind: str) -> None:
    make, message = BAD_IMAGES[kind]
    with pytest.raises(DoodleError, match=message):
        CALLS[call](make())


def test_the_same_map_as_floats_reads_its_three_regions() -> None:
    assert masks().n_regions == 3 and masks().masks.sum(dim=(0, 2, 3)).tolist() == [192.0, 192.0, 192.0]


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m * 0.5,  # soft
        lambda m: m.clamp_min(0.0) + torch.nn.functional.one_hot(torch.zeros(1, 8, 8).long(), 3).permute(0, 3, 1, 2),
        lambda m: torch.zeros_like(m),  # no region
    ],
)
def test_masks_to_render_must_be_one_hot(edit) -> None:
    one_hot = torch.nn.functional.one_hot(torch.arange(64).reshape(1, 8, 8) % 3, 3).permute(0, 3, 1, 2).float()
    bundle = small_bundle()
    api.render_image(bundle, 0, masks=RegionMasks(one_hot, bundle.palette))
    with pytest.raises(DoodleError, match="masks must be one-hot"):
        api.render_image(bundle, 0, masks=RegionMasks(edit(one_hot), bundle.palette))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (
            lambda value: api.train_style(good_style(), api.TrainSettings(steps=1), network_choice=TINY, resume=value),
            "resume_from",
        ),
        (lambda value: api.render_image(value, 0, doodle=good_image()), "generator"),
    ],
)
def test_a_file_name_where_a_generator_goes_is_refused_before_any_work(call, name: str) -> None:
    """What ComfyUI's /prompt passes on when a string is sent to a generator input."""
    with pytest.raises(DoodleError, match=f"{name} must be a loaded generator .*got str 'monet.safetensors'"):
        call("monet.safetensors")
