"""Random masks: reproducible, every region present, no specks, roughness matters; the filter's maths."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from scipy import ndimage

from doodle.errors import DoodleError
from doodle.maps.random_masks import (
    MaskShape,
    kmeans_1d,
    median_filter_ordered,
    quantile_bands,
    random_masks,
    training_masks,
)


def test_same_seed_same_masks_other_seed_other_masks() -> None:
    first = random_masks(96, 64, 4, seed=3, batch_size=2)
    assert torch.equal(first.masks, random_masks(96, 64, 4, seed=3, batch_size=2).masks)
    assert not torch.equal(first.masks, random_masks(96, 64, 4, seed=4, batch_size=2).masks)


@pytest.mark.parametrize(("width", "height", "regions"), [(64, 64, 5), (129, 37, 3), (200, 90, 6), (17, 300, 2)])
def test_every_region_present_and_no_specks(width: int, height: int, regions: int) -> None:
    min_piece = 0.02
    masks = random_masks(
        width, height, regions, seed=11, batch_size=6, shape=MaskShape(min_piece=min_piece, smoothing=7)
    )
    assert masks.masks.shape == (6, regions, height, width)
    assert torch.equal(masks.masks.sum(dim=1), torch.ones(6, height, width))
    for labels in masks.labels().numpy():
        assert set(np.unique(labels)) == set(range(regions))
        for region in range(regions):
            pieces, count = ndimage.label(labels == region)
            sizes = np.bincount(pieces.ravel())[1:]
            assert sizes.min() >= min_piece * width * height


def boundary_length(labels: np.ndarray) -> int:
    return int((labels[:, 1:] != labels[:, :-1]).sum() + (labels[1:] != labels[:-1]).sum())


def flat(roughness: float) -> MaskShape:
    """Only the heights' roughness shapes the coast: no filter, no absorbed pieces."""
    return MaskShape(roughness=roughness, smoothing=0, min_piece=0)


def test_roughness_visibly_changes_the_coastline() -> None:
    smooth = random_masks(128, 128, 3, seed=1, batch_size=8, shape=flat(0.2)).labels().numpy()
    rough = random_masks(128, 128, 3, seed=1, batch_size=8, shape=flat(0.9)).labels().numpy()
    assert np.mean([boundary_length(x) for x in rough]) > 1.5 * np.mean([boundary_length(x) for x in smooth])


def test_median_filter_by_thresholds_equals_a_direct_median_filter() -> None:
    rng = np.random.default_rng(0)
    labels = ndimage.zoom(rng.integers(0, 4, (8, 10)), 4, order=0)[:30, :37]
    labels = np.where(rng.random(labels.shape) < 0.1, rng.integers(0, 4, labels.shape), labels)
    radius = 3
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = yy**2 + xx**2 <= radius**2
    expected = ndimage.median_filter(labels, footprint=disk, mode="nearest")
    assert np.array_equal(median_filter_ordered(labels, 4, 2 * radius + 1), expected)


def test_kmeans_1d_is_a_fixed_point_with_labels_ordered_by_height() -> None:
    values = np.concatenate([np.random.default_rng(1).normal(m, 0.1, 500) for m in (-1.0, 0.2, 1.5)])
    labels = kmeans_1d(values, 3)
    centres = np.array([values[labels == k].mean() for k in range(3)])
    assert np.all(np.diff(centres) > 0)
    nearest = np.abs(values[:, None] - centres[None]).argmin(axis=1)
    assert (nearest == labels).mean() > 0.995


def test_quantile_bands_give_each_band_its_share_in_height_order() -> None:
    values = np.random.default_rng(2).normal(size=(100, 100))
    shares = np.array([0.5, 0.1, 0.15, 0.25])
    labels = quantile_bands(values, shares)
    assert np.allclose(np.bincount(labels.ravel(), minlength=4) / labels.size, shares, atol=1e-3)
    highest = [values[labels == k].max() for k in range(3)]
    lowest = [values[labels == k].min() for k in range(1, 4)]
    assert all(high <= low for high, low in zip(highest, lowest, strict=True))


def test_equal_training_masks_give_every_region_a_fair_share_in_every_mask() -> None:
    masks = training_masks(64, 5, 16, np.random.default_rng(0), "equal")
    areas = masks.mean(dim=(2, 3))
    assert areas.min() >= 0.5 / 5 - 1e-6
    assert torch.equal(masks.sum(dim=1), torch.ones(16, 64, 64))


def test_varied_training_masks_make_every_region_sometimes_the_big_one() -> None:
    """Over training (not within a mask) areas are fair, and each region is sometimes most of the picture."""
    areas = training_masks(64, 5, 120, np.random.default_rng(0), "varied").mean(dim=(2, 3))
    assert torch.allclose(areas.mean(dim=0), torch.full((5,), 0.2), atol=0.04)
    assert ((areas > 0.4).sum(dim=0) >= 4).all()
    assert (areas.max(dim=1).values > 0.4).float().mean() > 0.25


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"width": 0}, "width and height"),
        ({"n_regions": 0}, "n_regions"),
        ({"batch_size": 0}, "batch_size"),
        ({"width": 100000, "height": 100000}, "too large"),
        ({"width": 32000, "height": 2050}, "too large"),  # within the pixels, but its height grid is not
        ({"width": 2, "height": 1}, "2x1 is too small for 3 regions: make width and height larger"),
        ({"shape": MaskShape(min_piece=0.5)}, "n_regions must be at most 1 where every region keeps at least 0.5"),
        ({"n_regions": 1000}, "n_regions must be at most 49 where every region keeps at least 0.02 of the image"),
    ],
)
def test_bad_parameters_get_clear_messages(kwargs: dict, message: str) -> None:
    arguments = {"width": 32, "height": 32, "n_regions": 3, "seed": 0} | kwargs
    with pytest.raises(DoodleError, match=message):
        random_masks(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"roughness": 1.5}, "roughness"), ({"smoothing": -1}, "smoothing"), ({"min_piece": -0.1}, "min_piece")],
)
def test_a_bad_shape_is_refused_when_made(kwargs: dict, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        MaskShape(**kwargs)


def test_impossible_region_count_is_refused_not_looped_forever() -> None:
    with pytest.raises(DoodleError, match="could not fit"):
        random_masks(8, 8, 7, seed=0, shape=MaskShape(smoothing=7, min_piece=0.1))


def test_reference_sampling_starves_regions_and_never_makes_one_big() -> None:
    """The reference sampling (kept for the balance benchmark) really is the one the others improve on."""
    areas = {
        sampling: training_masks(64, 5, 32, np.random.default_rng(3), sampling).mean(dim=(2, 3))
        for sampling in ("reference", "equal", "varied")
    }
    assert areas["reference"].min() < 0.05 <= 0.1 - 1e-6 <= areas["equal"].min()
    assert areas["reference"].max() < 0.45 < areas["varied"].max()


def test_unknown_sampling_is_refused() -> None:
    with pytest.raises(DoodleError, match="mask_sampling must be one of varied, equal, reference"):
        training_masks(32, 3, 1, np.random.default_rng(0), "fair")


@pytest.mark.parametrize(("width", "height"), [(8192, 2), (3, 8192)])
def test_a_long_thin_map_costs_memory_for_its_own_pixels(width: int, height: int) -> None:
    """A map a few pixels thin once took a grid of its longer side squared (512 MiB here, 128 GiB at 100000x1)."""
    tracemalloc.start()
    try:
        masks = random_masks(width, height, 2, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert masks.masks.shape == (1, 2, height, width) and (masks.masks.sum(dim=(0, 2, 3)) > 0).all()
    assert peak < 16 * 2**20
