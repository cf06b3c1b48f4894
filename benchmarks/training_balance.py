"""How much area each region gets in training masks: the reference sampling against ours.

    python benchmarks/training_balance.py [--regions 5] [--masks 200]

reference: what the original generate.py did: one roughness (0.35), K-means on heights (labels in height
order, so each region always takes the same height band), median filter, no balancing.
ours: doodle.random_masks.training_masks: random roughness 0.35-0.75, a random height rank per region and
mask, masks where some region has under half its fair share redrawn.
A region with a small share in many masks (the original's "sky") is seen rarely and learned badly.
"""

from __future__ import annotations

import argparse

import numpy as np

from doodle.random_masks import random_labels, training_masks


def reference_masks(size: int, regions: int, count: int, rng: np.random.Generator) -> np.ndarray:
    smoothing = max(3, size // 16) | 1
    labels = np.stack([random_labels(size, size, regions, rng, 0.35, smoothing, 0.0) for _ in range(count)])
    return np.stack([(labels == r).mean(axis=(1, 2)) for r in range(regions)], axis=1)


def our_masks(size: int, regions: int, count: int, rng: np.random.Generator) -> np.ndarray:
    return training_masks(size, regions, count, rng).mean(dim=(2, 3)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--masks", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    fair = 1 / args.regions
    print(f"{args.masks} masks of {args.size}x{args.size}, {args.regions} regions (fair share {fair:.2f})")
    print(f"{'sampling':>10} {'worst region: mean share':>25} {'p5 share':>9} {'masks with a region < 5%':>25}")
    for name, sample in (("reference", reference_masks), ("ours", our_masks)):
        shares = sample(args.size, args.regions, args.masks, np.random.default_rng(0))
        worst = int(shares.mean(axis=0).argmin())
        starved = (shares.min(axis=1) < 0.05).mean()
        print(f"{name:>10} {shares[:, worst].mean():25.3f} {np.percentile(shares[:, worst], 5):9.3f} {starved:25.1%}")


if __name__ == "__main__":
    main()
