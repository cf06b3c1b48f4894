"""StyleMapFromPainting: a colour-coded map of any painting's regions, found automatically, to edit on a canvas
and paint doodles against."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from . import host
from .declared_inputs import declared_inputs, declared_settings
from .types import CATEGORY, MasksSocket

DEFAULT_SAVE_AS = "new_style_map"


class StyleMapFromPainting(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="StyleMapFromPainting",
            display_name="Style Map From Painting",
            category=CATEGORY,
            is_output_node=True,  # it saves the map in input/, wanted even where nothing is connected to it
            search_aliases=["segment", "segmentation", "automatic map", "style map", "regions", "neural doodle"],
            description="Split a painting into regions automatically and colour each: the style map a doodle is "
            "painted against. The map is also saved in input/, where a Doodle Canvas can edit it over the "
            "painting (its palette 'edit style map: ...').",
            inputs=[
                io.Image.Input("painting", tooltip="The painting (or photo) to find regions in."),
                *declared_inputs(api.SegmentationSettings),
                io.String.Input(
                    "save_as",
                    default=DEFAULT_SAVE_AS,
                    tooltip="File name in input/ for the map (PNG), rewritten at each run; empty: not saved.",
                ),
            ],
            outputs=[
                io.Image.Output(display_name="map", tooltip="The style map: one flat colour a region."),
                MasksSocket.Output(display_name="masks"),
            ],
        )

    @classmethod
    def validate_inputs(cls, save_as: str = DEFAULT_SAVE_AS, **settings: object) -> bool | str:
        try:
            host.check_input_name(save_as)
        except api.DoodleError as error:
            return str(error)
        return True

    @classmethod
    def execute(cls, painting: torch.Tensor, save_as: str = DEFAULT_SAVE_AS, **settings: object) -> io.NodeOutput:
        network_choice = api.NetworkChoice(device=host.device(), extra_dirs=host.vgg_dirs())
        masks = api.style_map_from_painting(
            painting, declared_settings(api.SegmentationSettings, settings), network_choice=network_choice
        )
        image = masks.preview().to(host.output_device())
        shown = ui.PreviewImage(image, cls=cls).as_dict()
        if save_as.strip():
            shown["doodle_saved_map"] = [host.save_input_image(image, save_as.strip())]
        return io.NodeOutput(image, masks, ui=shown)
