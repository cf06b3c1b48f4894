"""Region masks with their palette: the value that flows between doodle nodes (DOODLE_MASKS)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import DoodleError


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

    def as_mask(self, region: int | None = None) -> torch.Tensor:
        """A core ComfyUI MASK ``[N, H, W]``: region ``region`` of every image, or (None) every region of every
        image in turn (image 0's regions first)."""
        if region is None:
            return self.masks.reshape(-1, *self.size).clone()
        if not 0 <= region < self.n_regions:
            raise DoodleError(f"region {region} does not exist: these masks have regions 0..{self.n_regions - 1}")
        return self.masks[:, region].clone()

    @classmethod
    def from_mask(cls, mask: torch.Tensor, palette: torch.Tensor) -> RegionMasks:
        """One map of ``[N, H, W]`` masks (a MASK batch, one region each, in 0..1): each pixel joins the region
        whose mask is strongest there, the first on ties, so pixels no mask covers join region 0."""
        if not isinstance(mask, torch.Tensor) or mask.ndim != 3 or 0 in mask.shape:
            raise DoodleError(f"a MASK batch is [regions, height, width], got {list(getattr(mask, 'shape', []))}")
        if not torch.isfinite(mask).all():
            raise DoodleError("the MASK holds NaN or infinite values")
        check_region_count(
            mask.shape[0], "the palette", palette.shape[0], "give one mask per region", what="the MASK batch's masks"
        )
        return cls.from_labels(mask.float().argmax(dim=0, keepdim=True), palette)

    def select(self, index: int) -> RegionMasks:
        """The masks of one batch element, still batched (``[1, R, H, W]``)."""
        return RegionMasks(self.masks[index : index + 1], self.palette)


def one_hot_masks(labels: torch.Tensor, n_regions: int) -> torch.Tensor:
    """Float masks ``[B, R, H, W]`` of integer labels ``[B, H, W]`` in ``0..R-1``."""
    return torch.nn.functional.one_hot(labels.long(), n_regions).permute(0, 3, 1, 2).float()


def check_region_count(count: int, owner: str, n_regions: int, advice: str, what: str = "the masks") -> None:
    """One check and one wording wherever masks of ``count`` regions meet what was made for ``n_regions``
    regions (a generator, a style map, a palette); ``advice`` says how to make fitting masks."""
    if count != n_regions:
        raise DoodleError(f"{what} have {count} regions but {owner} has {n_regions}: {advice}")
