"""DoodleCanvas and its routes in a real ComfyUI, over HTTP: the painting's file to masks and image, the
palettes the page is given, random doodles seeded like RandomDoodleMask, and refusals of bad input."""

from __future__ import annotations

import io
import json
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from doodle.files.image_io import load_image
from doodle.generator.file import read_palette
from doodle.maps.colormap import MERGE_DISTANCE
from doodle.maps.palettes import SPARE_REGIONS, map_palette
from tests.comfyui_harness import ComfyUIClient, PromptExecutionError, PromptValidationError
from tests.helpers import EXAMPLES, REPO

MONET = "generator: monet.safetensors"
MONET_RGB8 = (read_palette(REPO / "weights" / "monet.safetensors")[0] * 255).round().byte().numpy()


@pytest.fixture(scope="module")
def comfy(comfyui: ComfyUIClient) -> ComfyUIClient:
    comfyui.require_nodes("DoodleCanvas", "RandomDoodleMask", "StyleMapFromPainting")
    return comfyui


def canvas_prompt(painting: str, palette: str = MONET, width: int = 64, height: int = 48) -> dict:
    return {
        "1": {
            "class_type": "DoodleCanvas",
            "inputs": {"palette": palette, "painting": painting, "width": width, "height": height},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 1]}},
    }


def query(comfy: ComfyUIClient, route: str, **params: object) -> tuple[int, bytes]:
    return comfy._request("GET", f"{route}?{urllib.parse.urlencode(params)}")


def test_the_painting_file_becomes_masks_and_the_image_as_painted(comfy: ComfyUIClient) -> None:
    labels = np.random.default_rng(1).integers(0, len(MONET_RGB8), size=(40, 56))
    painting = comfy.save_input_image(MONET_RGB8[labels], "canvas-test.png", subfolder="doodle_canvas")
    result = comfy.run(canvas_prompt(f"{painting} [input]"))
    assert np.array_equal(result.image("2"), MONET_RGB8[labels])  # the painting's size wins over width/height


def test_a_blank_canvas_is_the_background_region_at_the_widgets_size(comfy: ComfyUIClient) -> None:
    image = comfy.run(canvas_prompt("", width=72, height=40)).image("2")
    assert image.shape == (40, 72, 3) and (image == MONET_RGB8[0]).all()


def test_masks_drive_a_render_and_random_doodle_mask_takes_their_palette(comfy: ComfyUIClient) -> None:
    prompt = canvas_prompt("")
    prompt |= {
        "3": {"class_type": "LoadDoodleGenerator", "inputs": {"generator_name": "monet.safetensors"}},
        "4": {"class_type": "RenderDoodle", "inputs": {"generator": ["3", 0], "masks": ["1", 0], "seed": 0}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
        "6": {
            "class_type": "RandomDoodleMask",
            "inputs": {
                "width": 96,
                "height": 64,
                "n_regions": 2,
                "seed": 5,
                "batch_size": 1,
                "roughness": 0.5,
                "smoothing": 11,
                "palette_from": ["1", 0],
            },
        },
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 1]}},
    }
    result = comfy.run(prompt)
    assert result.image("5").shape == (48, 64, 3)
    status, png = query(comfy, "/doodle/random_doodle", source=MONET, width=96, height=64, seed=5)
    assert status == 200
    served = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    # The same map; the node's preview went through ComfyUI's float-to-byte truncation (192 -> 191), the route rounds.
    assert np.abs(served - result.image("7")).max() <= 1 and (served == MONET_RGB8[:, None, None]).all(-1).any(0).all()


def test_the_palette_route_gives_exact_8_bit_colors_of_generators_and_maps(comfy: ComfyUIClient) -> None:
    status, body = query(comfy, "/doodle/palette", source=MONET)
    assert status == 200 and json.loads(body)["colors"] == MONET_RGB8.tolist()
    assert json.loads(body)["names"] == ["sky", "rocks", "sea", "grass", "dark rock"]
    status, body = query(comfy, "/doodle/palette", source="style map: doodle_monet_style_mask.png")
    assert status == 200
    assert json.loads(body)["colors"] == map_palette(EXAMPLES / "monet" / "style_mask.png").rgb8.tolist()


def test_the_canvas_lists_color_maps_but_not_paintings_as_palettes(comfy: ComfyUIClient) -> None:
    options = comfy.object_info()["DoodleCanvas"]["input"]["required"]["palette"][1]["options"]
    for style in ("monet", "renoir"):
        assert f"style map: doodle_{style}_style_mask.png" in options
        assert f"style map: doodle_{style}_target_mask.png" in options
        assert f"style map: doodle_{style}_style.png" not in options  # a painting: its colours make no palette
    status, body = query(comfy, "/doodle/palette", source="style map: doodle_monet_style.png")
    assert status == 400 and b"painting or photo" in body


@pytest.mark.parametrize("source", ["generator: ../../etc/passwd", "style map: ../main.py", "nothing", ""])
def test_the_routes_refuse_sources_that_are_not_listed(comfy: ComfyUIClient, source: str) -> None:
    for route, extra in (("/doodle/palette", {}), ("/doodle/random_doodle", {"width": 8, "height": 8, "seed": 0})):
        status, body = query(comfy, route, source=source, **extra)
        assert status == 400 and "not a generator or a colour map in input/" in json.loads(body)["error"]


def test_a_random_doodle_of_impossible_size_is_refused(comfy: ComfyUIClient) -> None:
    status, body = query(comfy, "/doodle/random_doodle", source=MONET, width=5000, height=8, seed=0)
    assert status == 400 and "1..4096" in json.loads(body)["error"]
    status, body = query(comfy, "/doodle/random_doodle", source=MONET, width="x", height=8, seed=0)
    assert status == 400 and "whole numbers" in json.loads(body)["error"]


@pytest.mark.parametrize(
    ("painting", "palette", "message"),
    [
        ("doodle_canvas/missing.png [input]", MONET, "is not in input/"),
        ("../../main.py [input]", MONET, "is not in input/"),
        ("", "generator: removed.safetensors", "is not a generator or a colour map in input/"),
        ("", "style map: ../../main.py", "is not a generator or a colour map in input/"),
        ("", "style map: elsewhere/map.png", "is not a generator or a colour map in input/"),
    ],
    ids=["missing-file", "path-out-of-input", "vanished-palette", "map-out-of-input", "map-in-another-folder"],
)
def test_bad_canvas_inputs_are_refused_before_the_graph_runs(
    comfy: ComfyUIClient, painting: str, palette: str, message: str
) -> None:
    with pytest.raises(PromptValidationError) as refused:
        comfy.run(canvas_prompt(painting, palette))
    assert message in json.dumps(refused.value.node_errors) + json.dumps(refused.value.error)


@pytest.mark.parametrize("source", ["edit style map: {}", "style map: {}", "style map: doodle_canvas/{}"])
def test_a_canvas_whose_style_map_is_not_made_yet_holds_its_graph_back_without_an_error_until_it_is(
    comfy: ComfyUIClient, source: str
) -> None:
    name = f"awaited_{abs(hash(source))}.png"
    prompt = canvas_prompt("", source.format(name))
    waited = comfy.run(prompt)  # template 9's first run: the map is made in it, after the canvas has run
    assert waited.status["status_str"] == "success" and "2" not in waited.outputs  # the preview waited
    target = comfy.input_dir / source.format(name).split(": ")[1]
    target.parent.mkdir(exist_ok=True)
    target.write_bytes((EXAMPLES / "monet" / "style_mask.png").read_bytes())
    shown = comfy.run(prompt).image("2")  # the map is there now: the blank canvas is its largest region
    assert shown.shape == (48, 64, 3) and (shown == map_palette(target).rgb8[0]).all()


def test_a_painting_in_other_colors_or_not_an_image_says_so(comfy: ComfyUIClient) -> None:
    off = comfy.save_input_image(np.full((8, 8, 3), 77, np.uint8), "off-palette.png", subfolder="doodle_canvas")
    with pytest.raises(PromptExecutionError) as error:
        comfy.run(canvas_prompt(f"{off} [input]"))
    assert "64 pixels of the painting are in colours outside monet.safetensors's palette" in str(error.value)
    (comfy.input_dir / "doodle_canvas" / "text.png").write_text("not an image")
    with pytest.raises(PromptExecutionError) as error:
        comfy.run(canvas_prompt("doodle_canvas/text.png [input]"))
    assert "DoodleError" in str(error.value)


def test_the_example_canvas_doodle_is_in_input_for_the_paint_template(comfy: ComfyUIClient) -> None:
    copied = load_image(comfy.input_dir / "doodle_monet_canvas_doodle.png")
    assert copied.shape[1:3] == (384, 512)


def style_map_prompt(save_as: str, regions: int = 4) -> dict:
    settings = {"seed": 0, "smoothness": 1.0, "min_region": 1.0, "network_features": True}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_style.png"}},
        "2": {
            "class_type": "StyleMapFromPainting",
            "inputs": {"painting": ["1", 0], "regions": regions, "save_as": save_as} | settings,
        },
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }


def test_style_map_from_painting_saves_a_map_a_canvas_can_edit_with_spare_colors(comfy: ComfyUIClient) -> None:
    result = comfy.run(style_map_prompt("auto_renoir"))
    saved = comfy.input_dir / "auto_renoir.png"
    assert result.ui("2")["doodle_saved_map"] == ["auto_renoir.png"]
    own = map_palette(saved).rgb8
    assert len(own) == 4 and np.abs(np.asarray(Image.open(saved).convert("RGB")) - result.image("3")).max() <= 1
    options = comfy.object_info(refresh=True)["DoodleCanvas"]["input"]["required"]["palette"][1]["options"]
    assert {"style map: auto_renoir.png", "edit style map: auto_renoir.png"} <= set(options)
    status, body = query(comfy, "/doodle/palette", source="edit style map: auto_renoir.png")
    colors, names = np.asarray(json.loads(body)["colors"]), json.loads(body)["names"]
    assert status == 200 and (colors[:4] == own).all() and names[4:] == ["new"] * SPARE_REGIONS
    spare_to_own = np.linalg.norm(colors[4:, None] - own[None], axis=-1)
    assert spare_to_own.min() > 2 * MERGE_DISTANCE  # a new region never reads as an old one


def test_a_canvas_painting_is_a_palette_for_the_doodle_painted_against_it(comfy: ComfyUIClient) -> None:
    comfy.save_input_image(
        MONET_RGB8[np.arange(60)[:, None] // 12].repeat(64, 1), "edited.png", subfolder="doodle_canvas"
    )
    options = comfy.object_info(refresh=True)["DoodleCanvas"]["input"]["required"]["palette"][1]["options"]
    assert "style map: doodle_canvas/edited.png" in options
    assert "edit style map: doodle_canvas/edited.png" not in options  # edits are made from the maps in input/
    status, body = query(comfy, "/doodle/palette", source="style map: doodle_canvas/edited.png")
    assert status == 200 and sorted(json.loads(body)["colors"]) == sorted(MONET_RGB8.tolist())


@pytest.mark.parametrize("save_as", ["../outside", "sub/map", ".hidden"])
def test_a_bad_map_name_is_refused_when_queued_and_nothing_is_written(comfy: ComfyUIClient, save_as: str) -> None:
    before = sorted(p.name for p in comfy.input_dir.rglob("*"))
    with pytest.raises(PromptValidationError) as refused:
        comfy.run(style_map_prompt(save_as))
    assert f"save_as {save_as!r} must be a plain file name" in json.dumps(refused.value.node_errors)
    assert sorted(p.name for p in comfy.input_dir.rglob("*")) == before
