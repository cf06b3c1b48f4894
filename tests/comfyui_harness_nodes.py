"""Test-only ComfyUI nodes that the harness copies into the server's custom_nodes folder.

Why: the harness's error and interrupt paths need a node that fails on demand and one that runs
long without using the CPU; core nodes offer neither. This file is loaded by ComfyUI (V1 API,
the simplest stable form), not by pytest.
"""

import time

import comfy.model_management


class DoodleHarnessRaise:
    """Raises ValueError(message) when run: exercises the harness's execution_error path."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"message": ("STRING", {"default": "boom"})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "_for_testing/doodle"
    OUTPUT_NODE = True  # runs on its own, with no node after it

    def run(self, message):
        raise ValueError(message)


class DoodleHarnessSleep:
    """Sleeps, checking for an interrupt every 20 ms: exercises POST /interrupt cheaply."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 600.0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "_for_testing/doodle"
    OUTPUT_NODE = True  # runs on its own, with no node after it

    @classmethod
    def IS_CHANGED(cls, seconds):
        return float("nan")  # never cached: each prompt really sleeps

    def run(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            comfy.model_management.throw_exception_if_processing_interrupted()
            time.sleep(0.02)
        return (int(seconds),)


NODE_CLASS_MAPPINGS = {
    "DoodleHarnessRaise": DoodleHarnessRaise,
    "DoodleHarnessSleep": DoodleHarnessSleep,
}
