"""Property tests over random colour maps, masks and sizes: always one-hot, always our error type."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from doodle.errors import DoodleError
from doodle.generator.render import RenderSettings, render
from doodle.maps.colormap import masks_from_colors
from doodle.maps.random_masks import MaskShape, random_masks
from tests.helpers import Outcomes
from tests.test_generator import small_bundle

REQUIRED_SHARE = 0.2
"""Of each property's generated cases, at least this share must get past the refusals to be checked."""

colors = st.tuples(*[st.integers(0, 255)] * 3)


@st.composite
def color_maps(draw) -> torch.Tensor:
    height, width = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    palette = np.array(draw(st.lists(colors, min_size=1, max_size=6)), dtype=np.float32)
    block = draw(st.integers(1, 6))
    labels = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, len(palette), (height, width))
    labels = labels // block * block % len(palette)
    image = palette[labels] / 255
    if draw(st.booleans()):
        alpha = np.ones((height, width, 1), dtype=np.float32) * draw(st.sampled_from([0.0, 0.5, 1.0]))
        image = np.concatenate([image, alpha], axis=2)
    return torch.from_numpy(image)[None]


def test_color_maps_give_one_hot_masks_or_our_error() -> None:
    outcomes = Outcomes()

    @settings(max_examples=80, deadline=None)
    @given(image=color_maps(), n_colors=st.integers(0, 7))
    def check(image: torch.Tensor, n_colors: int) -> None:
        try:
            masks = masks_from_colors(image, n_colors)
        except DoodleError:
            return outcomes.refuse()
        outcomes.check()
        assert masks.masks.shape == (1, masks.n_regions, *image.shape[1:3])
        assert torch.equal(masks.masks.sum(dim=1), torch.ones(1, *image.shape[1:3]))
        assert ((masks.masks == 0) | (masks.masks == 1)).all()
        assert n_colors in (0, masks.n_regions)
        assert (masks.palette >= 0).all() and (masks.palette <= 1).all()

    check()
    outcomes.require(REQUIRED_SHARE)


def test_palette_from_keeps_the_reference_palette_or_raises_our_error() -> None:
    outcomes = Outcomes()

    @settings(max_examples=40, deadline=None)
    @given(style=color_maps(), doodle=color_maps())
    def check(style: torch.Tensor, doodle: torch.Tensor) -> None:
        try:
            reference = masks_from_colors(style)
            masks = masks_from_colors(doodle, palette_from=reference)
        except DoodleError:
            return outcomes.refuse()
        outcomes.check()
        assert torch.equal(masks.palette, reference.palette)
        assert torch.equal(masks.masks.sum(dim=1), torch.ones(1, *doodle.shape[1:3]))

    check()
    outcomes.require(REQUIRED_SHARE)


def test_rendering_returns_the_requested_size_with_finite_values() -> None:
    outcomes = Outcomes()

    @settings(max_examples=25, deadline=None)
    @given(
        width=st.integers(1, 90),
        height=st.integers(1, 90),
        regions=st.integers(1, 4),
        seed=st.integers(0, 2**64 - 1),
        tile=st.sampled_from([0, 16, 48]),
    )
    def check(width: int, height: int, regions: int, seed: int, tile: int) -> None:
        try:
            masks = random_masks(width, height, regions, seed=seed, shape=MaskShape(smoothing=3, min_piece=0))
        except DoodleError:
            return outcomes.refuse()
        outcomes.check()
        bundle = small_bundle(regions)
        image = render(bundle, masks.masks, seed=seed, settings=RenderSettings(tile_size=tile))
        assert image.shape == (1, 3, height, width)
        assert torch.isfinite(image).all() and image.min() >= 0 and image.max() <= 1

    check()
    outcomes.require(REQUIRED_SHARE)
