"""DOODLE_MASKS to core MASK batches and back: the maths against a pixel-by-pixel computation."""

from __future__ import annotations

import pytest
import torch

from doodle.errors import DoodleError
from doodle.maps.regions import RegionMasks

PALETTE = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def random_masks(batch: int = 1) -> RegionMasks:
    labels = torch.randint(0, 3, (batch, 9, 11), generator=torch.Generator().manual_seed(2))
    return RegionMasks.from_labels(labels, PALETTE)


def test_all_regions_as_a_batch_and_back_is_the_same_map() -> None:
    masks = random_masks()
    batch = masks.as_mask()
    assert batch.shape == (3, 9, 11)
    back = RegionMasks.from_mask(batch, PALETTE)
    assert torch.equal(back.masks, masks.masks) and torch.equal(back.palette, PALETTE)


def test_one_region_of_every_image() -> None:
    masks = random_masks(batch=2)
    one = masks.as_mask(2)
    assert one.shape == (2, 9, 11) and torch.equal(one, (masks.labels() == 2).float())
    assert masks.as_mask().shape == (6, 9, 11)  # image 0's three regions, then image 1's
    assert torch.equal(masks.as_mask()[3:], masks.masks[1])
    with pytest.raises(DoodleError, match="region 3 does not exist"):
        masks.as_mask(3)


def test_overlaps_go_to_the_strongest_mask_the_first_on_ties_and_gaps_to_region_0() -> None:
    soft = torch.rand(3, 6, 7, generator=torch.Generator().manual_seed(5)).round(decimals=1)
    soft[:, 0, 0] = 0  # covered by no mask
    labels = RegionMasks.from_mask(soft, PALETTE).labels()[0]
    for y in range(6):
        for x in range(7):
            values = soft[:, y, x].tolist()
            assert labels[y, x] == values.index(max(values))


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.zeros(2, 4, 4), "the MASK batch's masks have 2 regions but the palette has 3"),
        (torch.zeros(3, 4), "a MASK batch is"),
        (torch.full((3, 4, 4), float("nan")), "NaN"),
    ],
)
def test_masks_that_do_not_fit_are_refused(mask: torch.Tensor, message: str) -> None:
    with pytest.raises(DoodleError, match=message):
        RegionMasks.from_mask(mask, PALETTE)
