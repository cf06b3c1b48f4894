"""DoodleCanvas: a doodle painted in the page with a source's palette, as masks and a colour image.

The painting is a PNG the page uploads into ``input/`` (one file per node, rewritten as you paint); the node
reads that file, so saved workflows reopen with the painting and nothing is base64 in the workflow.
"""

from __future__ import annotations

import logging

from comfy_api.latest import io

from ..doodle import api
from ..doodle.limits import MAX_CANVAS_SIDE, MIN_DOODLE_SIDE, NEW_DOODLE_HEIGHT, NEW_DOODLE_WIDTH
from . import host
from .types import CATEGORY, MasksSocket

log = logging.getLogger(__name__)

WIDGET_TYPE = "DOODLE_CANVAS"
"""The page's widget for the ``painting`` input (``web/js/doodle_canvas.js``)."""


class DoodleCanvas(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DoodleCanvas",
            display_name="Doodle Canvas",
            category=CATEGORY,
            description="Paint a doodle in the page with the exact colours of a generator or a style map; every "
            "painted pixel is one of its regions. Live mode renders as you paint.",
            search_aliases=["neural doodle", "paint doodle", "semantic map", "segmentation map", "draw"],
            inputs=[
                io.Combo.Input(
                    "palette",
                    options=host.palette_sources(),
                    tooltip="Whose colours to paint with: a generator's regions or a style map's colours (images in "
                    "input/ that are paintings or photos are not listed: their colours make no palette).",
                ),
                io.String.Input("painting", default="", socketless=True, extra_dict={"widgetType": WIDGET_TYPE}),
                io.Int.Input("width", default=NEW_DOODLE_WIDTH, min=MIN_DOODLE_SIDE, max=MAX_CANVAS_SIDE, step=8),
                io.Int.Input("height", default=NEW_DOODLE_HEIGHT, min=MIN_DOODLE_SIDE, max=MAX_CANVAS_SIDE, step=8),
            ],
            outputs=[
                MasksSocket.Output(display_name="masks"),
                io.Image.Output(display_name="image", tooltip="The doodle as painted, in the palette's 8-bit colours."),
            ],
        )

    @classmethod
    def validate_inputs(cls, palette: str, painting: str, width: int, height: int) -> bool | str:
        try:
            if host.awaited_map(palette) is None:  # a map not made yet is waited for when the graph runs
                host.palette_source_path(palette)
        except api.DoodleError as error:
            return f"palette: {error}"
        if painting.strip() and host.painting_path(painting) is None:
            return f"the painting {painting!r} is not in input/: paint on the canvas again or clear it"
        return True

    @classmethod
    def fingerprint_inputs(cls, palette: str, painting: str, width: int, height: int) -> str:
        """Run again when the painting's file or the palette's source changes on disk."""
        return host.file_fingerprint(host.painting_path(painting)) + host.palette_fingerprint(palette)

    @classmethod
    def execute(cls, palette: str, painting: str, width: int, height: int) -> io.NodeOutput:
        awaited = host.awaited_map(palette)
        if awaited:  # e.g. template 9's first run, which makes the map: the nodes after the canvas wait
            log.warning("DoodleCanvas: %s is not in input/ yet; the nodes after this canvas wait for it", awaited)
            return io.NodeOutput(*host.waiting(2))
        colors = host.palette(palette)
        path = host.painting_path(painting)
        masks = colors.blank(width, height) if path is None else colors.masks_of(api.load_image(path))
        return io.NodeOutput(masks, colors.image_of(masks).to(host.output_device()))
