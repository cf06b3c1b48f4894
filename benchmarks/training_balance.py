"""How much area each region gets in training masks, and what that does to a trained generator.

    python benchmarks/training_balance.py [--regions 5] [--masks 200]
    python benchmarks/training_balance.py --train-steps 200 --style monet   # three short trainings (minutes)
    python benchmarks/training_balance.py --train-steps 150 --resume-from weights/monet.safetensors --size 256 \
        --batch-size 1 --loss-scales 2 --weight-average 0.99 --seed 18 --samplings varied reference   # fine-tunes

The samplings are ``doodle.maps.random_masks.MASK_SAMPLINGS`` (see ``training_masks``): reference (what the original
generate.py did: K-means height bands always in the same order, so the middle regions are always thin rings),
equal (near-equal areas in every mask), varied (the default: each mask draws its own area shares, so every
region is sometimes most of the picture). A region that is rarely seen, or never seen big, is learned badly;
the training mode trains one generator on each sampling (same seed, steps and settings) and scores each on
the example doodle, region by region, with the L-BFGS objective (``benchmarks/scoring.py``), and each region
in a random doodle where it covers most of the picture (``big_region_example``). With ``--resume-from`` each
sampling instead fine-tunes the same trained generator for ``--train-steps`` more steps: the start is shared,
so the noise of training from scratch (collapses, seed luck) does not swamp the sampling's effect.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from benchmarks.scoring import Example, render_score
from doodle import api
from doodle.generator.file import GeneratorBundle
from doodle.maps.random_masks import MASK_SAMPLINGS, MaskShape, random_labels, training_masks
from doodle.maps.regions import RegionMasks
from doodle.training import TrainSettings, train_generator

RENDER_SEEDS = 4
BIG_SHARE = 0.7


def area_shares(size: int, regions: int, count: int, sampling: str) -> np.ndarray:
    """Each mask's area share per region ``[count, regions]``."""
    masks = training_masks(size, regions, count, np.random.default_rng(0), sampling)
    return masks.mean(dim=(2, 3)).numpy()


def print_area_table(size: int, regions: int, count: int) -> None:
    fair = 1 / regions
    print(f"{count} masks of {size}x{size}, {regions} regions (fair share {fair:.2f})")
    header = f"{'sampling':>10} {'worst region: mean share':>25} {'p5 share':>9} {'masks with a region < 5%':>25}"
    print(header + f" {'masks where the worst region is > 40%':>38}")
    for sampling in MASK_SAMPLINGS[::-1]:
        shares = area_shares(size, regions, count, sampling)
        worst = int(shares.mean(axis=0).argmin())
        starved = (shares.min(axis=1) < 0.05).mean()
        big = (shares[:, worst] > 0.4).mean()
        p5 = np.percentile(shares[:, worst], 5)
        print(f"{sampling:>10} {shares[:, worst].mean():25.3f} {p5:9.3f} {starved:25.1%} {big:38.1%}")


def big_region_example(example: Example, region: int) -> Example:
    """``example`` with a random doodle of its size in which ``region`` covers ``BIG_SHARE`` of the picture.

    A doodle's sky or field is often most of the picture; a sampling that never shows a region that big
    (``reference`` never gives any region more than ~40 %) may leave it unable to fill one.
    """
    height, width = example.doodle.shape[1:3]
    regions = example.target.shape[1]
    shares = np.full(regions, (1 - BIG_SHARE) / (regions - 1))
    shares[0] = BIG_SHARE
    rng = np.random.default_rng(region)
    bands = random_labels(width, height, regions, rng, MaskShape(min_piece=0.01), shares=shares)
    order = [region] + [other for other in range(regions) if other != region]  # band 0 (the big one) -> region
    labels = torch.as_tensor(np.array(order)[bands])[None]
    masks = RegionMasks.from_labels(labels, example.style_masks.palette)
    return dataclasses.replace(example, doodle=masks.preview(), target=masks.masks)


def print_training_table(
    style: str, settings: TrainSettings, network_name: str, samplings: list[str], resume_from: Path | None
) -> None:
    """Train (or, from ``resume_from``, fine-tune for ``settings.steps`` more steps) one generator per sampling
    with ``settings``; score each."""
    network = api.load_network(network_name, allow_download=False)
    example = Example.load(style)
    start = None if resume_from is None else api.load_generator(resume_from)
    steps_before = 0 if start is None else start.training["steps_done"]
    score_size = (example.doodle.shape[1] // 2, example.doodle.shape[2] // 2)
    scored = f"{score_size[1]}x{score_size[0]}, mean of {RENDER_SEEDS} render seeds"
    how = f"{settings.steps} steps of {settings.batch_size}x{settings.size}² (training seed {settings.seed})"
    print(f"{style}: {how}{f' from {resume_from}' if start else ''}, scored on the doodle at {scored}")
    print(f"'big': each region's loss in a random doodle where it covers {BIG_SHARE:.0%} (one doodle per region)")
    print(f"{'sampling':>10} {'loss':>6} {'worst region':>13} {'big: mean':>10} {'worst':>6}  per region | big")
    big_examples = [big_region_example(example, region) for region in range(example.target.shape[1])]

    def print_row(name: str, bundle: GeneratorBundle) -> None:
        total, regions = render_score(network, bundle, example, score_size, RENDER_SEEDS)
        big = [
            render_score(network, bundle, big_example, score_size, RENDER_SEEDS)[1][region]
            for region, big_example in enumerate(big_examples)
        ]
        per_region = " ".join(f"{r:.3f}" for r in regions) + " | " + " ".join(f"{r:.3f}" for r in big)
        print(f"{name:>10} {total:6.3f} {max(regions):13.3f} {np.mean(big):10.3f} {max(big):6.3f}  {per_region}")

    if start is not None:
        print_row("start", start)
    for sampling in samplings:
        run = dataclasses.replace(settings, steps=steps_before + settings.steps, mask_sampling=sampling)
        bundle = train_generator(network, network_name, example.style, example.style_masks.select(0), run, resume=start)
        print_row(sampling, bundle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--masks", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=0, help="train on each sampling for this many steps")
    parser.add_argument("--samplings", nargs="+", default=MASK_SAMPLINGS[::-1], choices=MASK_SAMPLINGS)
    parser.add_argument("--style", default="monet")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="training seed (every run gets the same)")
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--resume-from", type=Path, help="fine-tune this generator file instead of training anew")
    parser.add_argument("--loss-scales", type=int, default=1)
    parser.add_argument("--weight-average", type=float, default=0.0)
    args = parser.parse_args()
    if args.train_steps:
        settings = TrainSettings(
            steps=args.train_steps,
            batch_size=args.batch_size,
            size=args.size,
            seed=args.seed,
            loss_scales=args.loss_scales,
            weight_average=args.weight_average,
        )
        print_training_table(args.style, settings, args.network, args.samplings, args.resume_from)
    else:
        print_area_table(args.size, args.regions, args.masks)


if __name__ == "__main__":
    main()
