"""Per-region colour calibration: a fixed affine colour map per region, applied after the generator.

A generator trained against Gram and distribution losses renders each region's colours near the painting's
but paler and narrower (benchmarks/README.md, Colour calibration). The linear Monge-Kantorovich map moves a
Gaussian fitted to the region's rendered colours onto the Gaussian of the painting region's colours: mean and
covariance then match, and the render keeps its own texture. It is fitted once, from renders of the style's
own map and of random maps (what the generator was trained on, never the doodle it will paint), stored in the
generator file, and applied pixel by pixel, so tiled renders still equal whole ones.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..errors import DoodleError

COVARIANCE_FLOOR = 1e-6
"""Added to every covariance's diagonal: a flat region's map stays finite."""


def identity(n_regions: int) -> torch.Tensor:
    """The calibration that changes nothing: ``[R, 3, 4]``, each region's ``[A | b]`` with A = I, b = 0."""
    return torch.cat([torch.eye(3), torch.zeros(3, 1)], dim=1).expand(n_regions, 3, 4).clone()


def check_calibration(calibration: torch.Tensor, n_regions: int, owner: str) -> None:
    if (
        calibration.shape != (n_regions, 3, 4)
        or not calibration.is_floating_point()
        or not calibration.isfinite().all()
    ):
        raise DoodleError(
            f"{owner}: the colour calibration is not one finite 3x4 map of floats per region ({n_regions})"
        )


def calibrated(image: torch.Tensor, masks: torch.Tensor, calibration: torch.Tensor) -> torch.Tensor:
    """``image`` ``[B, 3, H, W]`` with each pixel mapped by the calibration ``[R, 3, 4]`` of its region
    (one-hot ``masks`` ``[B, R, H, W]``)."""
    n_regions = calibration.shape[0]
    calibration = calibration.to(image)
    mapped = F.conv2d(image, calibration[:, :, :3].reshape(n_regions * 3, 3, 1, 1), calibration[:, :, 3].flatten())
    return (mapped.unflatten(1, (n_regions, 3)) * masks.to(image).unsqueeze(2)).sum(dim=1)


def gaussian_map(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``[A | b]`` ``[3, 4]`` taking the Gaussian of colours ``source`` ``[3, n]`` onto that of ``target``
    ``[3, m]``: A = S^-1/2 (S^1/2 T S^1/2)^1/2 S^-1/2, b = mean(target) - A mean(source)."""
    (source_mean, source_cov), (target_mean, target_cov) = _gaussian(source), _gaussian(target)
    root = _sqrtm(source_cov)
    inverse_root = torch.linalg.inv(root)
    matrix = inverse_root @ _sqrtm(root @ target_cov @ root) @ inverse_root
    return torch.cat([matrix, target_mean - matrix @ source_mean], dim=1)


def fit_calibration(
    rendered: list[tuple[torch.Tensor, torch.Tensor]], style_image: torch.Tensor, style_masks: torch.Tensor
) -> torch.Tensor:
    """The calibration ``[R, 3, 4]`` that maps the colours of ``rendered`` (pairs of one-hot masks
    ``[B, R, H, W]`` and the generator's uncalibrated renders of them ``[B, 3, H, W]``) onto the painting
    ``style_image`` ``[1, 3, H, W]``'s, region by region of its ``style_masks`` ``[1, R, H, W]``; a region
    absent from either keeps the identity."""
    style_image, style_masks = style_image.detach().cpu().double(), style_masks.cpu()
    calibration = identity(style_masks.shape[1])
    for region in range(style_masks.shape[1]):
        painted = style_image[0][:, style_masks[0, region] > 0.5]
        ours = torch.cat(
            [image.detach().cpu().double().movedim(1, 0)[:, masks.cpu()[:, region] > 0.5] for masks, image in rendered],
            dim=1,
        )
        if painted.shape[1] > 1 and ours.shape[1] > 1:
            calibration[region] = gaussian_map(ours, painted).float()
    return calibration


def _gaussian(colors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = colors.mean(dim=1, keepdim=True)
    centred = colors - mean
    covariance = centred @ centred.T / colors.shape[1]
    return mean, covariance + COVARIANCE_FLOOR * torch.eye(3, dtype=colors.dtype)


def _sqrtm(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite ``matrix``."""
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T
