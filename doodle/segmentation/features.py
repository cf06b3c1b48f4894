"""What tells a painting's regions apart, per pixel: colour in a perceptual space at two scales, local texture
(contrast and stroke energy) at two scales, position, and optionally a loss network's middle-layer features.
Each kind is scaled to the same total spread, then weighted, so none wins by its number of channels."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

from ..neural.vgg import VGGFeatures

COLOUR_SCALES = (2.0, 6.0)
"""Blur radii (pixels, at the working size) of the colour features: a stroke's colour and its surroundings'."""
TEXTURE_SCALES = (4.0, 12.0)
POSITION_WEIGHT = 0.3
"""Position counts a little: a region is one area more often than scattered specks."""
NETWORK_LAYER = "conv3_3"
"""A middle layer both VGG networks have: strokes and small textures, before the network's own semantics."""
NETWORK_COMPONENTS = 8
NETWORK_SAMPLE = 20_000
"""Pixels the network features' principal components are fitted on."""

SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def painting_features(
    rgb: np.ndarray, network: VGGFeatures | None = None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Features ``[H, W, D]`` of an RGB painting ``[H, W, 3]`` in 0..1."""
    lab = srgb_to_lab(rgb)
    kinds = [(1.0, blurred(lab, scale)) for scale in COLOUR_SCALES]
    kinds.append((1.0, texture(lab[..., 0])))
    kinds.append((POSITION_WEIGHT, position(*rgb.shape[:2])))
    if network is not None:
        kinds.append((1.0, network_features(rgb, network, rng or np.random.default_rng(0))))
    return np.concatenate([weight * unit_spread(kind) for weight, kind in kinds], axis=-1)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB in 0..1: distances there follow what the eye sees as different colours."""
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ SRGB_TO_XYZ.T / D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """Each channel of ``image`` ``[H, W, C]`` blurred on its own (no blur across channels)."""
    return ndimage.gaussian_filter(image, (sigma, sigma, 0))


def texture(lightness: np.ndarray) -> np.ndarray:
    """Local contrast (standard deviation of lightness) and stroke energy (mean gradient) at each scale."""
    gy, gx = np.gradient(ndimage.gaussian_filter(lightness, 1.0))
    energy = np.hypot(gx, gy)
    channels = []
    for sigma in TEXTURE_SCALES:
        mean = ndimage.gaussian_filter(lightness, sigma)
        variance = ndimage.gaussian_filter(lightness * lightness, sigma) - mean * mean
        channels += [np.sqrt(np.maximum(variance, 0.0)), ndimage.gaussian_filter(energy, sigma)]
    return np.stack(channels, -1)


def position(height: int, width: int) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    return np.stack([rows, cols], -1)


def network_features(rgb: np.ndarray, network: VGGFeatures, rng: np.random.Generator) -> np.ndarray:
    """The network's :data:`NETWORK_LAYER`, at the painting's size, summarised by its principal components."""
    device = next(network.parameters()).device
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].float().to(device)
    with torch.no_grad():
        activations = network(image, [NETWORK_LAYER])[NETWORK_LAYER]
        activations = F.interpolate(activations, size=rgb.shape[:2], mode="bilinear", align_corners=False)
    flat = torch.log1p(activations[0].flatten(1).T).double().cpu().numpy()
    sample = flat[rng.choice(len(flat), size=min(NETWORK_SAMPLE, len(flat)), replace=False)]
    mean = sample.mean(0)
    _, vectors = np.linalg.eigh(np.cov(sample - mean, rowvar=False))
    components = (flat - mean) @ vectors[:, ::-1][:, :NETWORK_COMPONENTS]
    return blurred(components.reshape(*rgb.shape[:2], -1), COLOUR_SCALES[0])


def unit_spread(feature: np.ndarray) -> np.ndarray:
    """Centred, and scaled so the mean squared distance to the centre is 1 across all its channels."""
    centred = feature - feature.reshape(-1, feature.shape[-1]).mean(0)
    return centred / (np.sqrt((centred**2).sum(-1).mean()) + 1e-8)
