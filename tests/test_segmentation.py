"""A style map from any painting: each step against a small direct computation, then whole segmentations of
synthetic paintings whose regions differ only in texture, the CLI, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from doodle import api, cli
from doodle.errors import DoodleError
from doodle.maps.colormap import MERGE_DISTANCE, masks_from_colors
from doodle.neural.networks import find_network_file
from doodle.segmentation import SegmentationSettings, segment_painting
from doodle.segmentation.features import srgb_to_lab, unit_spread
from doodle.segmentation.segment import by_area, majority_vote, upsampled
from doodle.segmentation.settings import MAX_REGIONS
from tests.helpers import region_overlaps, texture_painting

NO_NETWORK = SegmentationSettings(regions=3, network_features=False)


def mean_iou(truth: np.ndarray, found: np.ndarray) -> float:
    return float(region_overlaps(truth, found).mean())


def test_lab_matches_the_cie_reference_values() -> None:
    rgb = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    expected = np.array([[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [0.0, 0.0, 0.0]])  # CIE L*a*b* (D65) tables
    np.testing.assert_allclose(srgb_to_lab(rgb), expected, atol=0.1)


def test_unit_spread_centres_and_scales_all_channels_together() -> None:
    feature = np.random.default_rng(0).normal(3.0, [1.0, 5.0], size=(40, 50, 2))
    spread = unit_spread(feature)
    np.testing.assert_allclose(spread.reshape(-1, 2).mean(0), 0.0, atol=1e-9)
    assert (spread**2).sum(-1).mean() == pytest.approx(1.0)
    ratio = spread[..., 1].std() / spread[..., 0].std()
    assert ratio == pytest.approx(feature[..., 1].std() / feature[..., 0].std())  # one scale for the kind


def test_majority_vote_is_the_commonest_label_in_each_window() -> None:
    labels = np.random.default_rng(1).integers(0, 3, size=(9, 11))
    voted = majority_vote(labels, 1)
    padded = np.pad(labels, 1, mode="reflect")
    for y, x in [(4, 5), (2, 7), (6, 3)]:  # inside pixels, where no padding rule matters
        window = padded[y : y + 3, x : x + 3].ravel()
        counts = np.bincount(window, minlength=3)
        if (counts == counts.max()).sum() == 1:
            assert voted[y, x] == counts.argmax()
    assert majority_vote(labels, 0) is labels


def test_by_area_numbers_regions_from_the_largest_and_closes_gaps() -> None:
    labels = np.array([[5, 5, 5, 2], [5, 2, 9, 9], [9, 9, 9, 9]])
    np.testing.assert_array_equal(by_area(labels), [[1, 1, 1, 2], [1, 2, 0, 0], [0, 0, 0, 0]])


def test_upsampled_keeps_each_region_and_scales_its_area() -> None:
    labels = np.zeros((8, 8), np.int64)
    labels[2:6, 2:6] = 1
    big = upsampled(labels, (32, 32))
    assert set(np.unique(big)) == {0, 1}
    assert (big == 1).mean() == pytest.approx((labels == 1).mean(), abs=0.02)
    assert upsampled(labels, (8, 8)) is labels


def test_without_a_network_texture_regions_are_mostly_found() -> None:
    painting, truth = texture_painting()
    assert mean_iou(truth, segment_painting(painting, NO_NETWORK)) >= 0.8


@pytest.mark.skipif(find_network_file("vgg16-hed") is None, reason="the offline network is not on disk")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_network_features_regions_that_differ_only_in_texture_are_found(seed: int) -> None:
    painting, truth = texture_painting(384, 512, seed)
    painting = (painting * 255).round() / 255  # as read from a PNG
    settings = SegmentationSettings(regions=3)
    network = api.load_network("vgg16-hed")
    found = segment_painting(painting, settings, network)
    assert mean_iou(truth, found) >= 0.9
    np.testing.assert_array_equal(found, segment_painting(painting, settings, network))  # the same seed, the same map


def test_no_island_is_smaller_than_min_region() -> None:
    painting, _ = texture_painting(seed=5)
    settings = SegmentationSettings(regions=6, network_features=False, min_region=3.0, smoothness=0.0)
    found = segment_painting(painting, settings)
    for region in np.unique(found):
        pieces, count = ndimage.label(found == region)
        sizes = np.bincount(pieces.ravel())[1:]
        assert sizes.min() >= 0.03 * found.size


def test_the_map_reads_back_exactly_as_its_regions() -> None:
    painting, _ = texture_painting()
    image = painting.permute(1, 2, 0)[None]
    masks = api.style_map_from_painting(image, NO_NETWORK)
    palette = masks.palette * 255
    distances = torch.cdist(palette, palette) + torch.eye(len(palette)) * 1e9
    assert distances.min() > 2 * MERGE_DISTANCE  # well separated: never read as one colour
    flat = (masks.preview() * 255).round() / 255  # as a PNG holds it
    read = masks_from_colors(flat, n_colors=masks.n_regions, palette_from=masks)
    torch.testing.assert_close(read.masks, masks.masks)


@pytest.mark.parametrize("channels", [1, 4])
def test_grey_and_rgba_paintings_are_read_as_their_colors(channels: int) -> None:
    painting, truth = texture_painting()
    image = painting.permute(1, 2, 0)[None]
    image = image[..., :1] if channels == 1 else torch.cat([image, torch.rand_like(image[..., :1])], -1)
    masks = api.style_map_from_painting(image, NO_NETWORK)
    assert masks.size == truth.shape
    assert mean_iou(truth, masks.labels()[0].numpy()) >= 0.8


def test_a_large_painting_is_segmented_at_its_own_size() -> None:
    painting, truth = texture_painting(height=96, width=128)
    large = torch.nn.functional.interpolate(painting[None], size=(3072, 4096), mode="nearest")[0]
    found = segment_painting(large, NO_NETWORK)
    assert found.shape == (3072, 4096)
    small_truth = np.asarray(Image.fromarray(found.astype(np.uint8)).resize((128, 96), Image.NEAREST))
    assert mean_iou(truth, small_truth) >= 0.85


def test_bad_requests_are_refused_before_any_work() -> None:
    with pytest.raises(DoodleError, match="too small for 5 regions"):
        segment_painting(torch.rand(3, 20, 20), SegmentationSettings(regions=5))
    with pytest.raises(DoodleError, match=f"regions must be a whole number between 2 and {MAX_REGIONS}"):
        SegmentationSettings(regions=MAX_REGIONS + 1)
    with pytest.raises(DoodleError, match="network_features must be True or False"):
        SegmentationSettings(network_features=1)
    with pytest.raises(DoodleError, match="over 16,777,216 pixels"):
        segment_painting(torch.zeros(3, 1, 1).expand(3, 4097, 4096), NO_NETWORK)
    with pytest.raises(DoodleError, match="painting must be"):
        api.style_map_from_painting(torch.rand(1, 3, 32, 32), NO_NETWORK)  # channels first


def test_cli_writes_a_map_mask_from_colors_reads_with_the_regions_asked(tmp_path) -> None:
    painting, truth = texture_painting()
    source = tmp_path / "painting.png"
    Image.fromarray((painting.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(source)
    output = tmp_path / "map.png"
    assert cli.main(["segment", str(source), "--regions", "3", "--no-network-features", "-o", str(output)]) == 0
    read = masks_from_colors(torch.from_numpy(np.asarray(Image.open(output), np.float32) / 255)[None])
    assert read.n_regions == 3
    assert mean_iou(truth, read.labels()[0].numpy()) >= 0.8
    assert cli.main(["segment", str(source), "--regions", "3", "-o", str(source)]) != 0  # never over its input
