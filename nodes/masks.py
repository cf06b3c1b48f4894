"""MaskFromColors and RandomDoodleMask: colour maps and random maps to DOODLE_MASKS; and to and from core MASKs."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from ..doodle.limits import (
    MAX_BATCH,
    MAX_COLORS,
    MAX_MASK_SIDE,
    MAX_SMOOTHING,
    MIN_DOODLE_SIDE,
    NEW_DOODLE_HEIGHT,
    NEW_DOODLE_REGIONS,
    NEW_DOODLE_WIDTH,
)
from . import host
from .types import CATEGORY, SEED_MAX, MasksSocket

MAX_REGIONS = 16
"""The most regions the node draws a random map with (the core takes up to one a pixel)."""


class MaskFromColors(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MaskFromColors",
            has_intermediate_output=True,  # its preview survives a page reload
            search_aliases=["neural doodle", "doodle masks", "semantic map", "segmentation map", "colour map to masks"],
            display_name="Mask From Colors",
            category=CATEGORY,
            description="Turn a colour-coded map into region masks. Anti-aliased edges and JPEG noise are ignored; "
            "near-miss colours (254,0,0 vs 255,51,31) are matched to palette_from's regions.",
            inputs=[
                io.Image.Input("image", tooltip="A map painted in flat colours, one colour per region."),
                io.Int.Input(
                    "n_colors",
                    default=0,
                    min=0,
                    max=MAX_COLORS,
                    tooltip="Number of regions; 0 detects the painted colours automatically.",
                ),
                MasksSocket.Input(
                    "palette_from",
                    optional=True,
                    tooltip="Masks of another map (the style's): reuse its palette so regions line up.",
                ),
            ],
            outputs=[
                MasksSocket.Output(display_name="masks"),
                io.Image.Output(display_name="preview", tooltip="Each pixel in its region's palette colour."),
            ],
        )

    @classmethod
    def execute(cls, image: torch.Tensor, n_colors: int, palette_from: api.RegionMasks | None = None) -> io.NodeOutput:
        masks = api.masks_from_colors(image, n_colors, palette_from)
        preview = masks.preview().to(host.output_device())
        return io.NodeOutput(masks, preview, ui=ui.PreviewImage(preview, cls=cls))


class RandomDoodleMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="RandomDoodleMask",
            has_intermediate_output=True,  # its preview survives a page reload
            search_aliases=["neural doodle", "random doodle", "random map", "surprise doodle"],
            display_name="Random Doodle Mask",
            category=CATEGORY,
            description="Random smooth region maps (diamond-square heights, K-means, median filter): a surprise "
            "doodle, and the training data of feed-forward generators.",
            inputs=[
                io.Int.Input("width", default=NEW_DOODLE_WIDTH, min=MIN_DOODLE_SIDE, max=MAX_MASK_SIDE, step=8),
                io.Int.Input("height", default=NEW_DOODLE_HEIGHT, min=MIN_DOODLE_SIDE, max=MAX_MASK_SIDE, step=8),
                io.Int.Input(
                    "n_regions",
                    default=NEW_DOODLE_REGIONS,
                    min=1,
                    max=MAX_REGIONS,
                    tooltip="Ignored when palette_from is given.",
                ),
                io.Int.Input("seed", default=0, min=0, max=SEED_MAX, control_after_generate=True),
                io.Int.Input("batch_size", default=1, min=1, max=MAX_BATCH),
                io.Float.Input(
                    "roughness",
                    default=api.MaskShape.roughness,
                    min=0.0,
                    max=1.0,
                    step=0.05,
                    tooltip="Low: round blobs. High: ragged coasts.",
                ),
                io.Int.Input(
                    "smoothing",
                    default=api.MaskShape.smoothing,
                    min=0,
                    max=MAX_SMOOTHING,
                    tooltip="Median filter diameter in pixels: removes thin slivers.",
                ),
                MasksSocket.Input(
                    "palette_from",
                    optional=True,
                    tooltip="Use these masks' palette (and region count), e.g. a generator's style map.",
                ),
            ],
            outputs=[MasksSocket.Output(display_name="masks"), io.Image.Output(display_name="preview")],
        )

    @classmethod
    def execute(
        cls,
        width: int,
        height: int,
        n_regions: int,
        seed: int,
        batch_size: int,
        roughness: float,
        smoothing: int,
        palette_from: api.RegionMasks | None = None,
    ) -> io.NodeOutput:
        palette = None if palette_from is None else palette_from.palette
        regions = n_regions if palette is None else palette.shape[0]
        shape = api.MaskShape(roughness=roughness, smoothing=smoothing)
        masks = api.random_masks(width, height, regions, seed, batch_size=batch_size, shape=shape, palette=palette)
        preview = masks.preview().to(host.output_device())
        return io.NodeOutput(masks, preview, ui=ui.PreviewImage(preview, cls=cls))


class DoodleMasksToMask(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="DoodleMasksToMask",
            search_aliases=["neural doodle", "doodle masks to mask", "region mask", "inpaint region"],
            display_name="Doodle Masks To Mask",
            category=CATEGORY,
            description="Regions of DOODLE_MASKS as a core MASK: one region of every image (e.g. to inpaint it), "
            "or with region -1 every region of every image as a batch.",
            inputs=[
                MasksSocket.Input("masks"),
                io.Int.Input("region", default=-1, min=-1, max=255, tooltip="Region index; -1 = all, as a batch."),
            ],
            outputs=[io.Mask.Output(display_name="mask")],
        )

    @classmethod
    def execute(cls, masks: api.RegionMasks, region: int) -> io.NodeOutput:
        return io.NodeOutput(masks.as_mask(None if region < 0 else region).to(host.output_device()))


class MaskToDoodleMasks(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="MaskToDoodleMasks",
            search_aliases=["neural doodle", "mask to doodle", "segmentation to doodle", "SAM masks"],
            display_name="Mask To Doodle Masks",
            category=CATEGORY,
            description="A MASK batch (one mask per region, e.g. from a segmentation node) as one doodle map: each "
            "pixel joins the region whose mask is strongest there; pixels no mask covers join region 0.",
            inputs=[
                io.Mask.Input("mask", tooltip="[regions, height, width]: put the background's mask first."),
                MasksSocket.Input(
                    "palette_from",
                    optional=True,
                    tooltip="Masks whose palette to take (a style map's, for a generator): one mask per region.",
                ),
            ],
            outputs=[MasksSocket.Output(display_name="masks"), io.Image.Output(display_name="preview")],
        )

    @classmethod
    def execute(cls, mask: torch.Tensor, palette_from: api.RegionMasks | None = None) -> io.NodeOutput:
        palette = api.default_palette(mask.shape[0]) if palette_from is None else palette_from.palette.cpu()
        masks = api.RegionMasks.from_mask(mask.cpu(), palette)
        preview = masks.preview().to(host.output_device())
        return io.NodeOutput(masks, preview, ui=ui.PreviewImage(preview, cls=cls))
