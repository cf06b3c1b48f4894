"""Tests of the UI-workflow -> API-prompt converter.

Most tests use tests/data/object_info_v0.30.0.json, a subset of GET /object_info captured from
ComfyUI v0.30.0 (tooltips removed), so they run without a server; the last ones check that
snapshot against the live server and run a converted workflow on it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.comfyui_harness import ComfyUIClient
from tests.workflow_convert import WorkflowConversionError, ui_to_api, widget_slots

DATA = Path(__file__).parent / "data"
OBJECT_INFO: dict[str, Any] = {
    k: v for k, v in json.loads((DATA / "object_info_v0.30.0.json").read_text()).items() if not k.startswith("_")
}


class UIGraph:
    """Builds UI-format workflows the way the frontend saves them (nodes + links arrays)."""

    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.links: list[list[Any]] = []

    def node(
        self,
        node_id: int,
        type_: str,
        widgets_values: Any = (),
        inputs: tuple[tuple[str, str], ...] = (),
        widget_inputs: tuple[tuple[str, str], ...] = (),
        outputs: tuple[str, ...] = (),
        mode: int = 0,
        title: str | None = None,
    ) -> dict[str, Any]:
        """inputs: socket inputs (name, type); widget_inputs: widgets with a socket, as 1.47 saves."""
        node: dict[str, Any] = {
            "id": node_id,
            "type": type_,
            "pos": [0, 0],
            "size": [300, 100],
            "flags": {},
            "order": len(self.nodes),
            "mode": mode,
            "inputs": [{"name": n, "type": t, "link": None} for n, t in inputs]
            + [{"name": n, "type": t, "widget": {"name": n}, "link": None} for n, t in widget_inputs],
            "outputs": [{"name": t, "type": t, "links": []} for t in outputs],
            "properties": {"Node name for S&R": type_},
            "widgets_values": (list(widgets_values) if not isinstance(widgets_values, dict) else widgets_values),
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node

    def connect(self, src: int, slot: int, dst: int, input_name: str) -> int:
        link_id = len(self.links) + 1
        target = next(n for n in self.nodes if n["id"] == dst)
        index, entry = next((i, e) for i, e in enumerate(target["inputs"]) if e["name"] == input_name)
        entry["link"] = link_id
        source = next(n for n in self.nodes if n["id"] == src)
        if source["outputs"]:
            source["outputs"][slot]["links"].append(link_id)
        self.links.append([link_id, src, slot, dst, index, entry["type"]])
        return link_id

    def workflow(self) -> dict[str, Any]:
        return {
            "id": "00000000-0000-4000-8000-000000000000",
            "revision": 0,
            "last_node_id": max((n["id"] for n in self.nodes), default=0),
            "last_link_id": len(self.links),
            "nodes": self.nodes,
            "links": self.links,
            "groups": [],
            "config": {},
            "extra": {"frontendVersion": "1.47.12"},
            "version": 0.4,
        }


# -- widget_slots: which values a node's widgets_values holds ---------------------------------


def labels(node_type: str) -> list[str]:
    return [s.label for s in widget_slots(OBJECT_INFO[node_type])]


def test_widget_slots_of_core_nodes() -> None:
    assert labels("EmptyImage") == ["width", "height", "batch_size", "color"]
    assert labels("ImageScale") == ["upscale_method", "width", "height", "crop"]
    assert labels("SaveImage") == ["filename_prefix"]
    assert labels("PreviewImage") == []
    assert labels("ImageInvert") == []
    # LoadImage: the combo, then the upload button's value ("image").
    assert labels("LoadImage") == ["image", "upload"]
    assert labels("LoadImageMask") == ["image", "channel", "upload"]
    # seed has control_after_generate: true, V3 PrimitiveInt has it as the string "fixed".
    assert labels("KSampler") == [
        "seed",
        "seed:control_after_generate",
        "steps",
        "cfg",
        "sampler_name",
        "scheduler",
        "denoise",
    ]
    assert labels("RandomNoise") == ["noise_seed", "noise_seed:control_after_generate"]
    assert labels("PrimitiveInt") == ["value", "value:control_after_generate"]
    # V3 combo spec ["COMBO", {"options": [...]}]; the optional IMAGE input is a socket.
    assert labels("ImageStitch") == [
        "direction",
        "match_image_size",
        "spacing_width",
        "spacing_color",
    ]


def test_widget_slots_follow_frontend_rules() -> None:
    node_def = {
        "input": {
            "required": {
                "image": ["IMAGE"],
                "seed": ["INT", {"default": 0}],  # legacy: named seed -> control widget
                "count": ["INT", {"default": 1, "control_after_generate": False}],
                "noise_seed": ["INT", {"control_after_generate": False}],
                "mode": ["COMBO", {"options": ["a", "b"], "control_after_generate": True}],
                "strength": ["FLOAT", {"forceInput": True}],  # socket only
                "colour": ["STRING", {"widgetType": "COMBO"}],
                "masks": ["DOODLE_MASKS", {}],
            },
            "optional": {"extra": ["BOOLEAN", {"default": False}], "mask": ["MASK"]},
        },
        # input_order, not dict order, decides (as getOrderedInputSpecs does).
        "input_order": {
            "required": ["image", "seed", "count", "noise_seed", "mode", "strength", "colour", "masks"],
            "optional": ["mask", "extra"],
        },
    }
    assert [s.label for s in widget_slots(node_def)] == [
        "seed",
        "seed:control_after_generate",
        "count",
        "noise_seed",
        "mode",
        "mode:control_after_generate",
        "mode:control_filter_list",
        "colour",
        "extra",
    ]


# -- ui_to_api ------------------------------------------------------------------------------


def test_links_and_widgets() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", [64, 32, 1, 255], outputs=("IMAGE",))
    g.node(
        2,
        "ImageScale",
        ["bilinear", 16, 8, "center"],
        inputs=(("image", "IMAGE"),),
        outputs=("IMAGE",),
        title="Shrink",
    )
    g.node(3, "SaveImage", ["out/x"], inputs=(("images", "IMAGE"),))
    g.connect(1, 0, 2, "image")
    g.connect(2, 0, 3, "images")
    assert ui_to_api(g.workflow(), OBJECT_INFO) == {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 32, "batch_size": 1, "color": 255},
            "_meta": {"title": "Empty Image"},
        },
        "2": {
            "class_type": "ImageScale",
            "inputs": {
                "upscale_method": "bilinear",
                "width": 16,
                "height": 8,
                "crop": "center",
                "image": ["1", 0],
            },
            "_meta": {"title": "Shrink"},
        },
        "3": {
            "class_type": "SaveImage",
            "inputs": {"filename_prefix": "out/x", "images": ["2", 0]},
            "_meta": {"title": "Save Image"},
        },
    }


def test_control_after_generate_value_is_skipped() -> None:
    g = UIGraph()
    g.node(
        5,
        "KSampler",
        [42, "randomize", 20, 7.5, "euler", "normal", 1.0],
        inputs=(
            ("model", "MODEL"),
            ("positive", "CONDITIONING"),
            ("negative", "CONDITIONING"),
            ("latent_image", "LATENT"),
        ),
    )
    g.node(6, "PrimitiveInt", [7, "fixed"], outputs=("INT",))
    g.node(7, "RandomNoise", [123, "increment"], outputs=("NOISE",))
    prompt = ui_to_api(g.workflow(), OBJECT_INFO)
    assert prompt["5"]["inputs"] == {
        "seed": 42,
        "steps": 20,
        "cfg": 7.5,
        "sampler_name": "euler",
        "scheduler": "normal",
        "denoise": 1.0,
    }
    assert prompt["6"]["inputs"] == {"value": 7}
    assert prompt["7"]["inputs"] == {"noise_seed": 123}


def test_load_image_upload_value_is_skipped() -> None:
    g = UIGraph()
    g.node(1, "LoadImage", ["photo.png", "image"], outputs=("IMAGE", "MASK"))
    assert ui_to_api(g.workflow(), OBJECT_INFO)["1"]["inputs"] == {"image": "photo.png"}


def test_widget_converted_to_input_takes_the_link() -> None:
    g = UIGraph()
    g.node(1, "PrimitiveInt", [24, "fixed"], outputs=("INT",))
    g.node(2, "EmptyImage", [512, 512, 1, 0], outputs=("IMAGE",), widget_inputs=(("width", "INT"),))
    g.connect(1, 0, 2, "width")
    inputs = ui_to_api(g.workflow(), OBJECT_INFO)["2"]["inputs"]
    assert inputs == {"width": ["1", 0], "height": 512, "batch_size": 1, "color": 0}


def test_unlinked_widget_sockets_keep_widget_values() -> None:
    g = UIGraph()
    g.node(
        2,
        "EmptyImage",
        [10, 20, 1, 0],
        outputs=("IMAGE",),
        widget_inputs=(("width", "INT"), ("height", "INT"), ("batch_size", "INT"), ("color", "INT")),
    )
    assert ui_to_api(g.workflow(), OBJECT_INFO)["2"]["inputs"] == {
        "width": 10,
        "height": 20,
        "batch_size": 1,
        "color": 0,
    }


def test_primitive_node_value_reaches_target() -> None:
    g = UIGraph()
    g.node(9, "PrimitiveNode", [48, "fixed"], outputs=("INT",))
    g.node(2, "EmptyImage", [512, 16, 1, 0], outputs=("IMAGE",), widget_inputs=(("width", "INT"),))
    g.connect(9, 0, 2, "width")
    prompt = ui_to_api(g.workflow(), OBJECT_INFO)
    assert set(prompt) == {"2"}
    assert prompt["2"]["inputs"]["width"] == 48


def test_reroute_passes_the_link_through() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", [8, 8, 1, 0], outputs=("IMAGE",))
    g.node(2, "Reroute", [], inputs=(("", "*"),), outputs=("IMAGE",))
    g.node(3, "Reroute", [], inputs=(("", "*"),), outputs=("IMAGE",))
    g.node(4, "PreviewImage", [], inputs=(("images", "IMAGE"),))
    g.connect(1, 0, 2, "")
    g.connect(2, 0, 3, "")
    g.connect(3, 0, 4, "images")
    prompt = ui_to_api(g.workflow(), OBJECT_INFO)
    assert set(prompt) == {"1", "4"}
    assert prompt["4"]["inputs"] == {"images": ["1", 0]}


def test_muted_node_is_dropped_with_its_links() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", [8, 8, 1, 0], outputs=("IMAGE",))
    g.node(2, "ImageInvert", [], inputs=(("image", "IMAGE"),), outputs=("IMAGE",), mode=2)
    g.node(3, "PreviewImage", [], inputs=(("images", "IMAGE"),))
    g.node(4, "PrimitiveInt", [5, "fixed"], outputs=("INT",), mode=2)
    g.node(5, "EmptyImage", [9, 9, 1, 0], outputs=("IMAGE",), widget_inputs=(("width", "INT"),))
    g.connect(1, 0, 2, "image")
    g.connect(2, 0, 3, "images")
    g.connect(4, 0, 5, "width")
    prompt = ui_to_api(g.workflow(), OBJECT_INFO)
    assert set(prompt) == {"1", "3", "5"}
    assert prompt["3"]["inputs"] == {}  # ComfyUI will then report the missing input
    assert prompt["5"]["inputs"]["width"] == 9  # the widget value stays


def test_bypassed_node_passes_matching_input_through() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", [8, 8, 1, 0], outputs=("IMAGE",))
    g.node(
        2,
        "ImageScale",
        ["area", 4, 4, "disabled"],
        inputs=(("image", "IMAGE"),),
        outputs=("IMAGE",),
        mode=4,
    )
    g.node(3, "SaveImage", ["x"], inputs=(("images", "IMAGE"),))
    g.connect(1, 0, 2, "image")
    g.connect(2, 0, 3, "images")
    prompt = ui_to_api(g.workflow(), OBJECT_INFO)
    assert set(prompt) == {"1", "3"}
    assert prompt["3"]["inputs"]["images"] == ["1", 0]


def test_bypassed_node_without_matching_input_leaves_input_unlinked() -> None:
    g = UIGraph()
    g.node(1, "SolidMask", [1.0, 8, 8], outputs=("MASK",))
    g.node(2, "EmptyImage", [8, 8, 1, 0], outputs=("IMAGE",), mode=4)
    g.node(3, "PreviewImage", [], inputs=(("images", "IMAGE"),))
    g.connect(2, 0, 3, "images")
    assert ui_to_api(g.workflow(), OBJECT_INFO)["3"]["inputs"] == {}


def test_schema_v1_links_and_list_values() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", [8, 8, 1, 0], outputs=("IMAGE",))
    g.node(2, "PreviewImage", [], inputs=(("images", "IMAGE"),))
    g.connect(1, 0, 2, "images")
    wf = g.workflow()
    wf["links"] = [
        dict(zip(("id", "origin_id", "origin_slot", "target_id", "target_slot", "type"), link, strict=True))
        for link in wf["links"]
    ]
    assert ui_to_api(wf, OBJECT_INFO)["2"]["inputs"] == {"images": ["1", 0]}
    wf["nodes"][0]["widgets_values"] = [8, [1, 2], 1, 0]
    assert ui_to_api(wf, OBJECT_INFO)["1"]["inputs"]["height"] == {"__value__": [1, 2]}


def test_widgets_values_by_name() -> None:
    g = UIGraph()
    g.node(1, "EmptyImage", {"width": 3, "height": 4, "batch_size": 1, "color": 5, "extra": 0})
    assert ui_to_api(g.workflow(), OBJECT_INFO)["1"]["inputs"] == {
        "width": 3,
        "height": 4,
        "batch_size": 1,
        "color": 5,
    }
    g.nodes[0]["widgets_values"] = {"width": 3}
    with pytest.raises(WorkflowConversionError, match="lacks"):
        ui_to_api(g.workflow(), OBJECT_INFO)


def test_legacy_force_input_values_are_dropped() -> None:
    node_def = {
        "input": {"required": {"a": ["INT", {"forceInput": True}], "b": ["INT", {}]}},
        "input_order": {"required": ["a", "b"]},
    }
    g = UIGraph()
    g.node(1, "Legacy", [1, 2])
    assert ui_to_api(g.workflow(), {"Legacy": node_def})["1"]["inputs"] == {"b": 2}


def test_unknown_node_type_fails() -> None:
    g = UIGraph()
    g.node(7, "DoodleNoSuchNode", [1])
    with pytest.raises(WorkflowConversionError, match=r"node 7 .*DoodleNoSuchNode"):
        ui_to_api(g.workflow(), OBJECT_INFO)


@pytest.mark.parametrize(
    "values",
    [
        [64, 32, 1],  # one too few
        [64, 32, 1, 0, 0],  # one too many
        [42, 20, 7.5, "euler", "normal", 1.0],  # (for KSampler: control value missing)
    ],
)
def test_widget_count_mismatch_fails(values: list[Any]) -> None:
    g = UIGraph()
    g.node(3, "EmptyImage" if len(values) < 6 else "KSampler", values)
    with pytest.raises(WorkflowConversionError, match=r"node 3 .*widgets_values"):
        ui_to_api(g.workflow(), OBJECT_INFO)


def test_broken_links_fail() -> None:
    g = UIGraph()
    g.node(1, "PreviewImage", [], inputs=(("images", "IMAGE"),))
    g.nodes[0]["inputs"][0]["link"] = 99
    with pytest.raises(WorkflowConversionError, match="99"):
        ui_to_api(g.workflow(), OBJECT_INFO)


def test_api_prompt_is_rejected() -> None:
    with pytest.raises(WorkflowConversionError, match="not a UI workflow"):
        ui_to_api({"1": {"class_type": "EmptyImage", "inputs": {}}}, OBJECT_INFO)


# -- against the real server --------------------------------------------------------------------


def test_snapshot_matches_server(comfyui: ComfyUIClient) -> None:
    """The captured definitions still describe the server's nodes (else refresh the snapshot)."""
    live = comfyui.object_info()
    for name, node_def in OBJECT_INFO.items():
        assert name in live, name
        assert widget_slots(live[name]) == widget_slots(node_def), name
        assert live[name]["input_order"] == node_def["input_order"], name


def test_converted_workflow_runs(comfyui: ComfyUIClient, tmp_path: Path) -> None:
    g = UIGraph()
    g.node(20, "PrimitiveNode", [6, "fixed"], outputs=("INT",), title="width")
    g.node(
        1,
        "EmptyImage",
        [512, 4, 1, 0x102030],
        outputs=("IMAGE",),
        widget_inputs=(("width", "INT"),),
    )
    g.node(2, "Reroute", [], inputs=(("", "*"),), outputs=("IMAGE",))
    g.node(3, "ImageInvert", [], inputs=(("image", "IMAGE"),), outputs=("IMAGE",))
    g.node(4, "ImageBlur", [5, 2.0], inputs=(("image", "IMAGE"),), outputs=("IMAGE",), mode=4)
    g.node(5, "SaveImage", ["convert/run"], inputs=(("images", "IMAGE"),))
    g.node(6, "PreviewImage", [], inputs=(("images", "IMAGE"),), mode=2)
    g.connect(20, 0, 1, "width")
    g.connect(1, 0, 2, "")
    g.connect(2, 0, 3, "image")
    g.connect(3, 0, 4, "image")
    g.connect(4, 0, 5, "images")
    g.connect(4, 0, 6, "images")
    workflow = g.workflow()
    prompt = ui_to_api(copy.deepcopy(workflow), comfyui.object_info())
    assert set(prompt) == {"1", "3", "5"}
    img = comfyui.run(prompt, timeout=60).image("5")
    assert img.shape == (4, 6, 3)
    assert (img == np.array([0xEF, 0xDF, 0xCF], dtype=np.uint8)).all()
    # The same through a saved file.
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(workflow))
    np.testing.assert_array_equal(comfyui.run_workflow(path, timeout=60).image("5"), img)
