"""Region-guided patch synthesis: each step against a small direct computation, then whole syntheses of
synthetic paintings whose regions carry known textures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodle import api
from doodle.errors import DoodleError
from doodle.maps.colormap import masks_from_colors
from doodle.maps.regions import RegionMasks
from doodle.synthesis import SynthesisSettings, synthesize
from doodle.synthesis.matching import Field, Matcher
from doodle.synthesis.pyramid import Level, build_pyramid, gaussian_blur
from doodle.synthesis.voting import VOTE_FLOOR, VOTE_POWER, vote
from tests.helpers import painted_map

FAST = SynthesisSettings(preset="fast")
MAP_COLOURS = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]


def striped_painting(height: int = 64, width: int = 96, period: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Left half: red with horizontal stripes; right half: blue with vertical stripes. ``[3, H, W]``, labels."""
    rows = torch.arange(height)[:, None].expand(height, width)
    cols = torch.arange(width)[None, :].expand(height, width)
    labels = (cols >= width // 2).long()
    red_phase = ((rows // (period // 2)) % 2).float()
    blue_phase = ((cols // (period // 2)) % 2).float()
    red = torch.stack([0.6 + 0.3 * red_phase, 0.1 + 0.2 * red_phase, 0.1 + 0.0 * red_phase])
    blue = torch.stack([0.1 + 0.0 * blue_phase, 0.1 + 0.2 * blue_phase, 0.6 + 0.3 * blue_phase])
    painting = torch.where(labels[None] == 0, red, blue)
    return painting, labels


def disc_doodle(height: int = 56, width: int = 72) -> torch.Tensor:
    """Region 1 (blue) as a disc inside region 0 (red): a layout the painting does not have."""
    rows = torch.arange(height)[:, None].float()
    cols = torch.arange(width)[None, :].float()
    return (((rows - height / 2) ** 2 + (cols - width / 2) ** 2) < (min(height, width) / 3) ** 2).long()


def interior(labels: torch.Tensor, region: int, margin: int) -> torch.Tensor:
    """Pixels of ``region`` further than ``margin`` from any other region and from the picture's edge."""
    inside = (labels == region).float()[None, None]
    eroded = -torch.nn.functional.max_pool2d(-inside, 2 * margin + 1, stride=1, padding=margin)[0, 0] > 0.5
    eroded[:margin], eroded[-margin:], eroded[:, :margin], eroded[:, -margin:] = False, False, False, False
    return eroded


def test_each_region_takes_its_colors_and_stripes_from_the_same_region_of_the_painting() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    image = synthesize(painting, labels, doodle, 2, SynthesisSettings())
    assert image.shape == (3, *doodle.shape)
    red, blue = interior(doodle, 0, 5), interior(doodle, 1, 5)
    assert red.sum() > 300 and blue.sum() > 300
    assert (image[0][red] > image[2][red] + 0.3).all(), "the red region has a colour only the blue one has"
    assert (image[2][blue] > image[0][blue] + 0.3).all(), "the blue region has a colour only the red one has"
    rows_change = (image[:, 1:] - image[:, :-1]).abs().sum(0)
    cols_change = (image[:, :, 1:] - image[:, :, :-1]).abs().sum(0)
    down, across = rows_change[red[1:] & red[:-1]].mean(), cols_change[red[:, 1:] & red[:, :-1]].mean()
    assert down > 3 * across, f"red stripes run across: {down:.3f} down vs {across:.3f} across"
    down, across = rows_change[blue[1:] & blue[:-1]].mean(), cols_change[blue[:, 1:] & blue[:, :-1]].mean()
    assert across > 3 * down, f"blue stripes run down: {across:.3f} across vs {down:.3f} down"


def test_no_pixel_takes_a_color_from_another_region_even_at_borders() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    image = synthesize(painting, labels, doodle, 2, FAST)
    reds = doodle == 0
    assert (image[0][reds] > image[2][reds]).all() and (image[2][~reds] > image[0][~reds]).all()


def test_a_seed_gives_the_same_picture_and_another_seed_another() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    first = synthesize(painting, labels, doodle, 2, SynthesisSettings(preset="fast", seed=3))
    again = synthesize(painting, labels, doodle, 2, SynthesisSettings(preset="fast", seed=3))
    other = synthesize(painting, labels, doodle, 2, SynthesisSettings(preset="fast", seed=4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_stroke_scale_two_paints_stripes_twice_as_wide() -> None:
    painting, labels = striped_painting(height=96, width=192, period=8)
    doodle = torch.zeros(64, 64, dtype=torch.long)  # all red: horizontal stripes, period 8 in the painting
    for scale, period in ((1.0, 8), (2.0, 16)):
        image = synthesize(painting, labels, doodle, 2, SynthesisSettings(stroke_scale=scale))
        profile = image[1, 8:-8, 8:-8].mean(dim=1)
        spectrum = torch.fft.rfft(profile - profile.mean()).abs()
        found = len(profile) / spectrum[1:].argmax().add(1).item()
        assert abs(found - period) <= period * 0.2, f"stroke_scale {scale}: period {found:.1f}, not {period}"


def test_cancel_stops_at_the_first_report_and_previews_have_the_doodles_size() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    reports = []

    class Cancelled(Exception):
        pass

    def progress(done: int, total: int, preview=None) -> None:
        reports.append((done, total, preview().shape))
        raise Cancelled

    with pytest.raises(Cancelled):
        synthesize(painting, labels, doodle, 2, FAST, progress)
    assert reports == [(1, reports[0][1], (1, 3, *doodle.shape))] and reports[0][1] > 1


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (2, 40)])
def test_a_doodle_smaller_than_a_patch_is_painted(size: tuple[int, int]) -> None:
    painting, labels = striped_painting()
    doodle = torch.zeros(size, dtype=torch.long)
    image = synthesize(painting, labels, doodle, 2, SynthesisSettings(patch_size=7))
    assert image.shape == (3, *size)
    assert (image[0] > image[2]).all()


def test_a_4096_square_doodle_is_painted() -> None:
    painting, labels = striped_painting()
    doodle = torch.zeros(4096, 4096, dtype=torch.long)
    doodle[1024:3072, 1024:3072] = 1
    image = synthesize(painting, labels, doodle, 2, FAST)
    assert image.shape == (3, 4096, 4096)
    assert image[0, 100, 100] > image[2, 100, 100] and image[2, 2048, 2048] > image[0, 2048, 2048]


def test_sizes_and_regions_beyond_the_painting_are_refused_before_any_work() -> None:
    painting, labels = striped_painting()
    with pytest.raises(DoodleError, match="more than synthesis paints"):
        synthesize(painting, labels, torch.zeros(4097, 4096, dtype=torch.long), 2, FAST)
    with pytest.raises(DoodleError, match="region\\(s\\) \\[2\\]"):
        synthesize(painting, labels, torch.full((8, 8), 2), 3, FAST)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"patch_size": 4}, "patch_size must be odd"),
        ({"patch_size": 1}, "patch_size must be a whole number between 3 and 15"),
        ({"uniformity": -0.1}, "uniformity must be a number between"),
        ({"guide_weight": float("nan")}, "guide_weight must be a number"),
        ({"stroke_scale": 8.0}, "stroke_scale must be a number between"),
        ({"preset": "slow"}, "preset must be one of fast, balanced, best"),
        ({"seed": -1}, "seed must be a whole number between"),
        ({"seed": 1.5}, "seed must be a whole number"),
    ],
)
def test_settings_out_of_range_are_refused_by_name(settings: dict, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        SynthesisSettings(**settings)


def test_the_vote_matches_a_direct_loop() -> None:
    generator = torch.Generator().manual_seed(0)
    painting = torch.rand(3, 7, 9, generator=generator)
    source_labels = (torch.arange(9)[None].expand(7, 9) >= 4).long()
    target_labels = (torch.arange(6)[:, None].expand(6, 5) >= 3).long()
    index = torch.randint(0, 63, (30,), generator=generator)
    distance = torch.rand(30, generator=generator)
    patch = 3
    expected = torch.zeros(3, 6, 5)
    for row in range(6):
        for col in range(5):
            total, weights = torch.zeros(3), 0.0
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    centre_row, centre_col = row - dy, col - dx
                    if not (0 <= centre_row < 6 and 0 <= centre_col < 5):
                        continue
                    match = index[centre_row * 5 + centre_col].item()
                    source_row = min(max(match // 9 + dy, 0), 6)
                    source_col = min(max(match % 9 + dx, 0), 8)
                    if source_labels[source_row, source_col] != target_labels[row, col]:
                        continue
                    weight = (distance[centre_row * 5 + centre_col].item() + VOTE_FLOOR) ** -VOTE_POWER
                    total += weight * painting[:, source_row, source_col]
                    weights += weight
            expected[:, row, col] = total / weights if weights else 0
    assert torch.allclose(vote(index, distance, painting, source_labels, target_labels, patch), expected, atol=1e-6)


def test_an_identity_field_votes_the_painting_back() -> None:
    painting = torch.rand(3, 10, 12, generator=torch.Generator().manual_seed(1))
    labels = torch.zeros(10, 12, dtype=torch.long)
    index = torch.arange(120)
    assert torch.allclose(vote(index, torch.rand(120), painting, labels, labels, 5), painting, atol=1e-6)


def one_level(painting: torch.Tensor, source_labels: torch.Tensor, target_labels: torch.Tensor, n: int = 1) -> Level:
    return build_pyramid(painting, source_labels, target_labels, n, patch_size=3)[-1]


def test_the_search_finds_where_a_crop_of_the_painting_came_from() -> None:
    painting = gaussian_blur(torch.rand(3, 48, 64, generator=torch.Generator().manual_seed(2)), 1.0)
    painting = (painting - painting.min()) / (painting.max() - painting.min())
    crop = painting[:, 10:40, 17:57]
    level = one_level(painting, torch.zeros(48, 64, dtype=torch.long), torch.zeros(30, 40, dtype=torch.long))
    matcher = Matcher(level, 3, guide_weight=0.0, uniformity=0.0, generator=torch.Generator().manual_seed(0))
    field = matcher.search(matcher.random_field(), crop, level.target_guides, iterations=6)
    truth = (torch.arange(30)[:, None] + 10) * 64 + (torch.arange(40)[None] + 17)
    inner = torch.zeros(30, 40, dtype=torch.bool)
    inner[1:-1, 1:-1] = True
    found = (field.index.view(30, 40) == truth)[inner].float().mean()
    assert found > 0.95, f"only {found:.0%} of the crop's pixels found their origin"
    assert field.distance.view(30, 40)[inner].median() < 1e-6


def test_the_search_never_leaves_a_pixels_region_and_only_improves_its_cost() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    level = one_level(painting, labels, doodle, 2)
    matcher = Matcher(level, 3, guide_weight=1.0, uniformity=0.0, generator=torch.Generator().manual_seed(0))
    start = matcher.random_field()
    image = torch.rand(3, *doodle.shape, generator=torch.Generator().manual_seed(3))
    first = matcher.search(start, image, level.target_guides, iterations=1)
    second = matcher.search(first, image, level.target_guides, iterations=1)
    assert torch.equal(level.source_labels.flatten()[second.index], doodle.flatten())
    assert (second.distance <= first.distance + 1e-6).all()


def test_the_usage_penalty_counts_the_patches_covering_each_pixel_over_its_fair_share() -> None:
    painting, labels = striped_painting(height=8, width=10)
    target = torch.zeros(4, 5, dtype=torch.long)
    level = one_level(painting, labels, target, 2)
    matcher = Matcher(level, 3, guide_weight=0.0, uniformity=0.5, generator=torch.Generator().manual_seed(0))
    index = torch.randint(0, 80, (20,), generator=torch.Generator().manual_seed(5))
    coverage = torch.zeros(8, 10)
    for centre in index.tolist():
        row, col = divmod(centre, 10)
        coverage[max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2] += 1
    red_pixels = (labels == 0).sum().item()
    fair = torch.where(labels == 0, 20 / red_pixels * 9, 1e-6)  # all 20 doodle pixels are red; none blue
    expected = 0.5 * coverage / fair
    assert torch.allclose(matcher._usage_penalty(index).view(8, 10), expected, rtol=1e-5)


def test_uniformity_spreads_the_painting_pixels_used() -> None:
    painting = gaussian_blur(torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(6)), 2.0)
    flat = painting.mean(dim=(1, 2), keepdim=True).expand(3, 30, 30)  # every painting patch fits it about as well
    level = one_level(painting, torch.zeros(40, 40, dtype=torch.long), torch.zeros(30, 30, dtype=torch.long))
    used = []
    for uniformity in (0.0, 0.5):
        matcher = Matcher(level, 5, 1.0, uniformity, torch.Generator().manual_seed(0))
        field = matcher.search(matcher.random_field(), flat, level.target_guides, iterations=4)
        used.append(torch.unique(field.index).numel())
    assert used[1] > 3 * used[0], f"painting pixels used without and with uniformity: {used}"


def test_the_api_refuses_a_doodle_color_the_map_lacks_by_name() -> None:
    painting, labels = striped_painting()
    style_map = painted_map(labels.numpy(), MAP_COLOURS[:2], blur=False)
    style = api.Style(painting.permute(1, 2, 0)[None], masks_from_colors(style_map))
    doodle_labels = np.zeros((20, 20), dtype=np.int64)
    doodle_labels[5:10, 5:10] = 1
    doodle = masks_from_colors(painted_map(doodle_labels, [(255, 0, 0), (0, 255, 0)], blur=False))
    with pytest.raises(DoodleError, match=r"the doodle paints \(0,255,0\), which the style map lacks"):
        api.synthesize_image(style, doodle)


def test_the_api_paints_an_anti_aliased_doodle_of_near_colors_in_the_maps_regions() -> None:
    painting, labels = striped_painting()
    style = api.Style(painting.permute(1, 2, 0)[None], masks_from_colors(painted_map(labels.numpy(), MAP_COLOURS[:2])))
    doodle_labels = disc_doodle().numpy()
    near = [(250, 10, 5), (5, 5, 240)]
    doodle = masks_from_colors(painted_map(doodle_labels, near))  # blurred edges, colours a little off
    image = api.synthesize_image(style, doodle, FAST)
    assert image.shape == (1, *doodle_labels.shape, 3)
    red = torch.from_numpy(doodle_labels == 0)
    assert (image[0][red][:, 0] > image[0][red][:, 2]).all() and (image[0][~red][:, 2] > image[0][~red][:, 0]).all()


def test_the_api_reads_a_style_map_with_extra_colors_and_a_doodle_using_fewer() -> None:
    painting, labels = striped_painting()
    labels = labels.clone()
    labels[:8, :8] = 2
    style = api.Style(painting.permute(1, 2, 0)[None], masks_from_colors(painted_map(labels.numpy(), MAP_COLOURS)))
    doodle = RegionMasks.from_labels(torch.ones(1, 12, 12, dtype=torch.long), torch.tensor([[1.0, 0, 0], [0, 0, 1]]))
    image = api.synthesize_image(style, doodle, FAST)
    assert (image[0, ..., 2] > image[0, ..., 0]).all()


def test_a_field_of_a_coarse_level_carries_to_the_finer_level_within_each_region() -> None:
    painting, labels = striped_painting()
    doodle = disc_doodle()
    levels = build_pyramid(painting, labels, doodle, 2, patch_size=3)
    coarse, fine = levels[-2], levels[-1]
    generator = torch.Generator().manual_seed(0)
    coarse_matcher = Matcher(coarse, 3, 1.0, 0.0, generator)
    field = coarse_matcher.random_field()
    carried = Matcher(fine, 3, 1.0, 0.0, generator).upsampled(Field(field.index, field.distance), coarse)
    assert torch.equal(fine.source_labels.flatten()[carried.index], fine.target_labels.flatten())
    coarse_width = coarse.source_labels.shape[1]
    parent = field.index.view(coarse.target_labels.shape)[0, 0].item()
    expected = (parent // coarse_width * 2) * fine.source_labels.shape[1] + parent % coarse_width * 2
    if fine.source_labels.flatten()[expected] == fine.target_labels[0, 0]:
        assert carried.index[0].item() == expected


def test_the_coarsest_start_lays_each_painting_region_over_the_doodles_from_their_top_left_corners() -> None:
    source_labels = torch.zeros(12, 14, dtype=torch.long)
    source_labels[2:6, 3:9] = 1  # a 4x6 block
    target_labels = torch.zeros(20, 5, dtype=torch.long)
    target_labels[10:18, 0:3] = 1  # an 8x3 block: taller than the painting's, so it repeats
    painting = torch.rand(3, 12, 14, generator=torch.Generator().manual_seed(0))
    level = one_level(painting, source_labels, target_labels, 2)
    field = Matcher(level, 3, 1.0, 0.0, torch.Generator().manual_seed(0)).placed_field()
    index = field.index.view(20, 5)
    for row in range(10, 18):
        for col in range(3):
            assert index[row, col].item() == (2 + (row - 10) % 4) * 14 + 3 + col
    assert torch.equal(source_labels.flatten()[field.index], target_labels.flatten())
