"""Small builders shared by the core tests (no ComfyUI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from hypothesis import event
from PIL import Image
from scipy.optimize import linear_sum_assignment

from doodle.neural.vgg import VGGFeatures

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "samples"
TINY_CONFIG = [4, "M", 6, "M", 8, "M", 8, 8, "M", 8]
"""Has every layer the loss uses (conv1_1, conv2_1, conv3_1, conv4_1, conv4_2, conv5_1) at toy widths."""


def tiny_network(seed: int = 0, dtype: torch.dtype = torch.float32) -> VGGFeatures:
    torch.manual_seed(seed)
    network = VGGFeatures(TINY_CONFIG, "imagenet")
    for conv in network.convs.values():
        torch.nn.init.normal_(conv.weight, std=0.5)
        torch.nn.init.normal_(conv.bias, std=0.1)
    return network.to(dtype)


def load_rgb(path: Path) -> torch.Tensor:
    """An image file as IMAGE ``[1, H, W, 3]``."""
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0)[None]


def painted_map(labels: np.ndarray, colors: list[tuple[int, int, int]], blur: bool = True) -> torch.Tensor:
    """A colour map painted from ``labels`` with anti-aliased (box-blurred) edges, as IMAGE ``[1, H, W, 3]``."""
    image = np.asarray(colors, dtype=np.float32)[labels]
    if blur:
        padded = np.pad(image, ((1, 1), (1, 1), (0, 0)), mode="edge")
        image = (
            sum(padded[dy : dy + labels.shape[0], dx : dx + labels.shape[1]] for dy in range(3) for dx in range(3)) / 9
        )
    return torch.from_numpy(np.round(image) / 255.0).float()[None]


class Outcomes:
    """A property test's generated cases, counted as refused (our error) or checked, so that a property whose
    cases are nearly all refused fails instead of passing untested. Also reported as hypothesis events."""

    def __init__(self) -> None:
        self.checked = self.refused = 0

    def refuse(self) -> None:
        self.refused += 1
        event("refused")

    def check(self) -> None:
        self.checked += 1
        event("checked")

    def require(self, share: float) -> None:
        total = self.checked + self.refused
        assert self.checked >= share * total, f"only {self.checked} of {total} cases were checked, not refused"


def region_colors_differ(image: np.ndarray, doodle: np.ndarray) -> bool:
    """Each painted region of the doodle gets its own mean colour in the result."""
    colors = np.unique(doodle.reshape(-1, 3), axis=0, return_counts=True)
    painted = colors[0][colors[1] > 0.02 * doodle.shape[0] * doodle.shape[1]]
    means = [image[(doodle == color).all(axis=2)].mean(axis=0) for color in painted]
    distances = [np.abs(a - b).sum() for i, a in enumerate(means) for b in means[i + 1 :]]
    return min(distances) > 10


def region_overlaps(truth: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Each true region's IoU with the found region matched to it one to one (0 where none is left)."""
    regions = int(max(truth.max(), found.max())) + 1
    table = np.zeros((regions, regions))
    for t in range(regions):
        for f in range(regions):
            union = ((truth == t) | (found == f)).sum()
            table[t, f] = ((truth == t) & (found == f)).sum() / union if union else 0.0
    matched = np.zeros(int(truth.max()) + 1)
    for t, f in zip(*linear_sum_assignment(-table), strict=True):
        if t < len(matched):
            matched[t] = table[t, f]
    return matched


def texture_painting(height: int = 192, width: int = 256, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Three regions of one mean colour told apart only by texture: smooth, striped, speckled. ``[3, H, W]``."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    labels = np.zeros((height, width), np.int64)
    labels[(cols - 0.3 * width) ** 2 + (rows - 0.5 * height) ** 2 < (0.25 * height) ** 2] = 1
    labels[cols > 0.65 * width] = 2
    smooth = 0.02 * rng.standard_normal((height, width))
    stripes = 0.3 * np.sign(np.sin(rows * 2 * np.pi / 6))
    speckle = 0.3 * rng.choice([-1.0, 1.0], size=(height // 2, width // 2)).repeat(2, 0).repeat(2, 1)
    grey = 0.5 + np.choose(labels, [smooth, stripes, speckle])
    painting = np.clip(np.stack([grey, 0.9 * grey + 0.05, 0.8 * grey + 0.1]), 0, 1)
    return torch.from_numpy(painting).float(), labels
