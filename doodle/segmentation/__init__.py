"""A style map from any painting: its regions found from colour, texture, position and (when one is on disk) a
loss network's features, clustered into coherent areas."""

from .segment import segment_painting
from .settings import DEFAULT_SEGMENTATION, SegmentationSettings

__all__ = ["DEFAULT_SEGMENTATION", "SegmentationSettings", "segment_painting"]
