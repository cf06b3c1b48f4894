"""Colour maps to region masks: synthetic maps with known labels, the shipped maps, JPEG, bad input."""

from __future__ import annotations

import io
import logging
import re

import numpy as np
import pytest
import torch
from PIL import Image

from doodle.errors import DoodleError
from doodle.maps.colormap import FLAT_TOLERANCE, _flat_pixels, aligned_to_palette, masks_from_colors
from doodle.maps.regions import RegionMasks
from tests.helpers import EXAMPLES, load_rgb, painted_map

COLOURS = [(255, 255, 255), (255, 51, 31), (0, 0, 255), (0, 200, 0)]


def synthetic_labels(height: int = 60, width: int = 80) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width]
    labels = np.zeros((height, width), dtype=np.int64)
    labels[yy > height // 2] = 1
    labels[(xx - 20) ** 2 + (yy - 15) ** 2 < 100] = 2
    labels[(xx > 55) & (yy > 40)] = 3
    return labels


def interior(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood has one label: their region is not in doubt."""
    padded = np.pad(labels, 1, mode="edge")
    same = np.ones(labels.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            same &= padded[dy : dy + labels.shape[0], dx : dx + labels.shape[1]] == labels
    return same


def test_synthetic_map_with_antialiased_edges_gives_its_painted_regions() -> None:
    labels = synthetic_labels()
    masks = masks_from_colors(painted_map(labels, COLOURS))
    assert masks.n_regions == 4
    assert sorted(map(tuple, (masks.palette * 255).round().int().tolist())) == sorted(COLOURS)
    assert torch.equal(masks.masks.sum(dim=1), torch.ones(1, 60, 80)), "one-hot: each pixel in exactly one region"
    found = masks.labels()[0].numpy()
    palette = [tuple(c) for c in (masks.palette * 255).round().int().tolist()]
    expected = np.array([palette.index(COLOURS[label]) for label in range(4)])[labels]
    assert (found[interior(labels)] == expected[interior(labels)]).all()


@pytest.mark.parametrize(("name", "regions"), [("monet", 5), ("renoir", 4)])
def test_shipped_style_maps_have_their_painted_color_count(name: str, regions: int) -> None:
    image = load_rgb(EXAMPLES / name / "style_mask.png")
    distinct = len(np.unique((image[0] * 255).round().reshape(-1, 3).numpy(), axis=0))
    assert distinct > 100, "the map really is anti-aliased"
    assert masks_from_colors(image).n_regions == regions


def test_renoir_doodle_red_lands_in_the_style_maps_red_region() -> None:
    style = masks_from_colors(load_rgb(EXAMPLES / "renoir" / "style_mask.png"))
    doodle = load_rgb(EXAMPLES / "renoir" / "target_mask.png")
    target = masks_from_colors(doodle, palette_from=style)
    pixels = (doodle[0] * 255).round().int()
    doodle_red = (pixels == torch.tensor([254, 0, 0])).all(dim=-1)
    assert doodle_red.sum() > 1000
    style_red = int(torch.cdist(style.palette * 255, torch.tensor([[255.0, 51, 31]])).argmin())
    assert (target.labels()[0][doodle_red] == style_red).all()
    assert torch.equal(target.palette, style.palette)


@pytest.mark.parametrize("name", ["monet", "renoir"])
def test_jpeg_damaged_map_gives_nearly_the_same_masks(name: str, caplog: pytest.LogCaptureFixture) -> None:
    path = EXAMPLES / name / "style_mask.png"
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=75)
    jpeg = torch.from_numpy(np.array(Image.open(buffer), dtype=np.float32) / 255)[None]
    with caplog.at_level(logging.WARNING):
        from_png, from_jpeg = masks_from_colors(load_rgb(path)), masks_from_colors(jpeg)
    assert "within 48 of another" not in caplog.text, "JPEG noise is not a painted colour"
    assert from_jpeg.n_regions == from_png.n_regions
    aligned = masks_from_colors(jpeg, palette_from=from_png)
    agreement = (aligned.labels() == from_png.labels()).float().mean()
    assert agreement > 0.99


def test_explicit_count_matching_the_map_works_and_others_are_refused() -> None:
    image = painted_map(synthetic_labels(), COLOURS)
    assert masks_from_colors(image, n_colors=4).n_regions == 4
    with pytest.raises(DoodleError, match=r"has 4 painted colours but n_colors \(--colors\) is 3"):
        masks_from_colors(image, n_colors=3)
    with pytest.raises(DoodleError, match="asks for 6 regions but the map has only 4"):
        masks_from_colors(image, n_colors=6)


def test_palette_from_with_a_different_region_count_is_refused() -> None:
    image = painted_map(synthetic_labels(), COLOURS)
    style = masks_from_colors(image)
    with pytest.raises(DoodleError, match=r"n_colors \(--colors\) is 3 but palette_from has 4 regions"):
        masks_from_colors(image, n_colors=3, palette_from=style)
    three = RegionMasks(style.masks[:, :3], style.palette[:3])
    with pytest.raises(DoodleError, match="4 painted colours .* palette_from has only 3 regions"):
        masks_from_colors(image, palette_from=three)


def test_far_doodle_color_is_mapped_with_a_warning_naming_it(caplog: pytest.LogCaptureFixture) -> None:
    labels = synthetic_labels()
    style = masks_from_colors(painted_map(labels, COLOURS))
    doodle_colors = [*COLOURS[:3], (120, 0, 160)]
    with caplog.at_level(logging.WARNING):
        target = masks_from_colors(painted_map(labels, doodle_colors), palette_from=style)
    assert "(120,0,160)" in caplog.text and "around x=" in caplog.text
    green = [tuple(c) for c in (style.palette * 255).round().int().tolist()].index(COLOURS[3])
    far_pixels = torch.from_numpy(interior(labels) & (labels == 3))
    assert (target.labels()[0][far_pixels] == green).all(), "one-to-one matching gives it the only free region"


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (torch.zeros(1, 0, 5, 3), "empty"),
        (torch.zeros(0, 5, 5, 3), "empty"),
        (torch.zeros(1, 5, 5, 2), "1, 3 or 4 channels"),
        (torch.full((1, 5, 5, 3), float("nan")), "NaN"),
    ],
)
def test_bad_maps_get_clear_messages(image: torch.Tensor, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        masks_from_colors(image)


def test_batch_of_different_sizes_is_refused() -> None:
    with pytest.raises(DoodleError, match="must have one size"):
        masks_from_colors([torch.zeros(1, 5, 5, 3), torch.zeros(1, 6, 5, 3)])


def test_rgba_transparent_part_becomes_its_own_black_region_and_grey_maps_work() -> None:
    rgba = torch.ones(1, 20, 20, 4)
    rgba[:, :, 10:, 3] = 0
    masks = masks_from_colors(rgba)
    assert masks.n_regions == 2 and (masks.palette * 255).round().tolist() in (
        [[255] * 3, [0] * 3],
        [[0] * 3, [255] * 3],
    )
    grey = torch.zeros(1, 20, 20, 1)
    grey[:, 5:] = 0.5
    assert masks_from_colors(grey).n_regions == 2


def test_single_color_and_single_pixel_maps_are_one_region() -> None:
    assert masks_from_colors(torch.full((1, 8, 8, 3), 0.3)).n_regions == 1
    one = masks_from_colors(torch.full((1, 1, 1, 3), 0.3))
    assert one.n_regions == 1 and one.masks.shape == (1, 1, 1, 1)


def test_16_bit_png_map_loads_and_gives_its_regions(tmp_path) -> None:
    from doodle.files.image_io import load_image

    labels = synthetic_labels()
    grey = np.array([0, 20000, 45000, 65535], dtype=np.uint16)[labels]
    Image.fromarray(grey).save(tmp_path / "map16.png")
    image = load_image(tmp_path / "map16.png")
    assert image.shape == (1, 60, 80, 3)
    masks = masks_from_colors(image)
    assert masks.n_regions == 4
    found = masks.labels()[0].numpy()
    partners = [set(found[interior(labels) & (labels == k)]) for k in range(4)]
    assert all(len(p) == 1 for p in partners) and len(set.union(*partners)) == 4


def test_flat_pixels_are_those_whose_neighbours_all_lie_within_the_tolerance() -> None:
    rng = np.random.default_rng(0)
    steps = [0] * 12 + [FLAT_TOLERANCE // 2, FLAT_TOLERANCE, FLAT_TOLERANCE + 1]  # mostly flat, some edges
    rgb = (100 + rng.choice(steps, size=(2, 9, 11, 3))).astype(np.uint8)
    expected = np.zeros(rgb.shape[:3], dtype=bool)
    for b, y, x in np.ndindex(*rgb.shape[:3]):
        neighbours = [
            rgb[b, min(max(y + dy, 0), 8), min(max(x + dx, 0), 10)].astype(int)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        ]
        expected[b, y, x] = all(np.abs(n - rgb[b, y, x].astype(int)).max() <= FLAT_TOLERANCE for n in neighbours)
    assert 0 < expected.sum() < expected.size
    assert np.array_equal(_flat_pixels(rgb), expected)


def test_masks_made_without_palette_from_are_lined_up_with_a_palette_by_color() -> None:
    """MaskFromColors alone orders regions by area; a generator or style map knows them by colour."""
    palette = torch.tensor(COLOURS, dtype=torch.float32) / 255
    labels = torch.from_numpy(synthetic_labels())[None]
    ordered = RegionMasks.from_labels(labels, palette)
    order = [2, 0, 3, 1]  # the same map with its regions in another order and slightly other colours
    near = (palette[order] * 255 + torch.tensor([-1.0, 0.0, 2.0])).clamp(0, 255) / 255
    shuffled = RegionMasks(ordered.masks[:, order], near)
    aligned = aligned_to_palette(shuffled, palette)
    assert torch.equal(aligned.masks, ordered.masks) and torch.equal(aligned.palette, palette)
    assert torch.equal(aligned_to_palette(ordered, palette).masks, ordered.masks)
    with pytest.raises(DoodleError, match="masks have 4 regions but generator g has 3"):
        aligned_to_palette(ordered, palette[:3], palette_name="generator g")


def test_painted_colors_too_close_to_tell_apart_are_merged_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """200 colours in 1-pixel strips: far more than can be told apart at the merge distance."""
    colors = np.random.default_rng(0).integers(0, 256, (200, 3))
    strips = torch.from_numpy(np.repeat(colors[None], 8, axis=0) / 255).float()[None]
    with caplog.at_level(logging.WARNING):
        masks = masks_from_colors(strips)
    assert masks.n_regions < 200
    merged = re.search(r"the map paints (\d+) colours within 48 of another painted colour", caplog.text)
    assert merged is not None and 50 < int(merged[1]) <= 200 - masks.n_regions
