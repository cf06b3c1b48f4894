"""The full doodle objective (style, optional content, optional total variation) shared by L-BFGS and training."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..declared import check_range
from ..errors import DoodleError
from ..maps.regions import check_region_count
from .distribution_loss import (
    DISTRIBUTION_LAYERS,
    FEATURE_LAYERS,
    PIXEL_LAYERS,
    check_distribution_weight,
    distribution_loss,
    distribution_targets,
    pixel_layers,
    random_directions,
    region_members,
)
from .patch_loss import PATCH_LAYERS, PatchTargets, patch_loss, patch_regions, patch_targets
from .style_loss import StyleTargets, mask_pyramid, region_plan, style_loss, style_targets, total_variation
from .vgg import CONTENT_LAYER, STYLE_LAYERS, VGGFeatures

log = logging.getLogger(__name__)

TARGET_ADVICE = "make the target's masks with palette_from set to the style's masks"
RANGE_PENALTY = 10.0
"""Weight of :func:`out_of_range` beside a loss taken at the image clamped to 0..1 (the one saved and shown),
in training and in L-BFGS: it pulls a pixel beyond the range back, where the clamp alone would leave it stuck."""


def out_of_range(image: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the pixels outside 0..1 to that range."""
    return (F.relu(image - 1) ** 2 + F.relu(-image) ** 2).mean()


def check_style_pair(style_image: torch.Tensor, style_masks: torch.Tensor) -> None:
    """Refuse a style image ``[..., H, W]`` and map ``[..., H', W']`` of different sizes: resizing one to fit
    would paint each region's texture from the wrong part of the painting."""
    if style_image.shape[-2:] != style_masks.shape[-2:]:
        raise DoodleError(
            f"the style image is {style_image.shape[-1]}x{style_image.shape[-2]} but its map is "
            f"{style_masks.shape[-1]}x{style_masks.shape[-2]}: they must be the same size"
        )


@dataclass(frozen=True, kw_only=True)
class LossWeights:
    """How much each style term of :class:`DoodleObjective` counts; checked when made, for every caller alike."""

    gram_weight: float = 1.0
    """The per-region Gram loss (fast-neural-doodle's)."""
    patch_weight: float = 0.0
    """The semantic patch loss (alexjc/neural-doodle's, :mod:`~doodle.neural.patch_loss`), one target image at a
    time."""
    distribution_weight: float = 0.0
    """The sliced Wasserstein term (:mod:`~doodle.neural.distribution_loss`) on ``DISTRIBUTION_LAYERS``."""
    tv_weight: float = 0.0
    """Total variation of the image: smooths speckle."""

    def __post_init__(self) -> None:
        for name in ("gram_weight", "patch_weight", "tv_weight"):
            check_range(name, getattr(self, name), 0, None)
        if self.gram_weight == 0 and self.patch_weight == 0:
            raise DoodleError("gram_weight and patch_weight are both 0: give at least one style loss a weight")
        check_distribution_weight(self.distribution_weight)


class DoodleObjective:
    """Scores images against one style; style Grams are computed once, target masks may change per call."""

    def __init__(
        self,
        network: VGGFeatures,
        style_image: torch.Tensor,
        style_masks: torch.Tensor,
        weights: LossWeights = LossWeights(),
        layers: tuple[str, ...] = STYLE_LAYERS,
    ) -> None:
        """``style_image`` is ``[1, 3, H, W]`` in 0..1 and ``style_masks`` its one-hot ``[1, R, H, W]``.

        The distribution term keeps one fixed set of directions until :meth:`draw_directions`.
        """
        check_style_pair(style_image, style_masks)
        self.network, self.layers, self.weights = network, layers, weights
        self.patch_layers = PATCH_LAYERS if weights.patch_weight else ()
        self.patches: PatchTargets | None = None
        if weights.patch_weight:
            with torch.no_grad():
                features = network(style_image, self.patch_layers)
            self.patches = patch_targets(features, mask_pyramid(style_masks, network.ops, self.patch_layers))
        self.patch_regions: dict[str, torch.Tensor] = {}
        self.targets: StyleTargets = style_targets(network, style_image, style_masks, layers)
        self.distribution_layers = DISTRIBUTION_LAYERS if weights.distribution_weight else ()
        self.feature_layers = FEATURE_LAYERS if weights.distribution_weight else ()
        self.distribution = None
        if weights.distribution_weight:
            self.distribution = distribution_targets(*self._layer_inputs(style_image, style_masks))
            self.draw_directions(torch.Generator().manual_seed(0))
        self.plans: dict = {}
        self.members: dict = {}
        self.content: torch.Tensor | None = None
        self.content_weight = 0.0

    @property
    def n_regions(self) -> int:
        return int(self.targets.present.shape[0])

    def set_target_masks(self, masks: torch.Tensor) -> None:
        """Fix the target's masks ``[B, R, h, w]`` for the following calls (their gather plans are precomputed)."""
        check_region_count(masks.shape[1], "the style map", self.n_regions, TARGET_ADVICE, what="the target masks")
        missing = (masks.sum(dim=(0, 2, 3)) > 0) & ~self.targets.present
        if missing.any():
            log.warning(
                "regions %s of the target are absent from the style map; they get no style",
                missing.nonzero().flatten().tolist(),
            )
        pyramid = mask_pyramid(masks, self.network.ops, self.layers)
        self.plans = {layer: region_plan(pyramid[layer]) for layer in self.layers}
        if self.patches is not None:
            pyramid = mask_pyramid(masks, self.network.ops, self.patch_layers)
            self.patch_regions = {layer: patch_regions(pyramid[layer]) for layer in self.patch_layers}
        if self.distribution is not None:
            pyramid = self._layer_masks(masks)
            self.members = {layer: region_members(pyramid[layer]) for layer in self.distribution_layers}

    def draw_directions(self, rng: torch.Generator) -> None:
        """New random projection directions for the distribution term (training draws them every step)."""
        if self.distribution is None:
            return
        device = next(self.network.parameters()).device
        self.directions = {
            layer: random_directions(channels, rng).to(device) for layer, channels in self.distribution.channels.items()
        }

    def _layer_masks(self, masks: torch.Tensor) -> dict[str, torch.Tensor]:
        """``masks`` at each distribution layer: themselves for the pixels' layers, the network's pyramid for
        features."""
        return mask_pyramid(masks, self.network.ops, self.feature_layers) | dict.fromkeys(PIXEL_LAYERS, masks)

    def _layer_inputs(
        self, image: torch.Tensor, masks: torch.Tensor
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        with torch.no_grad():
            features = self.network(image, self.feature_layers)
        return pixel_layers(image) | features, self._layer_masks(masks)

    def set_content(self, image: torch.Tensor | None, weight: float) -> None:
        """Keep ``image``'s conv4_2 features close (weighted by ``weight``); None removes the content term."""
        self.content_weight = weight if image is not None else 0.0
        if image is None or weight == 0:
            self.content = None
            return
        with torch.no_grad():
            self.content = self.network(image, [CONTENT_LAYER])[CONTENT_LAYER]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        layers = set(self.layers) | set(self.feature_layers) | set(self.patch_layers)
        layers |= {CONTENT_LAYER} if self.content is not None else set()
        features = self.network(image, layers)
        loss, weights = image.new_zeros(()), self.weights
        if weights.gram_weight:
            loss = loss + weights.gram_weight * style_loss(features, self.plans, self.targets)
        if self.patches is not None:
            loss = loss + weights.patch_weight * patch_loss(features, self.patch_regions, self.patches)
        if self.distribution is not None:
            features = features | pixel_layers(image)
            loss = loss + weights.distribution_weight * distribution_loss(
                features, self.members, self.distribution, self.directions
            )
        if self.content is not None:
            loss = (
                loss
                + self.content_weight * F.mse_loss(features[CONTENT_LAYER], self.content) / self.content.pow(2).mean()
            )
        if weights.tv_weight:
            loss = loss + weights.tv_weight * total_variation(image)
        return loss
