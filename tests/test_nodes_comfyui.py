"""The doodle nodes inside a real ComfyUI: registration, each node, every example workflow, errors, cancel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from doodle.declared import declared_fields
from doodle.generator.file import load_generator
from doodle.neural.networks import resolve_network
from doodle.synthesis import SynthesisSettings
from tests.comfyui_harness import ComfyUIClient, PromptExecutionError, PromptValidationError
from tests.helpers import EXAMPLES, REPO, region_colors_differ
from tests.workflow_convert import ui_to_api

NODE_IDS = (
    "MaskFromColors",
    "RandomDoodleMask",
    "LoadDoodleGenerator",
    "RenderDoodle",
    "TrainDoodleStyle",
    "OptimizeDoodle-LBFGS",
    "SynthesizeDoodle",
    "StyleMapFromPainting",
    "DoodleCanvas",
    "DoodleMasksToMask",
    "MaskToDoodleMasks",
)
WORKFLOWS = sorted((REPO / "example_workflows").glob("*.json"))
SAVED_BEFORE = sorted((REPO / "tests" / "data" / "saved_before_declarations").glob("*.json"))
"""Templates as saved before the settings declared their own widgets (commit 30d40c3^): they must run the same."""
FAST_SETTINGS = {
    "OptimizeDoodle-LBFGS": {"iterations": 4, "size": 64},
    "TrainDoodleStyle": {
        "steps": 2,
        "batch_size": 1,
        "size": 64,
        "loss_scales": 2,
        "weight_average": 0.5,
    },
}


@pytest.fixture(scope="module")
def comfy(comfyui: ComfyUIClient) -> ComfyUIClient:
    comfyui.require_nodes(*NODE_IDS)
    return comfyui


def test_nodes_register_under_one_menu_with_tooltips(comfy: ComfyUIClient) -> None:
    info = comfy.object_info()
    for node_id in NODE_IDS:
        assert info[node_id]["category"] == "doodle"
        assert info[node_id]["description"]
        assert "neural doodle" in info[node_id]["search_aliases"]  # searching "doodle" finds every node
        status, page = comfy._request("GET", f"/extensions/doodle/docs/{node_id}.md")
        assert status == 200 and page.startswith(f"# {node_id}".encode())  # the node library's help page
    seed = info["RenderDoodle"]["input"]["required"]["seed"]
    assert seed[1]["control_after_generate"] is True and seed[1]["max"] == 2**64 - 1
    assert "tooltip" in info["MaskFromColors"]["input"]["required"]["n_colors"][1]
    generators = info["LoadDoodleGenerator"]["input"]["required"]["generator_name"][1]["options"]
    assert {"monet.safetensors", "renoir.safetensors"} <= set(generators)
    assert "vgg16-hed" in info["OptimizeDoodle-LBFGS"]["input"]["required"]["loss_network"][1]["options"]
    for node_id in ("OptimizeDoodle-LBFGS", "TrainDoodleStyle"):  # what auto picks, and what is missing, is shown
        tooltip = info[node_id]["input"]["required"]["loss_network"][1]["tooltip"]
        on_disk = tooltip.split("on disk: ")[1].split(".")[0].split(", ")
        assert "vgg16-hed" in on_disk and f"auto uses {on_disk[0]} here" in tooltip, tooltip
        assert ("vgg19 is not on disk: a run downloads it first" in tooltip) == ("vgg19" not in on_disk), tooltip


def test_example_images_were_copied_into_input(comfy: ComfyUIClient) -> None:
    for style in ("monet", "renoir"):
        for name in ("style.png", "style_mask.png", "target_mask.png"):
            copied = comfy.input_dir / f"doodle_{style}_{name}"
            assert copied.read_bytes() == (EXAMPLES / style / name).read_bytes()


def test_mask_from_colors_preview_paints_the_five_monet_regions(comfy: ComfyUIClient) -> None:
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_style_mask.png"}},
        "2": {"class_type": "MaskFromColors", "inputs": {"image": ["1", 0], "n_colors": 0}},
        "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 1], "filename_prefix": "masks"}},
    }
    result = comfy.run(prompt)
    preview = result.image("3")
    assert preview.shape == (384, 512, 3)
    assert len(np.unique(preview.reshape(-1, 3), axis=0)) == 5
    assert result.ui("2")["images"], "the node shows its preview"


def test_synthesize_doodle_paints_each_region_from_the_painting_with_inputs_built_from_its_settings(
    comfy: ComfyUIClient,
) -> None:
    inputs = comfy.object_info()["SynthesizeDoodle"]["input"]["required"]
    for field in declared_fields(SynthesisSettings):  # one declaration gives the widget's range and tooltip
        options = inputs[field.name][1]
        assert options["default"] == field.default and options["tooltip"]
        if not field.declaration.choices:
            assert (options["min"], options["max"]) == (field.declaration.low, field.declaration.high)
    assert inputs["seed"][1]["control_after_generate"] is True
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_style.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_style_mask.png"}},
        "3": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_target_mask.png"}},
        "4": {"class_type": "MaskFromColors", "inputs": {"image": ["3", 0], "n_colors": 0}},
        "5": {
            "class_type": "SynthesizeDoodle",
            "inputs": {
                "style_image": ["1", 0],
                "style_map": ["2", 0],
                "doodle": ["4", 0],
                "preset": "fast",
                "seed": 1,
                "patch_size": 5,
                "uniformity": 0.03,
                "guide_weight": 1.0,
                "stroke_scale": 1.0,
            },
        },
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "synthesis"}},
    }
    result = comfy.run(prompt)
    doodle = np.asarray(Image.open(EXAMPLES / "monet" / "target_mask.png").convert("RGB"))
    painted = result.image("6")
    assert painted.shape == doodle.shape
    assert region_colors_differ(painted.astype(float), doodle)
    assert "5" not in result.outputs, "the node's picture is shown once, by the Save node after it"


SAVED_WIDGETS = {  # inputs in the order saved workflows hold them, and widgets' (default, min, max, step)
    "OptimizeDoodle-LBFGS": (
        "style_image style_masks target_masks iterations seed loss_network size scales | content_image "
        "content_weight init tv_weight distribution_weight gram_weight patch_weight init_image",
        {
            "iterations": (300, 1, 100_000, None),
            "seed": (0, 0, 2**64 - 1, None),
            "size": (0, 0, 4096, 8),
            "scales": (2, 1, 8, None),
            "content_weight": (0.0, 0.0, 100.0, 0.05),
            "init": ("style-mean", None, None, None),
            "tv_weight": (0.0, 0.0, 100.0, 0.01),
            "distribution_weight": (0.0, 0.0, 1000.0, 0.1),
            "gram_weight": (1.0, 0.0, 100.0, 0.1),
            "patch_weight": (0.0, 0.0, 100.0, 0.1),
        },
    ),
    "RenderDoodle": (
        "generator seed | masks doodle batch_size tile_size half_precision",
        {"tile_size": (1024, 0, 8192, 16), "half_precision": (False, None, None, None)},
    ),
    "TrainDoodleStyle": (
        "style_image style_masks steps batch_size learning_rate size seed loss_network save_name | resume_from "
        "loss_scales weight_average distribution_weight",
        {
            "steps": (300, 1, 1_000_000, None),
            "batch_size": (4, 1, 64, None),
            "learning_rate": (0.003, 0.0001, 1.0, 0.0001),
            "size": (128, 32, 2048, 16),
            "seed": (0, 0, 2**64 - 1, None),
            "loss_scales": (1, 1, 4, None),
            "weight_average": (0.0, 0.0, 0.999, 0.001),
            "distribution_weight": (1.0, 0.0, 1000.0, 0.1),
        },
    ),
}


@pytest.mark.parametrize("node_id", SAVED_WIDGETS)
def test_widgets_built_from_the_settings_keep_the_names_order_and_ranges_saved_workflows_hold(
    comfy: ComfyUIClient, node_id: str
) -> None:
    info = comfy.object_info()[node_id]
    order, widgets = SAVED_WIDGETS[node_id]
    required, optional = (part.split() for part in order.split("|"))
    assert (info["input_order"]["required"], info["input_order"]["optional"]) == (required, optional)
    specs = info["input"]["required"] | info["input"]["optional"]
    for name, limits in widgets.items():
        options = specs[name][1]
        assert tuple(options.get(key) for key in ("default", "min", "max", "step")) == limits, name
        assert options["tooltip"], name  # the declaration's help


def test_random_doodle_mask_batch_has_every_region(comfy: ComfyUIClient) -> None:
    prompt = {
        "1": {
            "class_type": "RandomDoodleMask",
            "inputs": {
                "width": 96,
                "height": 64,
                "n_regions": 4,
                "seed": 2**64 - 1,
                "batch_size": 2,
                "roughness": 0.6,
                "smoothing": 5,
            },
        },
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 1], "filename_prefix": "random"}},
    }
    images = comfy.run(prompt).images("2")
    assert len(images) == 2
    for image in images:
        assert image.shape == (64, 96, 3)
        assert len(np.unique(image.reshape(-1, 3), axis=0)) == 4


def fast_prompt(comfy: ComfyUIClient, workflow_path: Path) -> dict:
    prompt = ui_to_api(json.loads(workflow_path.read_text()), comfy.object_info())
    for node in prompt.values():
        node["inputs"].update(FAST_SETTINGS.get(node["class_type"], {}))
    return prompt


def edit_the_automatic_map_as_the_page_would(comfy: ComfyUIClient, prompt: dict) -> None:
    """Template 9's first run makes the map; the page's map canvas then saves its edit (here the map itself),
    which the doodle canvas paints with."""
    segment = next(i for i, node in prompt.items() if node["class_type"] == "StyleMapFromPainting")
    painting = prompt[segment]["inputs"]["painting"][0]
    comfy.run({painting: prompt[painting], segment: prompt[segment]})
    saved = comfy.input_dir / (prompt[segment]["inputs"]["save_as"] + ".png")
    edited = comfy.input_dir / "doodle_canvas" / "new_style_map_edited.png"
    edited.parent.mkdir(exist_ok=True)
    edited.write_bytes(saved.read_bytes())


@pytest.mark.parametrize(
    "workflow", WORKFLOWS + SAVED_BEFORE, ids=[w.stem for w in WORKFLOWS] + [f"old {w.stem}" for w in SAVED_BEFORE]
)
def test_every_example_workflow_and_an_old_saved_one_runs_and_paints_each_region(
    comfy: ComfyUIClient, workflow: Path
) -> None:
    prompt = fast_prompt(comfy, workflow)
    if workflow.stem == "9_new_style_from_any_painting":
        edit_the_automatic_map_as_the_page_would(comfy, prompt)
    result = comfy.run(prompt, timeout=600)
    saves = [node_id for node_id, node in prompt.items() if node["class_type"] in ("SaveImage", "PreviewImage")]
    assert saves
    for node_id in saves:
        image = result.image(node_id)
        assert image.ndim == 3 and image.shape[2] == 3 and image.std() > 3
    if workflow.stem == "1_doodle_to_painting":
        doodle = np.asarray(Image.open(EXAMPLES / "monet" / "target_mask.png").convert("RGB"))
        painted = result.image(saves[0])
        assert painted.shape == doodle.shape
        assert region_colors_differ(painted.astype(float), doodle)
    if workflow.stem == "0_paint_a_doodle":
        doodle = np.asarray(Image.open(EXAMPLES / "monet" / "canvas_doodle.png").convert("RGB"))
        assert region_colors_differ(result.image(saves[0]).astype(float), doodle)
    if workflow.stem == "2_train_your_own_style":
        trained = load_generator(comfy.models_dir / "doodle_generators" / "my_renoir.safetensors")
        auto = resolve_network("auto", (str(comfy.models_dir / "vgg"),))  # vgg16-hed where it is all there is
        assert trained.loss_network == auto  # the file records the network auto chose, by name
        assert trained.training["phases"][-1]["loss_scales"] == 2  # the optional inputs reach the core
        assert trained.training["phases"][-1]["weight_average"] == 0.5
    if workflow.stem == "5_polish_a_render":
        render, polished = (result.image(node_id).astype(float) for node_id in saves)
        shrunk = Image.fromarray(render.astype(np.uint8)).resize(polished.shape[1::-1], Image.Resampling.BOX)
        # Polishing keeps the render's layout: 3.9 levels off here; started without init_image, 18.7.
        assert np.abs(polished - np.asarray(shrunk)).mean() < 8


def test_trained_generator_loads_back_and_renders_and_a_rerun_keeps_it(comfy: ComfyUIClient) -> None:
    folder = comfy.models_dir / "doodle_generators"
    before = {path.name: path.read_bytes() for path in folder.glob("my_renoir*.safetensors")}
    prompt = fast_prompt(comfy, REPO / "example_workflows" / "2_train_your_own_style.json")
    train = next(node for node in prompt.values() if node["class_type"] == "TrainDoodleStyle")
    train["inputs"]["seed"] = 1000 + len(before)  # a prompt no earlier test ran: ComfyUI would reuse that run
    comfy.run(prompt, timeout=600)
    after = {path.name: path.read_bytes() for path in folder.glob("my_renoir*.safetensors")}
    assert {name: after[name] for name in before} == before, "a new run replaced a trained generator"
    (new_file,) = set(after) - set(before)
    assert new_file == ("my_renoir.safetensors" if not before else f"my_renoir_{len(before) + 1}.safetensors")
    prompt = {
        "1": {"class_type": "LoadDoodleGenerator", "inputs": {"generator_name": new_file}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_target_mask.png"}},
        "3": {
            "class_type": "RenderDoodle",
            "inputs": {"generator": ["1", 0], "seed": 1, "doodle": ["2", 0], "batch_size": 2, "tile_size": 128},
        },
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "mine"}},
    }
    images = comfy.run(prompt, timeout=300).images("4")
    assert len(images) == 2 and images[0].shape == (320, 512, 3)
    assert np.abs(images[0].astype(int) - images[1].astype(int)).max() > 0, "each image has its own noise"


def test_a_train_only_graph_runs_and_shows_a_render_of_the_style_map_and_its_record(comfy: ComfyUIClient) -> None:
    train = {"style_image": ["1", 0], "style_masks": ["3", 0], "seed": 0, "learning_rate": 0.003}
    train |= FAST_SETTINGS["TrainDoodleStyle"] | {"save_name": "train_only", "distribution_weight": 0.5}
    train["loss_network"] = "auto"
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_style.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_style_mask.png"}},
        "3": {"class_type": "MaskFromColors", "inputs": {"image": ["2", 0], "n_colors": 0}},
        "4": {"class_type": "TrainDoodleStyle", "inputs": train},
    }
    result = comfy.run(prompt, timeout=600)
    (preview,) = result.images("4")
    style_map = np.asarray(Image.open(comfy.input_dir / "doodle_renoir_style_mask.png"))
    assert preview.shape[:2] == style_map.shape[:2]
    (report,) = result.ui("4")["text"]
    saved = report.split(":")[0]
    assert saved.startswith("train_only") and "2 steps, loss " in report
    trained = load_generator(comfy.models_dir / "doodle_generators" / saved)
    assert trained.training["steps_done"] == 2 and trained.training["distribution_weight"] == 0.5


def renoir_training(**inputs) -> dict:
    """A prompt that trains on the Renoir example, TrainDoodleStyle given ``inputs`` beside the fast settings."""
    train = {"style_image": ["1", 0], "style_masks": ["3", 0], "seed": 0, "learning_rate": 0.003}
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_style.png"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "doodle_renoir_style_mask.png"}},
        "3": {"class_type": "MaskFromColors", "inputs": {"image": ["2", 0], "n_colors": 0}},
        "4": {"class_type": "TrainDoodleStyle", "inputs": train | FAST_SETTINGS["TrainDoodleStyle"] | inputs},
    }


def test_a_bad_save_name_is_refused_when_the_prompt_is_queued(comfy: ComfyUIClient) -> None:
    with pytest.raises(PromptValidationError) as refused:
        comfy.run(renoir_training(save_name="../outside"))
    assert "save_name '../outside' must be a plain file name" in json.dumps(refused.value.node_errors)
    assert not list((comfy.models_dir / "doodle_generators").glob("*outside*"))


def test_a_file_name_sent_as_resume_from_stops_the_node_with_our_message(comfy: ComfyUIClient) -> None:
    prompt = renoir_training(save_name="resumed", loss_network="vgg16-hed", resume_from="monet.safetensors")
    with pytest.raises(PromptExecutionError) as refused:
        comfy.run(prompt)
    assert "resume_from must be a loaded generator" in str(refused.value) and "DoodleError" in str(refused.value)
    assert not list((comfy.models_dir / "doodle_generators").glob("resumed*"))


@pytest.mark.parametrize(
    ("node", "inputs", "message"),
    [
        ("MaskFromColors", {"n_colors": 3}, "n_colors (--colors) is 3"),
        ("RenderDoodle", {}, "either masks or a doodle"),
    ],
)
def test_bad_input_stops_the_node_with_our_message(comfy: ComfyUIClient, node: str, inputs: dict, message: str) -> None:
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_style_mask.png"}},
        "2": {"class_type": "LoadDoodleGenerator", "inputs": {"generator_name": "monet.safetensors"}},
    }
    if node == "MaskFromColors":
        prompt["3"] = {"class_type": node, "inputs": {"image": ["1", 0]} | inputs}
        prompt["4"] = {"class_type": "SaveImage", "inputs": {"images": ["3", 1], "filename_prefix": "bad"}}
    else:
        prompt["3"] = {"class_type": node, "inputs": {"generator": ["2", 0], "seed": 0} | inputs}
        prompt["4"] = {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "bad"}}
    with pytest.raises(PromptExecutionError) as error:
        comfy.run(prompt)
    assert message in str(error.value) and "DoodleError" in str(error.value)


def test_cancelled_optimisation_leaves_the_host_ready_for_the_next_prompt(comfy: ComfyUIClient) -> None:
    prompt = fast_prompt(comfy, REPO / "example_workflows" / "3_optimize_doodle.json")
    optimise = next(node for node in prompt.values() if node["class_type"] == "OptimizeDoodle-LBFGS")
    optimise["inputs"].update(iterations=5000, size=96, seed=123)
    result = comfy.cancel(comfy.submit(prompt), timeout=120)
    assert result.status.get("status_str") != "success"
    optimise["inputs"].update(iterations=3, seed=124)
    image = comfy.run(prompt, timeout=300).images(next(k for k, v in prompt.items() if v["class_type"] == "SaveImage"))
    assert image[0].shape[:2] == (72, 96)


def test_masks_round_trip_through_core_masks_and_one_region_reaches_core_nodes(comfy: ComfyUIClient) -> None:
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "doodle_monet_style_mask.png"}},
        "2": {"class_type": "MaskFromColors", "inputs": {"image": ["1", 0], "n_colors": 0}},
        "3": {"class_type": "DoodleMasksToMask", "inputs": {"masks": ["2", 0], "region": -1}},
        "4": {"class_type": "MaskToDoodleMasks", "inputs": {"mask": ["3", 0], "palette_from": ["2", 0]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 1]}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["2", 1]}},
        "7": {"class_type": "DoodleMasksToMask", "inputs": {"masks": ["2", 0], "region": 1}},
        "8": {"class_type": "MaskToImage", "inputs": {"mask": ["7", 0]}},
        "9": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
    }
    result = comfy.run(prompt)
    assert np.array_equal(result.image("5"), result.image("6"))  # the same map after the round trip
    region = result.image("9")[..., 0] > 127
    preview = result.image("6")
    colors, counts = np.unique(preview.reshape(-1, 3), axis=0, return_counts=True)
    second = colors[np.argsort(-counts)[1]]  # MaskFromColors numbers regions by area, largest first
    assert np.array_equal(region, (preview == second).all(axis=2))


def test_the_patch_loss_alone_paints_each_region_of_the_doodle(comfy: ComfyUIClient) -> None:
    prompt = fast_prompt(comfy, REPO / "example_workflows" / "3_optimize_doodle.json")
    (optimise,) = [node for node in prompt.values() if node["class_type"] == "OptimizeDoodle-LBFGS"]
    optimise["inputs"] |= {"gram_weight": 0.0, "patch_weight": 1.0, "iterations": 6, "size": 96}
    result = comfy.run(prompt, timeout=600)
    (save,) = [node_id for node_id, node in prompt.items() if node["class_type"] == "SaveImage"]
    painted = result.image(save).astype(float)
    doodle = np.asarray(Image.open(EXAMPLES / "monet" / "target_mask.png").convert("RGB").resize(painted.shape[1::-1]))
    assert region_colors_differ(painted, doodle)
