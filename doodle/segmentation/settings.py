"""What a user sets for one segmentation, each setting declared once."""

from __future__ import annotations

from dataclasses import dataclass

from ..declared import check_declared, declared
from ..limits import MAX_SEED

MAX_REGIONS = 16
MIN_PIXELS_PER_REGION = 16 * 16
"""A painting needs this many pixels for each region it is split into."""


@dataclass(frozen=True, kw_only=True)
class SegmentationSettings:
    """How a painting is split into regions; checked when made."""

    regions: int = declared(5, "how many regions to split the painting into", low=2, high=MAX_REGIONS)
    seed: int = declared(
        0,
        "random seed of the pixel sample the network features are summarised from: the same seed, the same map",
        low=0,
        high=MAX_SEED,
    )
    smoothness: float = declared(
        1.0,
        "how round region borders are: the radius of the majority vote that smooths them, in percent of the "
        "painting's longer side; 0 keeps the clustering's own borders",
        low=0.0,
        high=10.0,
        step=0.1,
    )
    min_region: float = declared(
        1.0,
        "the smallest island kept, in percent of the painting's area: smaller ones join the region around them",
        low=0.2,
        high=20.0,
        step=0.1,
    )
    network_features: bool = declared(
        True,
        "also use a loss network's middle-layer features when one is on disk (vgg19 or vgg16-hed): they tell "
        "apart textures that share colours; off, colour, texture and position only",
    )

    def __post_init__(self) -> None:
        check_declared(self)


DEFAULT_SEGMENTATION = SegmentationSettings()
