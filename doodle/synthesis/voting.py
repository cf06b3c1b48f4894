"""From a nearest-neighbour field to a picture: every doodle pixel takes the colours that the patches covering
it bring from the painting, each weighted by how well its patch matched (Wexler et al. 2007; Kwatra et al.
2005), and only from painting pixels of its own region, so a border in the doodle stays a clean border."""

from __future__ import annotations

import torch

VOTE_FLOOR = 1e-3
VOTE_POWER = 4
"""A vote weighs ``(distance + VOTE_FLOOR) ** -VOTE_POWER``: the best-matching patches decide a pixel, so it
keeps the painting's crisp texture instead of an average of every patch over it; the floor bounds the weight."""


def vote(
    index: torch.Tensor,
    distance: torch.Tensor,
    painting: torch.Tensor,
    source_labels: torch.Tensor,
    target_labels: torch.Tensor,
    patch_size: int,
) -> torch.Tensor:
    """The doodle ``[3, Ht, Wt]`` painted by the field ``index`` (flat painting pixel per doodle pixel)."""
    height, width = target_labels.shape
    source_height, source_width = source_labels.shape
    weight = (distance + VOTE_FLOOR).pow(-VOTE_POWER).view(height, width)
    source_row = (index // source_width).view(height, width)
    source_col = (index % source_width).view(height, width)
    colors = painting.flatten(1)
    flat_labels = source_labels.flatten()
    total = torch.zeros(3, height, width, device=painting.device)
    weights = torch.zeros(height, width, device=painting.device)
    half = patch_size // 2
    for row_offset in range(-half, half + 1):
        for col_offset in range(-half, half + 1):
            if abs(row_offset) >= height or abs(col_offset) >= width:
                continue  # no patch of a doodle this small reaches that far
            # a doodle pixel q takes the pixel at this offset of the patch centred on p = q - offset
            here = (_span(row_offset, height), _span(col_offset, width))
            there = (_span(-row_offset, height), _span(-col_offset, width))
            row = (source_row[there] + row_offset).clamp_(0, source_height - 1)
            col = (source_col[there] + col_offset).clamp_(0, source_width - 1)
            shape = row.shape
            source = (row * source_width + col).flatten()  # index_select: about twice as fast as indexing
            counted = weight[there] * (flat_labels.index_select(0, source).view(shape) == target_labels[here])
            total[:, here[0], here[1]].addcmul_(colors.index_select(1, source).view(3, *shape), counted)
            weights[here] += counted
    return total / weights.clamp(min=1e-12)


def _span(offset: int, size: int) -> slice:
    """The positions ``q`` along one axis whose ``q - offset`` lies inside ``0..size-1``."""
    return slice(max(0, offset), size + min(0, offset))
