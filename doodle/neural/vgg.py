"""VGG feature extractor for the style loss: named layers, average pooling, preprocessing inside."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import torch
from torch import nn
from torch.nn import functional as F

POOL = "M"
ARCHITECTURES: dict[str, list[int | str]] = {
    "vgg16": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, POOL, 512, 512, 512, POOL, 512],
    "vgg19": [64, 64, POOL, 128, 128, POOL, 256, 256, 256, 256, POOL, 512, 512, 512, 512, POOL, 512],
}
"""Convolution widths up to conv5_1, the deepest layer the loss uses; later layers are never loaded."""

STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
CONTENT_LAYER = "conv4_2"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_sequence(config: Sequence[int | str]) -> list[tuple[str, str]]:
    """The network's operations as (kind, name) pairs: ("conv", "conv1_1"), ..., ("pool", "pool1"), ..."""
    ops, block, index = [], 1, 1
    for item in config:
        if item == POOL:
            ops.append(("pool", f"pool{block}"))
            block, index = block + 1, 1
        else:
            ops.append(("conv", f"conv{block}_{index}"))
            index += 1
    return ops


class VGGFeatures(nn.Module):
    """Frozen VGG convolutions returning the activations (after ReLU) of the requested layers.

    Inputs are RGB in 0..1; ``preprocess`` turns them into what the weights were trained on: "caffe" (BGR,
    0..255, minus the mean pixel, over std: 1 for Caffe's networks) or "imagenet" (RGB 0..1 normalised by
    ImageNet mean and std). Pooling is average, as in the original method: max pooling, which the networks
    were trained with, gives noisier gradients for synthesis.
    """

    def __init__(
        self,
        config: Sequence[int | str],
        preprocess: str = "imagenet",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if preprocess not in ("caffe", "imagenet"):
            raise ValueError(f"unknown preprocessing {preprocess!r}")
        self.ops = layer_sequence(config)
        self.preprocess = preprocess
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.convs = nn.ModuleDict()
        channels = 3
        for width, (kind, name) in zip(config, self.ops, strict=True):
            if kind == "conv":
                self.convs[name] = nn.Conv2d(channels, int(width), 3, padding=1)
                channels = int(width)
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_names(self) -> list[str]:
        return [name for kind, name in self.ops if kind == "conv"]

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """RGB 0..1 to the network's input space."""
        if self.preprocess == "caffe":
            image = image.flip(1) * 255.0
        return (image - self.mean) / self.std

    def forward(self, image: torch.Tensor, layers: Collection[str]) -> dict[str, torch.Tensor]:
        missing = set(layers) - set(self.layer_names)
        if missing:
            raise ValueError(f"layers {sorted(missing)} are not in this network")
        x = self.normalise(image)
        features: dict[str, torch.Tensor] = {}
        for kind, name in self.ops:
            if len(features) == len(layers):
                break
            if kind == "conv":
                x = F.relu(self.convs[name](x))
                if name in layers:
                    features[name] = x
            else:
                x = F.avg_pool2d(x, 2)
        return features
