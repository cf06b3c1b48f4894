"""Colour calibration: the Gaussian map's maths, per-pixel application, tiles, the file, the API and CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from doodle import api, cli
from doodle.errors import DoodleError
from doodle.files.image_io import save_image
from doodle.generator.calibration import calibrated, gaussian_map, identity
from doodle.generator.file import load_generator, save_generator
from doodle.generator.render import RenderSettings, render
from doodle.maps.random_masks import random_masks
from tests.test_generator import small_bundle


def correlated_colors(seed: int, count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    return mixing @ torch.randn(3, count, generator=generator, dtype=torch.float64) + torch.rand(
        3, 1, dtype=torch.float64
    )


def test_the_gaussian_map_gives_the_source_the_targets_mean_and_covariance() -> None:
    source, target = correlated_colors(0, 4000), correlated_colors(1, 3000)
    transform = gaussian_map(source, target)
    mapped = transform[:, :3] @ source + transform[:, 3:]
    torch.testing.assert_close(mapped.mean(dim=1), target.mean(dim=1), atol=1e-9, rtol=0)
    torch.testing.assert_close(torch.cov(mapped, correction=0), torch.cov(target, correction=0), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(transform[:, :3], transform[:, :3].T)  # the optimal linear map is symmetric


def test_each_pixel_is_mapped_by_its_own_regions_transform() -> None:
    image = torch.rand(2, 3, 5, 7)
    masks = random_masks(7, 5, 3, seed=1, batch_size=2, shape=api.MaskShape(smoothing=0, min_piece=0)).masks
    calibration = torch.randn(3, 3, 4)
    expected = torch.empty_like(image)
    for b in range(2):
        for y in range(5):
            for x in range(7):
                region = int(masks[b, :, y, x].argmax())
                expected[b, :, y, x] = calibration[region, :, :3] @ image[b, :, y, x] + calibration[region, :, 3]
    torch.testing.assert_close(calibrated(image, masks, calibration), expected)
    torch.testing.assert_close(calibrated(image, masks, identity(3)), image)


def calibrated_bundle() -> api.GeneratorBundle:
    bundle = small_bundle()
    bundle.calibration = identity(3) + 0.2 * torch.randn(3, 3, 4, generator=torch.Generator().manual_seed(2))
    return bundle


def test_a_calibrated_render_is_the_same_whole_or_in_tiles_and_can_be_turned_off() -> None:
    bundle, masks = calibrated_bundle(), random_masks(150, 90, 3, seed=4).masks
    whole = render(bundle, masks, 1, RenderSettings(tile_size=0))
    torch.testing.assert_close(render(bundle, masks, 1, RenderSettings(tile_size=64)), whole, atol=1e-5, rtol=0)
    own = render(bundle, masks, 1, RenderSettings(tile_size=0, color_calibration=False))
    bundle.calibration = None
    assert torch.equal(own, render(bundle, masks, 1, RenderSettings(tile_size=0)))
    assert (own - whole).abs().max() > 0.01


def test_the_calibration_survives_the_file_and_a_wrong_one_is_refused(tmp_path) -> None:
    bundle = calibrated_bundle()
    loaded = load_generator(save_generator(bundle, tmp_path / "g.safetensors"))
    assert torch.equal(loaded.calibration, bundle.calibration)
    bundle.calibration = torch.zeros(2, 3, 4)  # two regions' maps for a three-region generator
    save_generator(bundle, tmp_path / "bad.safetensors")
    with pytest.raises(DoodleError, match="colour calibration"):
        load_generator(tmp_path / "bad.safetensors")


def two_region_style() -> api.Style:
    labels = np.zeros((32, 48), dtype=int)
    labels[:, 24:] = 1
    palette = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    painting = torch.where(torch.from_numpy(labels)[None, ..., None] == 0, 0.8, 0.2).expand(1, 32, 48, 3).clone()
    painting[..., 0] += 0.1 * torch.rand(1, 32, 48)
    return api.Style(painting, api.masks_from_colors(palette[labels][None]))


def test_api_calibrate_brings_each_regions_rendered_colors_to_the_paintings() -> None:
    style, bundle = two_region_style(), small_bundle(2)
    bundle.palette = style.masks.palette
    masks = style.masks.masks
    painting = style.image.movedim(-1, 1)
    before = render(bundle, masks, 0)
    after = render(api.calibrate(bundle, style), masks, 0)
    for region in range(2):
        inside = masks[0, region] > 0.5
        target = painting[0][:, inside].mean(dim=1)
        assert (after[0][:, inside].mean(dim=1) - target).abs().max() < 0.05
        assert (after[0][:, inside].mean(dim=1) - target).abs().max() < (
            before[0][:, inside].mean(dim=1) - target
        ).abs().max()


def test_the_cli_calibrates_a_file_in_place_and_removes_it_again(tmp_path) -> None:
    style, bundle = two_region_style(), small_bundle(2)
    bundle.palette = style.masks.palette
    path = save_generator(bundle, tmp_path / "g.safetensors")
    save_image(style.image, tmp_path / "style.png")
    save_image(style.masks.preview(), tmp_path / "map.png")
    arguments = [
        "calibrate",
        str(path),
        "--style",
        str(tmp_path / "style.png"),
        "--style-map",
        str(tmp_path / "map.png"),
    ]
    assert cli.main(arguments) == 0
    assert load_generator(path).calibration is not None
    assert cli.main([*arguments, "--remove"]) == 0
    assert load_generator(path).calibration is None
