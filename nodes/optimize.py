"""OptimizeDoodle-LBFGS: the optimisation-based doodle (slow, the quality reference)."""

from __future__ import annotations

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from ..doodle.limits import MAX_ITERATIONS
from ..doodle.optimize import DEFAULT_SETTINGS, INITS, MAX_LOSS_WEIGHT, MAX_SCALES, MAX_SIDE, TV_HELP, OptimizeSettings
from . import host
from .types import CATEGORY, SEED_MAX, MasksSocket, distribution_weight_input, loss_network_input

DEFAULTS = DEFAULT_SETTINGS


def weight_input(name: str, default: float, step: float, tooltip: str | None = None) -> io.Float.Input:
    """A loss term's weight, optional (its default then), 0 turning the term off."""
    return io.Float.Input(
        name, default=default, min=0.0, max=MAX_LOSS_WEIGHT, step=step, optional=True, tooltip=tooltip
    )


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
            inputs=[
                io.Image.Input("style_image"),
                MasksSocket.Input("style_masks", tooltip="MaskFromColors of the style image's map."),
                MasksSocket.Input("target_masks", tooltip="MaskFromColors of the doodle, palette_from = style_masks."),
                io.Int.Input(
                    "iterations",
                    default=DEFAULTS.iterations,
                    min=1,
                    max=MAX_ITERATIONS,
                    tooltip="L-BFGS steps over all scales.",
                ),
                io.Int.Input("seed", default=DEFAULTS.seed, min=0, max=SEED_MAX, control_after_generate=True),
                loss_network_input(host.vgg_dirs()),
                io.Int.Input(
                    "size",
                    default=DEFAULTS.size,
                    min=0,
                    max=MAX_SIDE,
                    step=8,
                    tooltip="Output long side; 0 = the target's.",
                ),
                io.Int.Input(
                    "scales",
                    default=DEFAULTS.scales,
                    min=1,
                    max=MAX_SCALES,
                    tooltip="Coarse-to-fine levels (1 = single scale).",
                ),
                io.Image.Input("content_image", optional=True, tooltip="A photo whose layout to keep."),
                weight_input("content_weight", DEFAULTS.content_weight, 0.05),
                io.Combo.Input(
                    "init",
                    options=list(INITS),
                    default=DEFAULTS.init,
                    optional=True,
                    tooltip="How to start without init_image: style-mean (each region's mean colour), noise, content "
                    "(content_image), or synthesis (SynthesizeDoodle's fast picture, the painting's own strokes).",
                ),
                weight_input("tv_weight", DEFAULTS.tv_weight, 0.01, TV_HELP),
                distribution_weight_input(DEFAULTS.distribution_weight),
                weight_input(
                    "gram_weight",
                    DEFAULTS.gram_weight,
                    0.1,
                    "The per-region Gram loss (fast-neural-doodle's): texture statistics per region.",
                ),
                weight_input(
                    "patch_weight",
                    DEFAULTS.patch_weight,
                    0.1,
                    "The semantic patch loss (neural-doodle's): copies the painting's 3x3 feature patches from the "
                    "same region, for brushwork and local structure. Patches alone: gram_weight 0.",
                ),
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
        iterations: int,
        seed: int,
        loss_network: str,
        size: int,
        scales: int,
        content_image: torch.Tensor | None = None,
        content_weight: float = DEFAULTS.content_weight,
        init: str = DEFAULTS.init,
        tv_weight: float = DEFAULTS.tv_weight,
        init_image: torch.Tensor | None = None,
        distribution_weight: float = DEFAULTS.distribution_weight,
        gram_weight: float = DEFAULTS.gram_weight,
        patch_weight: float = DEFAULTS.patch_weight,
    ) -> io.NodeOutput:
        settings = OptimizeSettings(
            iterations=iterations,
            seed=seed,
            size=size,
            scales=scales,
            content_weight=content_weight,
            init=init,
            tv_weight=tv_weight,
            distribution_weight=distribution_weight,
            gram_weight=gram_weight,
            patch_weight=patch_weight,
        )
        progress = host.ComfyProgress(iterations)
        try:
            image = api.optimize_image(
                api.Style(style_image, style_masks),
                target_masks,
                settings,
                network=host.loss_network(loss_network),
                content_image=content_image,
                init_image=init_image,
                progress=progress,
            )
        finally:
            host.free_memory()
        image = image.to(host.output_device())
        progress.show_result(image)
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))
