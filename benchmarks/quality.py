"""Masked style loss of the shipped generators' renders against the L-BFGS results for the same doodle.

    python benchmarks/quality.py --lbfgs-dir out/   # expects out/<style>_lbfgs.png from `python -m doodle optimize`

Both images are scored at the L-BFGS result's size (the render is area-downscaled to it) with the style
image resized to the same long side, as the optimiser saw it; lower is better, 0 is the style itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.nn import functional as F

from doodle import api
from doodle.image_io import load_image, to_channels_first
from doodle.optimize import level_objective, paint_region_means


def style_loss_at(network, style, style_masks, target_masks, image: torch.Tensor) -> float:
    """The L-BFGS objective at ``image``'s size, built exactly as the optimiser builds it."""
    size = tuple(image.shape[-2:])
    objective = level_objective(network, style, style_masks, size)
    objective.set_target_masks(F.interpolate(target_masks, size=size, mode="area"))
    with torch.no_grad():
        return float(objective(image))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbfgs-dir", type=Path, default=Path("out"))
    parser.add_argument("--network", default="vgg16-hed")
    args = parser.parse_args()
    network = api.load_network(args.network, allow_download=False)
    print(f"{'style':>7} {'L-BFGS':>8} {'render':>8} {'ratio':>6} {'flat (region means)':>20}")
    for name in ("monet", "renoir"):
        style = to_channels_first(load_image(f"examples/{name}/style.png"))
        style_masks = api.masks_from_colors(load_image(f"examples/{name}/style_mask.png"))
        doodle = load_image(f"examples/{name}/target_mask.png")
        target = api.masks_from_colors(doodle, palette_from=style_masks).masks
        lbfgs = to_channels_first(load_image(args.lbfgs_dir / f"{name}_lbfgs.png"))
        bundle = api.load_generator(f"weights/{name}.safetensors")
        render = to_channels_first(api.render_image(bundle, 0, doodle=doodle))
        render = F.interpolate(render, size=lbfgs.shape[-2:], mode="area")
        flat = paint_region_means(style, style_masks.masks, F.interpolate(target, size=lbfgs.shape[-2:], mode="area"))
        scores = [style_loss_at(network, style, style_masks.masks, target, image) for image in (lbfgs, render, flat)]
        print(f"{name:>7} {scores[0]:8.3f} {scores[1]:8.3f} {scores[1] / scores[0]:6.2f} {scores[2]:20.3f}")


if __name__ == "__main__":
    main()
