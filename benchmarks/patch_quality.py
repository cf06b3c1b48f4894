"""Gram, patches and both, by L-BFGS on the example doodles: time, appearance and Gram score side by side.

    PYTHONPATH=. python benchmarks/patch_quality.py [--size 256] [--iterations 100] [--out-dir out/patches]

Each run is ``python -m doodle optimize``'s (two scales, ``vgg16-hed``), one after another, timed whole. The
appearance columns are ``appearance.py``'s, measured at the result's size against the original project's
result area-resized to it (the doodle's regions resized alike): the worst region's ratio to the original for
colour distance (highest), spread and gradient energy (lowest). ``gram`` is the Gram score of
``scoring.score`` at that size (the objective the Gram run minimises; lower is closer in Gram statistics).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from benchmarks.appearance import look, ratios
from benchmarks.scoring import Example, score
from doodle import api
from doodle.files.image_io import load_image, save_image, to_channels_first
from doodle.neural.networks import load_network

LOSSES = {"gram": (1.0, 0.0), "patches": (0.0, 1.0), "both": (1.0, 1.0)}
"""(gram_weight, patch_weight) of each run."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles", nargs="+", default=["monet", "renoir"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--out-dir", type=Path, default=Path("out/patches"))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    network_choice = api.NetworkChoice("vgg16-hed")
    scorer = load_network("vgg16-hed")
    print(f"{'style':>7} {'loss':>8} {'seconds':>8} {'distance':>8} {'dist spr grad':>14} {'gram':>7}")
    for name in args.styles:
        example = Example.load(name)
        style = api.Style(load_image(f"samples/{name}/style.png"), example.style_masks)
        target = api.masks_from_colors(example.doodle, palette_from=example.style_masks)
        original = to_channels_first(load_image(f"benchmarks/data/{name}_original.png"))
        for loss, (gram_weight, patch_weight) in LOSSES.items():
            settings = api.OptimizeSettings(
                iterations=args.iterations, size=args.size, gram_weight=gram_weight, patch_weight=patch_weight
            )
            start = time.perf_counter()
            image = api.optimize_image(style, target, settings, network_choice=network_choice)
            seconds = time.perf_counter() - start
            save_image(image, args.out_dir / f"{name}_{loss}.png")
            result = to_channels_first(image)
            size = tuple(result.shape[-2:])
            regions = F.interpolate(example.target, size=size, mode="nearest")
            measured = look(result, regions, example.style, example.style_masks.masks)
            yardstick = look(
                F.interpolate(original, size=size, mode="area"), regions, example.style, example.style_masks.masks
            )
            to_original = ratios(measured, yardstick)
            worst = (max(to_original["distance"]), min(to_original["spread"]), min(to_original["gradient"]))
            distance = sum(one.distance for one in measured.values()) / len(measured)
            with torch.no_grad():
                gram = score(scorer, example, result)[0]
            worst_text = " ".join(f"{value:4.2f}" for value in worst)
            print(f"{name:>7} {loss:>8} {seconds:8.0f} {distance:8.3f} {worst_text:>14} {gram:7.4f}", flush=True)


if __name__ == "__main__":
    main()
