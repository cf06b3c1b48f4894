"""Smoke tests of the ComfyUI harness with core nodes only (they run before doodle's nodes exist).

Why: if these fail, a failing doodle integration test says nothing about doodle; they pin down
that the server starts, runs prompts, returns images and reports errors as the harness expects.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.comfyui_harness import (
    ComfyUIClient,
    ComfyUIError,
    PromptExecutionError,
    PromptInterrupted,
    PromptValidationError,
    import_failure_excerpt,
)


def test_server_has_core_and_helper_nodes(comfyui: ComfyUIClient) -> None:
    info = comfyui.object_info()
    for node_id in ("EmptyImage", "LoadImage", "ImageInvert", "SaveImage", "PreviewImage"):
        assert node_id in info
    comfyui.require_nodes("DoodleHarnessRaise", "DoodleHarnessSleep")
    assert "Starting server" in comfyui.log()


def test_empty_image_to_save_image(comfyui: ComfyUIClient) -> None:
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 4, "batch_size": 2, "color": 0xFF8000},
        },
        "2": {
            "class_type": "SaveImage",
            "inputs": {"images": ["1", 0], "filename_prefix": "smoke/empty"},
        },
    }
    result = comfyui.run(prompt, timeout=60)
    images = result.images("2")
    assert len(images) == 2
    for img in images:
        assert img.shape == (4, 8, 3) and img.dtype == np.uint8
        assert (img == np.array([255, 128, 0], dtype=np.uint8)).all()
    refs = result.files("2")
    assert refs[0].type == "output" and refs[0].subfolder == "smoke"
    paths = result.image_paths("2")
    assert all(p.is_file() and p.parent == comfyui.output_dir / "smoke" for p in paths)


def test_load_image_invert_save_and_preview(comfyui: ComfyUIClient, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    png = tmp_path / "noise.png"
    Image.fromarray(src).save(png)
    name = comfyui.copy_input(png, name="smoke_noise.png")
    prompt = {
        "10": {"class_type": "LoadImage", "inputs": {"image": name}},
        "11": {"class_type": "ImageInvert", "inputs": {"image": ["10", 0]}},
        "12": {
            "class_type": "SaveImage",
            "inputs": {"images": ["11", 0], "filename_prefix": "smoke_invert"},
        },
        "13": {"class_type": "PreviewImage", "inputs": {"images": ["11", 0]}},
    }
    result = comfyui.run(prompt, timeout=60)
    # SaveImage/PreviewImage write clip(255 * x).astype(uint8): truncation, so a value that
    # comes back as 159.9999 in float32 is saved as 159. Allow that off-by-one.
    expected = (255 - src).astype(np.int16)
    for node_id in ("12", "13"):
        diff = result.image(node_id).astype(np.int16) - expected
        assert diff.min() >= -1 and diff.max() == 0
    assert result.files("13")[0].type == "temp"
    assert result.image_paths("13")[0].parent == comfyui.temp_dir


def test_input_image_from_array(comfyui: ComfyUIClient) -> None:
    src = np.zeros((3, 4, 4), dtype=np.uint8)
    src[..., 0] = 200
    src[..., 3] = 255
    name = comfyui.save_input_image(src, "rgba.png", subfolder="smoke")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": name}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    img = comfyui.run(prompt, timeout=60).image("2")
    assert img.shape == (3, 4, 3)
    assert (img[..., 0] == 200).all() and (img[..., 1:] == 0).all()


def test_validation_error_lists_node_errors(comfyui: ComfyUIClient) -> None:
    prompt = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": "wide", "height": 4, "batch_size": 1, "color": 0},
        },
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    with pytest.raises(PromptValidationError) as excinfo:
        comfyui.run(prompt)
    assert "1" in excinfo.value.node_errors
    assert "width" in str(excinfo.value)


def test_unknown_node_type_is_a_validation_error(comfyui: ComfyUIClient) -> None:
    with pytest.raises(PromptValidationError, match="NoSuchNode"):
        comfyui.run({"1": {"class_type": "NoSuchNode", "inputs": {}}})


def test_execution_error_carries_exception(comfyui: ComfyUIClient) -> None:
    prompt = {"1": {"class_type": "DoodleHarnessRaise", "inputs": {"message": "kaboom 42"}}}
    with pytest.raises(PromptExecutionError) as excinfo:
        comfyui.run(prompt, timeout=60)
    err = excinfo.value
    assert err.node_id == "1" and err.node_type == "DoodleHarnessRaise"
    assert err.exception_type.endswith("ValueError")
    assert err.exception_message == "kaboom 42"
    # check=False hands back the failed result instead of raising.
    result = comfyui.run(
        {"1": {"class_type": "DoodleHarnessRaise", "inputs": {"message": "again"}}},
        check=False,
    )
    assert result.status["status_str"] == "error"


def test_interrupt_stops_running_prompt(comfyui: ComfyUIClient) -> None:
    prompt = {"1": {"class_type": "DoodleHarnessSleep", "inputs": {"seconds": 60.0}}}
    start = time.monotonic()
    prompt_id = comfyui.submit(prompt)
    result = comfyui.cancel(prompt_id)
    assert time.monotonic() - start < 30
    assert result.status["status_str"] == "error"
    assert any(kind == "execution_interrupted" for kind, _ in result.messages)
    with pytest.raises(PromptInterrupted):
        comfyui.wait(prompt_id)  # with check=True, an interrupted prompt raises
    # The server is usable afterwards.
    ok = {"1": {"class_type": "DoodleHarnessSleep", "inputs": {"seconds": 0.0}}}
    assert comfyui.run(ok, timeout=30).status["status_str"] == "success"


def test_require_nodes_reports_missing(comfyui: ComfyUIClient) -> None:
    comfyui.require_nodes("EmptyImage")
    with pytest.raises(ComfyUIError, match="NoSuchDoodleNode"):
        comfyui.require_nodes("NoSuchDoodleNode")


def test_import_failure_excerpt() -> None:
    log = "\n".join(
        [
            "Starting up",
            "Traceback (most recent call last):",
            '  File "/x/custom_nodes/doodle/__init__.py", line 1, in <module>',
            "ModuleNotFoundError: No module named 'nope'",
            "Cannot import /x/custom_nodes/doodle module for custom nodes: No module named 'nope'",
            "",
            "Import times for custom nodes:",
            "   0.0 seconds (IMPORT FAILED): /x/custom_nodes/doodle",
        ]
    )
    excerpt = import_failure_excerpt(log, context=2)
    assert "No module named 'nope'" in excerpt and "IMPORT FAILED" in excerpt
    assert import_failure_excerpt("all fine\nStarting server") == ""
