"""Region masks with their palette: the value that flows between doodle nodes (DOODLE_MASKS)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import DoodleError


@dataclass(frozen=True)
class RegionMasks:
    """One-hot region masks ``[B, R, H, W]`` (float, each pixel in exactly one region) and the palette ``[R, 3]``.

    The palette (RGB in 0..1) names each region by the colour it was painted in, so masks made from two maps
    can be lined up, and a generator knows which colour means which texture.
    """

    masks: torch.Tensor
    palette: torch.Tensor

    def __post_init__(self) -> None:
        if self.masks.ndim != 4:
            raise DoodleError(f"masks must be [batch, regions, height, width], got shape {tuple(self.masks.shape)}")
        if self.palette.ndim != 2 or self.palette.shape[1] != 3:
            raise DoodleError(f"palette must be [regions, 3], got shape {tuple(self.palette.shape)}")
        if self.palette.shape[0] != self.masks.shape[1]:
            raise DoodleError(
                f"{self.masks.shape[1]} mask channels but {self.palette.shape[0]} palette colours: they must match"
            )

    @property
    def n_regions(self) -> int:
        return self.masks.shape[1]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.masks.shape[2], self.masks.shape[3]

    @classmethod
    def from_labels(cls, labels: torch.Tensor, palette: torch.Tensor) -> RegionMasks:
        """Build one-hot masks from integer labels ``[B, H, W]`` in ``0..R-1``."""
        return cls(one_hot_masks(labels, palette.shape[0]), palette.float())

    def labels(self) -> torch.Tensor:
        """Region index per pixel, ``[B, H, W]``."""
        return self.masks.argmax(dim=1)

    def preview(self) -> torch.Tensor:
        """Every pixel painted in its region's palette colour, as an image ``[B, H, W, 3]``."""
        return self.palette.to(self.masks.device)[self.labels()]

    def select(self, index: int) -> RegionMasks:
        """The masks of one batch element, still batched (``[1, R, H, W]``)."""
        return RegionMasks(self.masks[index : index + 1], self.palette)


def one_hot_masks(labels: torch.Tensor, n_regions: int) -> torch.Tensor:
    """Float masks ``[B, R, H, W]`` of integer labels ``[B, H, W]`` in ``0..R-1``."""
    return torch.nn.functional.one_hot(labels.long(), n_regions).permute(0, 3, 1, 2).float()


def check_region_count(masks: torch.Tensor, owner: str, n_regions: int, advice: str, what: str = "the masks") -> None:
    """One check and one wording wherever masks ``[B, R, H, W]`` meet what was made for ``n_regions`` regions
    (a generator, a style map); ``advice`` says how to make fitting masks."""
    if masks.shape[1] != n_regions:
        raise DoodleError(f"{what} have {masks.shape[1]} regions but {owner} has {n_regions}: {advice}")
