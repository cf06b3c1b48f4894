"""Style maps from paintings: how close the automatic map comes to the hand-made one, how long it takes, and what
a synthesis from it looks like beside one from the hand map.

    PYTHONPATH=. python benchmarks/segment.py [--repeats 3] [--out out/segment]

Run it on a quiet machine (another busy process slows torch's threads many times over). Tables:

* ``overlap``: mean IoU of the automatic map against each example's hand map at K = the hand map's region
  count (regions matched one to one; each region's IoU after the mean), with the loss network's features and
  without, and a plain baseline (k-means on blurred Lab colour and position); then three synthetic paintings
  whose regions share one colour and differ in texture alone.
* ``time``: seconds (median of ``--repeats``, network loaded, Python started) for each example at its own size
  (512 px) and scaled up to 2048 px on its longer side.
* ``synthesis``: the example's doodle synthesised (``balanced``) with the hand map and with the automatic map
  (the doodle's colours moved to the automatic regions that best overlap the hand ones), scored on the hand
  map's regions: each region's colour distance to the painting's same region (sliced Wasserstein, 0..1 RGB),
  mean and worst. Pictures: ``OUT/<style>_steps.png`` (painting, hand map, automatic map, synthesis from each).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from torch.nn import functional as F

from benchmarks.appearance import look
from benchmarks.scoring import Example
from doodle import api
from doodle.files.image_io import save_image, to_channels_last
from doodle.maps.random_masks import default_palette
from doodle.maps.regions import RegionMasks
from doodle.segmentation import SegmentationSettings, segment_painting
from doodle.segmentation.features import blurred, position, srgb_to_lab, unit_spread
from doodle.synthesis import SynthesisSettings, synthesize
from tests.helpers import region_overlaps, texture_painting

STYLES = ("monet", "renoir")


def matching(truth: np.ndarray, found: np.ndarray) -> dict[int, int]:
    """Each true region's found region, one to one, by the largest total overlap (in pixels)."""
    regions = int(max(truth.max(), found.max())) + 1
    shared = np.zeros((regions, regions))
    np.add.at(shared, (truth.ravel(), found.ravel()), 1)
    rows, cols = linear_sum_assignment(-shared)
    return {int(t): int(f) for t, f in zip(rows, cols, strict=True)}


def baseline(painting: torch.Tensor, regions: int) -> np.ndarray:
    """The plain baseline the issue measured: k-means on blurred colour and position."""
    rgb = painting.permute(1, 2, 0).double().numpy()
    features = np.concatenate(
        [unit_spread(blurred(srgb_to_lab(rgb), 4.0)), 0.5 * unit_spread(position(*rgb.shape[:2]))], -1
    )
    flat = features.reshape(-1, features.shape[-1])
    return KMeans(regions, n_init=4, random_state=0).fit_predict(flat).reshape(rgb.shape[:2])


def overlap_table(network: torch.nn.Module) -> None:
    print("overlap: mean IoU against the hand map (each region's IoU after it)")
    print(f"{'painting':>10} {'K':>2} {'network':>28} {'no network':>28} {'baseline':>28}")
    for name in STYLES:
        example = Example.load(name)
        truth = example.style_masks.labels()[0].numpy()
        regions = int(truth.max()) + 1
        settings = SegmentationSettings(regions=regions)
        cells = [
            segment_painting(example.style[0], settings, network),
            segment_painting(example.style[0], SegmentationSettings(regions=regions, network_features=False)),
            baseline(example.style[0], regions),
        ]
        print(f"{name:>10} {regions:>2} " + " ".join(f"{cell(region_overlaps(truth, found)):>28}" for found in cells))
    for seed in range(3):
        painting, truth = texture_painting(384, 512, seed)
        painting = (painting * 255).round() / 255
        cells = [
            segment_painting(painting, SegmentationSettings(regions=3), network),
            segment_painting(painting, SegmentationSettings(regions=3, network_features=False)),
            baseline(painting, 3),
        ]
        label = f"texture {seed}"
        print(f"{label:>10} {3:>2} " + " ".join(f"{cell(region_overlaps(truth, found)):>28}" for found in cells))


def cell(ious: np.ndarray) -> str:
    return f"{ious.mean():.2f} ({' '.join(f'{v:.2f}' for v in ious)})"


def time_table(network: torch.nn.Module, repeats: int) -> None:
    print("\ntime: seconds (median), network features on")
    print(f"{'painting':>10} {'size':>11} {'seconds':>8}")
    for name in STYLES:
        example = Example.load(name)
        regions = int(example.style_masks.labels().max()) + 1
        for longest in (None, 2048):
            painting = example.style[0]
            if longest is not None:
                scale = longest / max(painting.shape[1:])
                size = (round(painting.shape[1] * scale), round(painting.shape[2] * scale))
                painting = F.interpolate(painting[None], size=size, mode="bilinear", align_corners=False)[0].clamp(0, 1)
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                segment_painting(painting, SegmentationSettings(regions=regions), network)
                times.append(time.perf_counter() - started)
            size_text = f"{painting.shape[2]}x{painting.shape[1]}"
            print(f"{name:>10} {size_text:>11} {statistics.median(times):>8.2f}")


def synthesis_table(network: torch.nn.Module, out: Path) -> None:
    print("\nsynthesis: colour distance of each hand-map region to the painting's (mean, worst)")
    print(f"{'painting':>10} {'hand map':>16} {'automatic map':>16}")
    settings = SynthesisSettings(preset="balanced")
    for name in STYLES:
        example = Example.load(name)
        truth = example.style_masks.labels()[0]
        regions = int(truth.max()) + 1
        automatic = torch.from_numpy(segment_painting(example.style[0], SegmentationSettings(regions=regions), network))
        doodle = example.target.argmax(1)[0]
        moved = torch.tensor([matching(truth.numpy(), automatic.numpy())[r] for r in range(regions)])[doodle]
        pictures = {
            "hand": synthesize(example.style[0], truth, doodle, regions, settings),
            "automatic": synthesize(example.style[0], automatic, moved, int(automatic.max()) + 1, settings),
        }
        scores = []
        for picture in pictures.values():
            looks = look(picture[None], example.target, example.style, example.style_masks.masks)
            distances = [region.distance for region in looks.values()]
            scores.append(f"{np.mean(distances):.3f}, {max(distances):.3f}")
        print(f"{name:>10} {scores[0]:>16} {scores[1]:>16}")
        maps = [RegionMasks.from_labels(labels[None], default_palette(regions)) for labels in (truth, automatic)]
        row = [example.style[0]] + [m.preview()[0].permute(2, 0, 1) for m in maps] + list(pictures.values())
        out.mkdir(parents=True, exist_ok=True)
        save_image(to_channels_last(torch.cat(row, dim=2)[None]), out / f"{name}_steps.png")
        save_image(to_channels_last(pictures["automatic"][None]), out / f"{name}_from_automatic_map.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("out/segment"))
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    network = api.load_network("vgg16-hed")
    overlap_table(network)
    time_table(network, args.repeats)
    synthesis_table(network, args.out)


if __name__ == "__main__":
    main()
