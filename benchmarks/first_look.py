"""A new style's first look: generators trained from scratch for a few hundred steps at 128 px, with
TrainDoodleStyle's defaults and with variations of them, measured region by region on the example doodle.

    PYTHONPATH=. python benchmarks/first_look.py --style renoir --steps 300 [--arms defaults "no distribution"]
        [--seeds 0 1] [--save-dir out/first_look]

Each arm changes named fields of ``TrainSettings()`` (the node's and the CLI's defaults). Per arm and training
seed: the training time, then, over 4 render seeds of the example doodle at its size, each doodle region against
the same region of the painting (``benchmarks/appearance.py``'s measures): colour distance, and colour spread,
gradient energy and speck share as ratios to the painting region's (1 is the painting's; flat fill is far
below 1, noise far above). ``swapped`` counts doodle regions whose colours are nearer another painting
region's than their own (a region painted with another's texture).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.appearance import DIRECTIONS, averaged, look, ratios, region_pixels
from benchmarks.scoring import Example
from doodle import api
from doodle.files.image_io import save_image, to_channels_first
from doodle.neural.distribution_loss import random_directions, sliced_error
from doodle.training import TrainSettings

ARMS = {
    "defaults": {},
    "no distribution": {"distribution_weight": 0.0},
    "distribution 4": {"distribution_weight": 4.0},
    "lr 0.01": {"learning_rate": 0.01},
    "batch norm": {"normalization": "batch"},
    "batch norm, lr 0.01": {"normalization": "batch", "learning_rate": 0.01},
    "batch norm, lr 0.03": {"normalization": "batch", "learning_rate": 0.03},
    "batch norm, lr 0.1": {"normalization": "batch", "learning_rate": 0.1},
}
RENDER_SEEDS = 4


def swapped_regions(image: torch.Tensor, example: Example) -> int:
    """Doodle regions whose colours are nearer another painting region's (sliced distance) than their own."""
    directions = random_directions(3, torch.Generator().manual_seed(0), DIRECTIONS)
    painting_regions = example.style_masks.masks[0] > 0.5
    swapped = 0
    for region, ours in enumerate(example.target[0] > 0.5):
        if not ours.any():
            continue
        pixels = region_pixels(image, ours)
        distances = [
            float(sliced_error(pixels, region_pixels(example.style, theirs), directions)) if theirs.any() else 1e9
            for theirs in painting_regions
        ]
        swapped += min(range(len(distances)), key=distances.__getitem__) != region
    return swapped


def measure(bundle: api.GeneratorBundle, example: Example) -> tuple[dict[str, list[float]], float, int]:
    """Per-region ratios to the painting, mean colour distance, and swapped regions of the first render."""
    renders = [to_channels_first(api.render_image(bundle, seed, doodle=example.doodle)) for seed in range(RENDER_SEEDS)]
    painting = look(example.style, example.style_masks.masks, example.style, example.style_masks.masks)
    looks = averaged([look(r, example.target, example.style, example.style_masks.masks) for r in renders])
    distance = sum(one.distance for one in looks.values()) / len(looks)
    return ratios(looks, painting), distance, swapped_regions(renders[0], example)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="renoir")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--save-dir", type=Path, help="save each run's render (seed 0) of the doodle here")
    args = parser.parse_args()
    example = Example.load(args.style)
    style = api.Style(example.style.permute(0, 2, 3, 1), example.style_masks)
    network_choice = api.NetworkChoice(args.network)
    print(f"{args.style}: {args.steps} steps from scratch, {torch.get_num_threads()} threads, {args.network}")
    header = f"{'arm':>24} {'seed':>4} {'minutes':>7} {'distance':>8} {'swapped':>7}"
    print(header + "  spread | gradient | specks (per region)")
    for arm in args.arms:
        for seed in args.seeds:
            settings = TrainSettings(steps=args.steps, seed=seed, checkpoint_every=args.steps, **ARMS[arm])
            started = time.perf_counter()
            bundle = api.train_style(style, settings, network_choice=network_choice)
            minutes = (time.perf_counter() - started) / 60
            with torch.no_grad():
                to_painting, distance, swapped = measure(bundle, example)
            columns = " | ".join(" ".join(f"{v:.2f}" for v in to_painting[f]) for f in ("spread", "gradient", "specks"))
            print(f"{arm:>24} {seed:4d} {minutes:7.1f} {distance:8.3f} {swapped:7d}  {columns}", flush=True)
            if args.save_dir:
                render = api.render_image(bundle, 0, doodle=example.doodle)
                save_image(render, args.save_dir / f"{args.style}_{arm.replace(' ', '_')}_{seed}.png")


if __name__ == "__main__":
    main()
