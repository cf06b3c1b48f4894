"""Palettes a canvas paints with: read from a generator's header or a style map, and exact 8-bit masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from doodle import api
from doodle.errors import DoodleError
from doodle.files.image_io import load_image
from doodle.generator.file import generator_palette, load_generator, read_palette
from doodle.maps.palettes import Palette, is_color_map, map_palette
from tests.helpers import EXAMPLES, REPO

SHIPPED = sorted((REPO / "weights").glob("*.safetensors"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_header_palette_is_the_loaded_generators_palette(path) -> None:
    assert torch.equal(read_palette(path)[0], load_generator(path).palette)


def test_palette_is_read_from_the_header_alone(tmp_path) -> None:
    """A file cut off after its header still lists its palette; loading it refuses (the weights are gone)."""
    data = (REPO / "weights" / "monet.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(data[:8], "little")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: header_end + 10])
    assert torch.equal(read_palette(cut)[0], load_generator(REPO / "weights" / "monet.safetensors").palette)
    with pytest.raises(DoodleError):
        load_generator(cut)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff" * 8 + b"{}",
        b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!",
        b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
    ],
    ids=["empty", "huge-length", "not-json", "no-metadata"],
)
def test_damaged_or_foreign_headers_are_refused_by_name(tmp_path, content: bytes) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(DoodleError, match="bad.safetensors"):
        read_palette(path)


def test_a_safetensors_file_that_is_not_a_generator_is_refused(tmp_path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2)}, path, metadata={"palette": "[[0, 0, 0]]"})
    with pytest.raises(DoodleError, match="not a readable doodle generator"):
        read_palette(path)


def test_masks_of_a_painting_match_a_pixel_by_pixel_lookup() -> None:
    colors = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.2, 0.1216], [0.0, 0.0, 1.0]])
    palette = Palette(colors, "test")
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=(9, 13))
    painting = palette.rgb8[labels]
    masks = palette.masks_of(torch.from_numpy(painting).float()[None] / 255)
    lookup = {tuple(c): k for k, c in enumerate(palette.rgb8.tolist())}
    expected = np.array([[lookup[tuple(p)] for p in row] for row in painting.tolist()])
    assert np.array_equal(masks.labels()[0].numpy(), expected)
    assert torch.equal(masks.palette, colors)
    assert masks.masks.sum(dim=1).eq(1).all()
    assert np.array_equal((palette.image_of(masks)[0].numpy() * 255).round().astype(np.uint8), painting)


def test_a_color_outside_the_palette_is_refused_with_its_count_and_value() -> None:
    palette = Palette(torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), "two.safetensors")
    painting = torch.zeros(1, 4, 4, 3)
    painting[0, 1, 1] = torch.tensor([254, 255, 255]) / 255
    painting[0, 2, 2] = torch.tensor([254, 255, 255]) / 255
    with pytest.raises(DoodleError, match=r"2 pixels .* outside two.safetensors's palette \(\(254,255,255\)\)"):
        palette.masks_of(painting)


def test_regions_that_share_an_8_bit_color_are_refused() -> None:
    with pytest.raises(DoodleError, match="share one 8-bit colour"):
        Palette(torch.tensor([[0.5, 0.5, 0.5], [0.501, 0.5, 0.5]]), "twins")


def test_a_style_maps_palette_is_mask_from_colors_palette_in_its_order() -> None:
    path = EXAMPLES / "monet" / "style_mask.png"
    found = map_palette(path)
    assert torch.allclose(found.colors, api.masks_from_colors(load_image(path)).palette)


def test_the_shipped_canvas_doodle_is_painted_in_monets_palette_only() -> None:
    masks = generator_palette(REPO / "weights" / "monet.safetensors").masks_of(
        load_image(EXAMPLES / "monet" / "canvas_doodle.png")
    )
    assert (masks.masks.sum(dim=(0, 2, 3)) > 0).all()


def test_a_blank_canvas_is_all_background() -> None:
    masks = Palette(torch.eye(3), "rgb").blank(7, 5)
    assert masks.size == (5, 7) and masks.labels().eq(0).all()


def test_region_names_are_saved_read_from_the_header_kept_on_resume_and_checked(tmp_path) -> None:
    from doodle.cli import main

    path = tmp_path / "named.safetensors"
    path.write_bytes((REPO / "weights" / "renoir.safetensors").read_bytes())
    assert main(["name-regions", str(path), "a", "b", "c", "d"]) == 0
    assert read_palette(path)[1] == ("a", "b", "c", "d") == load_generator(path).region_names
    assert generator_palette(path).to_json()["names"] == ["a", "b", "c", "d"]
    before, after = load_generator(REPO / "weights" / "renoir.safetensors"), load_generator(path)
    for key, value in before.model.state_dict().items():
        assert torch.equal(after.model.state_dict()[key], value)  # naming rewrites metadata only
    assert main(["name-regions", str(path), "only", "three", "names"]) == 2
    assert read_palette(path)[1] == ("a", "b", "c", "d")  # a refused call leaves the file as it was
    assert main(["name-regions", str(path)]) == 0 and read_palette(path)[1] == ()


def test_a_resumed_generator_keeps_its_region_names() -> None:
    from doodle.training import TrainSettings, train_generator
    from tests.distributed_worker import style_pair
    from tests.helpers import tiny_network

    image, masks = style_pair()
    first = train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=1, size=32))
    first.region_names = ("left", "middle", "right")
    resumed = train_generator(tiny_network(), "tiny", image, masks, TrainSettings(steps=2, size=32), resume=first)
    assert resumed.region_names == ("left", "middle", "right")


def test_maps_even_as_jpegs_are_color_maps_and_paintings_are_not(tmp_path) -> None:
    for style in ("monet", "renoir"):
        folder = EXAMPLES / style
        assert is_color_map(folder / "style_mask.png") and is_color_map(folder / "target_mask.png")
        assert not is_color_map(folder / "style.png")
        jpeg = tmp_path / f"{style}_map.jpg"
        Image.open(folder / "style_mask.png").convert("RGB").save(jpeg, quality=75)
        assert is_color_map(jpeg)
    (tmp_path / "not_an_image.png").write_bytes(b"text")
    assert not is_color_map(tmp_path / "not_an_image.png") and not is_color_map(tmp_path / "missing.png")
