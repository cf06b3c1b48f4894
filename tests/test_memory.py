"""Out of memory, on CPU or CUDA, becomes a DoodleError with a hint; other errors pass through unchanged."""

from __future__ import annotations

import pytest
import torch

from doodle.errors import DoodleError
from doodle.generator.render import render
from doodle.neural.objective import DoodleObjective
from doodle.neural.optimize import optimize_doodle
from doodle.neural.optimize_settings import OptimizeSettings
from tests.helpers import tiny_network
from tests.test_generator import small_bundle
from tests.test_optimize import style_image, two_regions

CPU_OOM = RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory: you tried...")


def raiser(error: BaseException):
    def fail(*args, **kwargs):
        raise error

    return fail


def test_render_out_of_memory_suggests_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = small_bundle()
    monkeypatch.setattr(bundle.model, "forward", raiser(torch.OutOfMemoryError("CUDA out of memory")))
    with pytest.raises(DoodleError, match="out of memory rendering 32x32: use a smaller tile_size"):
        render(bundle, torch.ones(1, 3, 32, 32) / 3)


def test_optimisation_out_of_memory_suggests_a_smaller_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DoodleObjective, "__call__", raiser(CPU_OOM))
    masks = two_regions(40, 40, 20)
    with pytest.raises(DoodleError, match="out of memory optimising 40x40: use a smaller size"):
        optimize_doodle(tiny_network(), style_image(), masks, masks, OptimizeSettings(iterations=2))


def test_other_runtime_errors_are_not_disguised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DoodleObjective, "__call__", raiser(RuntimeError("shape mismatch")))
    masks = two_regions(40, 40, 20)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        optimize_doodle(tiny_network(), style_image(), masks, masks, OptimizeSettings(iterations=2))
