"""How much area each region gets in training masks, and what that does to a trained generator.

    python benchmarks/training_balance.py [--regions 5] [--masks 200]
    python benchmarks/training_balance.py --train-steps 200 --style monet   # two short trainings (minutes)

reference: what the original generate.py did: one roughness (0.35), K-means on heights (labels in height
order, so each region always takes the same height band), median filter, no balancing
(``training_masks(..., balanced=False)``).
ours: doodle.random_masks.training_masks: random roughness 0.35-0.75, a random height rank per region and
mask, masks where some region has under half its fair share redrawn.
A region with a small share in many masks (the original's "sky") is seen rarely and learned badly; the
training mode trains one generator on each sampling (same seed, steps and settings) and scores both on the
example doodle, region by region, with the L-BFGS objective (``benchmarks/scoring.py``).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.scoring import Example, render_score
from doodle import api
from doodle.random_masks import training_masks
from doodle.train import TrainSettings, train_generator

RENDER_SEEDS = 4


def area_shares(size: int, regions: int, count: int, balanced: bool) -> np.ndarray:
    """Each mask's area share per region ``[count, regions]``."""
    masks = training_masks(size, regions, count, np.random.default_rng(0), balanced=balanced)
    return masks.mean(dim=(2, 3)).numpy()


def print_area_table(size: int, regions: int, count: int) -> None:
    fair = 1 / regions
    print(f"{count} masks of {size}x{size}, {regions} regions (fair share {fair:.2f})")
    print(f"{'sampling':>10} {'worst region: mean share':>25} {'p5 share':>9} {'masks with a region < 5%':>25}")
    for name, balanced in (("reference", False), ("ours", True)):
        shares = area_shares(size, regions, count, balanced)
        worst = int(shares.mean(axis=0).argmin())
        starved = (shares.min(axis=1) < 0.05).mean()
        print(f"{name:>10} {shares[:, worst].mean():25.3f} {np.percentile(shares[:, worst], 5):9.3f} {starved:25.1%}")


def print_training_table(style: str, steps: int, size: int, batch_size: int, seed: int, network_name: str) -> None:
    network = api.load_network(network_name, allow_download=False)
    example = Example.load(style)
    score_size = (example.doodle.shape[1] // 2, example.doodle.shape[2] // 2)
    scored = f"{score_size[1]}x{score_size[0]}, mean of {RENDER_SEEDS} render seeds"
    print(f"{style}: {steps} steps of {batch_size}x{size}² (training seed {seed}), scored on the doodle at {scored}")
    print(f"{'sampling':>10} {'loss':>6} {'worst region':>13}  per region")
    for name, balanced in (("reference", False), ("ours", True)):
        settings = TrainSettings(steps, batch_size, size=size, seed=seed, balanced_masks=balanced)
        bundle = train_generator(network, network_name, example.style, example.style_masks.select(0), settings)
        total, regions = render_score(network, bundle, example, score_size, RENDER_SEEDS)
        print(f"{name:>10} {total:6.3f} {max(regions):13.3f}  {' '.join(f'{r:.3f}' for r in regions)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--masks", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=0, help="also train both ways for this many steps")
    parser.add_argument("--style", default="monet")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="training seed (both runs get the same)")
    parser.add_argument("--network", default="vgg16-hed")
    args = parser.parse_args()
    if args.train_steps:
        print_training_table(args.style, args.train_steps, args.size, args.batch_size, args.seed, args.network)
    else:
        print_area_table(args.size, args.regions, args.masks)


if __name__ == "__main__":
    main()
