"""OptimizeDoodle-LBFGS: the optimisation-based doodle (slow, the quality reference)."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from ..doodle.limits import MAX_OPTIMIZE_SIDE
from . import host
from .declared_inputs import declared_input, declared_inputs, declared_settings
from .types import CATEGORY, MasksSocket, loss_network_input

MAX_LOSS_WEIGHT = 100.0
"""The top of the node's content, tv, gram and patch weights (the core refuses only negative and non-finite ones)."""


def weight_input(name: str) -> io.Float.Input:
    """A loss term's weight, optional (its default then), 0 turning the term off."""
    return declared_input(api.OptimizeSettings, name, optional=True, max=MAX_LOSS_WEIGHT)


class OptimizeDoodle(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="OptimizeDoodle-LBFGS",
            has_intermediate_output=True,  # its preview survives a page reload
            search_aliases=["neural doodle", "semantic style transfer", "L-BFGS", "optimise doodle"],
            display_name="Optimize Doodle (L-BFGS)",
            category=CATEGORY,
            description="Paint the target masks so each region has the texture of the same region of the style "
            "image, by L-BFGS over pixels. Minutes on a CPU; use a trained generator for speed, or polish its render "
            "(init_image).",
            inputs=[  # the order of the saved workflows' widgets
                io.Image.Input("style_image"),
                MasksSocket.Input("style_masks", tooltip="MaskFromColors of the style image's map."),
                MasksSocket.Input("target_masks", tooltip="MaskFromColors of the doodle, palette_from = style_masks."),
                *declared_inputs(api.OptimizeSettings, "iterations", "seed"),
                loss_network_input(host.vgg_dirs()),
                declared_input(api.OptimizeSettings, "size", max=MAX_OPTIMIZE_SIDE),
                declared_input(api.OptimizeSettings, "scales"),
                io.Image.Input("content_image", optional=True, tooltip="A photo whose layout to keep."),
                weight_input("content_weight"),
                declared_input(api.OptimizeSettings, "init", optional=True),
                weight_input("tv_weight"),
                declared_input(api.OptimizeSettings, "distribution_weight", optional=True),
                weight_input("gram_weight"),
                weight_input("patch_weight"),
                io.Image.Input(
                    "init_image",
                    optional=True,
                    tooltip="Start from this image instead, e.g. RenderDoodle's output: 20-40 iterations at scales 1 "
                    "polish a render to within a few times a full run's loss.",
                ),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(
        cls,
        style_image: torch.Tensor,
        style_masks: api.RegionMasks,
        target_masks: api.RegionMasks,
        loss_network: str,
        content_image: torch.Tensor | None = None,
        init_image: torch.Tensor | None = None,
        **values: object,
    ) -> io.NodeOutput:
        settings: api.OptimizeSettings = declared_settings(api.OptimizeSettings, values)
        progress = host.ComfyProgress(settings.iterations)
        try:
            image = api.optimize_image(
                api.Style(style_image, style_masks),
                target_masks,
                settings,
                network_choice=host.network_choice(loss_network),
                content_image=content_image,
                init_image=init_image,
                progress=progress,
            )
        finally:
            host.free_memory()
        image = image.to(host.output_device())
        progress.show_result(image)
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))
