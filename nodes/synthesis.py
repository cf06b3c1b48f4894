"""SynthesizeDoodle: any painting's doodle painted in seconds with the painting's own strokes, no training."""

from __future__ import annotations

import torch
from comfy_api.latest import io

from ..doodle import api
from . import host
from .declared_inputs import declared_inputs, declared_settings
from .types import CATEGORY, MasksSocket


class SynthesizeDoodle(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SynthesizeDoodle",
            display_name="Synthesize Doodle (instant, any painting)",
            category=CATEGORY,
            search_aliases=[
                "neural doodle",
                "texture by numbers",
                "instant",
                "patch synthesis",
                "image analogies",
                "paint doodle",
            ],
            description="Paint the doodle with pieces of the painting itself, each region from the same region of "
            "the painting: no network, no training, seconds on a CPU. Connect the painting, its colour map, and "
            "a doodle in the map's colours (MaskFromColors, DoodleCanvas or RandomDoodleMask).",
            inputs=[
                io.Image.Input("style_image", tooltip="The painting whose strokes to use."),
                io.Image.Input(
                    "style_map", tooltip="The painting's colour-coded map of regions, the same size as the painting."
                ),
                MasksSocket.Input("doodle", tooltip="The doodle, painted in the map's colours."),
                *declared_inputs(api.SynthesisSettings),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(
        cls, style_image: torch.Tensor, style_map: torch.Tensor, doodle: api.RegionMasks, **settings: object
    ) -> io.NodeOutput:
        style = api.Style(style_image, api.masks_from_colors(style_map))
        progress = host.ComfyProgress(1)
        image = api.synthesize_image(
            style,
            doodle,
            declared_settings(api.SynthesisSettings, settings),
            device=host.device(),
            progress=progress,
        )
        image = image.to(host.output_device())
        progress.show_result(image)  # over the live previews of a long run; a short one sent none
        return io.NodeOutput(image)  # shown by a Preview or Save node, as ComfyUI's own
