"""What one L-BFGS doodle may be asked: its settings, the sizes of its scales, and the checks of a request that
hosts run before loading a network (:mod:`doodle.neural.optimize` runs it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..declared import check_declared, declared
from ..errors import DoodleError
from ..limits import MAX_ITERATIONS, MAX_OPTIMIZE_SIDE, MAX_SEED
from ..maps.regions import check_region_count
from .distribution_loss import declared_distribution_weight
from .objective import TARGET_ADVICE, LossWeights, check_style_pair
from .patch_loss import PATCH_MIN_SIDE

INITS = ("style-mean", "noise", "content", "synthesis")
TV_HELP = (
    "weight of a total-variation term (mean squared difference of neighbouring pixels): smooths speckle "
    "(salt-and-pepper noise) at some cost in fine texture; 0 = off. The term is about 0.01 x weight on a "
    "painting, and the style loss ends near 0.002-0.015"
)
MIN_SIDE = 16
MAX_OPTIMIZE_PIXELS = MAX_OPTIMIZE_SIDE * MAX_OPTIMIZE_SIDE
MAX_SCALES = 8


@dataclass(frozen=True, kw_only=True)
class OptimizeSettings:
    """How one L-BFGS doodle runs, each knob declared once (:mod:`doodle.declared`); checked when made, so every
    host refuses the same things alike."""

    iterations: int = declared(
        300,
        "L-BFGS steps over all scales (an equal share each, the remainder to the finest)",
        low=1,
        high=MAX_ITERATIONS,
    )
    seed: int = declared(0, "random seed of the start (its noise, or its synthesis)", low=0, high=MAX_SEED)
    size: int = declared(0, "output long side in pixels; 0 = the doodle's size", low=0, step=8)
    scales: int = declared(
        2,
        "coarse-to-fine levels: above 1, optimise first at 1/2^(scales-1) of the size, then each finer level from "
        "the upsampled result (1 = single scale)",
        low=1,
        high=MAX_SCALES,
    )
    content_weight: float = declared(
        0.0, "weight of the content loss: how closely the content photo's layout is kept; 0 = off", low=0.0, step=0.05
    )
    init: str = declared(
        INITS[0],
        "how to start without an init image: style-mean (each region's mean colour), noise, content (the content "
        "photo), or synthesis (a fast patch synthesis: the painting's own strokes)",
        choices=INITS,
    )
    tv_weight: float = declared(LossWeights.tv_weight, TV_HELP, low=0.0, step=0.01)
    distribution_weight: float = declared_distribution_weight(LossWeights.distribution_weight)
    gram_weight: float = declared(
        LossWeights.gram_weight,
        "weight of the per-region Gram loss (fast-neural-doodle's): texture statistics per region",
        low=0.0,
        step=0.1,
    )
    patch_weight: float = declared(
        LossWeights.patch_weight,
        "weight of the semantic patch loss (neural-doodle's): copies the painting's 3x3 feature patches from the "
        "same region, for brushwork and local structure; with a Gram weight of 0, patches alone",
        low=0.0,
        step=0.1,
    )

    def __post_init__(self) -> None:
        check_declared(self)
        self.loss_weights  # noqa: B018 (checks that one style loss has a weight)
        if self.iterations < self.scales:
            raise DoodleError(f"iterations ({self.iterations}) must be at least the number of scales ({self.scales})")

    @property
    def loss_weights(self) -> LossWeights:
        return LossWeights(
            gram_weight=self.gram_weight,
            patch_weight=self.patch_weight,
            distribution_weight=self.distribution_weight,
            tv_weight=self.tv_weight,
        )


DEFAULT_SETTINGS = OptimizeSettings()


def long_side_size(shape: Sequence[int], long_side: int, min_side: int = 1) -> tuple[int, int]:
    """``shape`` (height, width) scaled to a longer side of ``long_side``, each side at least ``min_side``."""
    height, width = int(shape[0]), int(shape[1])
    scale = long_side / max(height, width)
    return max(min_side, round(height * scale)), max(min_side, round(width * scale))


def output_size(target_size: torch.Size, size: int) -> tuple[int, int]:
    return (int(target_size[0]), int(target_size[1])) if size == 0 else long_side_size(target_size, size)


def size_at_level(size: tuple[int, int], level: int, scales: int) -> tuple[int, int]:
    """(height, width) of level ``level`` of ``scales`` (the last is ``size``), each side at least MIN_SIDE."""
    factor = 2.0 ** (level - scales + 1)
    return max(MIN_SIDE, round(size[0] * factor)), max(MIN_SIDE, round(size[1] * factor))


def validate_request(
    style_image: torch.Tensor,
    style_masks: torch.Tensor,
    target_masks: torch.Tensor,
    settings: OptimizeSettings,
    *,
    content_image: torch.Tensor | None = None,
    init_image: torch.Tensor | None = None,
) -> None:
    """Raise a DoodleError for any request :func:`~doodle.neural.optimize.optimize_doodle` cannot do with these
    tensors; cheap, so hosts call it before loading a network."""
    if settings.init == "content" and content_image is None:
        raise DoodleError("init is 'content' but no content_image was given")
    if settings.content_weight and content_image is None:
        raise DoodleError(
            f"content_weight is {settings.content_weight:g} but no content_image was given: give one, or set "
            "content_weight to 0"
        )
    check_region_count(
        target_masks.shape[1], "the style map", style_masks.shape[1], TARGET_ADVICE, what="the target masks"
    )
    check_style_pair(style_image, style_masks)
    height, width = output_size(target_masks.shape[-2:], settings.size)
    if height * width > MAX_OPTIMIZE_PIXELS:
        side = MAX_OPTIMIZE_SIDE
        raise DoodleError(f"{width}x{height} is too large to optimise: choose a size with at most {side}x{side} pixels")
    if min(height, width) < MIN_SIDE:
        raise DoodleError(f"{width}x{height} is too small: both sides must be at least {MIN_SIDE} pixels")
    coarsest = size_at_level((height, width), 0, settings.scales)
    if settings.patch_weight and min(coarsest) < PATCH_MIN_SIDE:
        raise DoodleError(
            f"the patch loss needs {PATCH_MIN_SIDE} pixels a side at the coarsest scale, and {width}x{height} in "
            f"{settings.scales} scales starts at {coarsest[1]}x{coarsest[0]}: use fewer scales or a larger size"
        )
    for name, tensor in (("style_masks", style_masks), ("target_masks", target_masks)):
        if not torch.isfinite(tensor).all():
            raise DoodleError(f"{name} contain NaN or infinite values")
    for name, image in (("content_image", content_image), ("init_image", init_image)):
        if image is None:
            continue
        if image.ndim != 4 or image.shape[:2] != (1, 3):
            raise DoodleError(f"{name} must be one RGB image [1, 3, H, W], got shape {list(image.shape)}")
        if not math.isfinite(float(image.sum())):
            raise DoodleError(f"{name} contains NaN or infinite pixels")
