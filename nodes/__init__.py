"""The ComfyUI side of doodle: thin V3 nodes over the core in ``doodle/``."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from . import host, routes
from .canvas import DoodleCanvas
from .generator import LoadDoodleGenerator, RenderDoodle, TrainDoodleStyle
from .masks import DoodleMasksToMask, MaskFromColors, MaskToDoodleMasks, RandomDoodleMask
from .optimize import OptimizeDoodle
from .segmentation import StyleMapFromPainting
from .synthesis import SynthesizeDoodle

NODES: list[type[io.ComfyNode]] = [
    MaskFromColors,
    RandomDoodleMask,
    LoadDoodleGenerator,
    RenderDoodle,
    TrainDoodleStyle,
    OptimizeDoodle,
    DoodleCanvas,
    DoodleMasksToMask,
    MaskToDoodleMasks,
    SynthesizeDoodle,
    StyleMapFromPainting,
]


class DoodleExtension(ComfyExtension):
    async def on_load(self) -> None:
        host.register_model_folders()
        host.install_example_inputs()
        routes.register(host.server_routes())

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return NODES


async def comfy_entrypoint() -> DoodleExtension:
    return DoodleExtension()
