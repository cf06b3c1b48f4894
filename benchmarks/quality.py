"""Masked style loss of the shipped generators' renders against the L-BFGS results for the same doodle.

    python benchmarks/quality.py --lbfgs-dir out/512   # reads out/512/<style>_lbfgs.png (python -m doodle optimize)

(``benchmarks/README.md``, Quality, has the commands that make the L-BFGS results at 512 and 256 px.)

``original`` is the original project's published result for the same doodle
(``docs/images/<style>_reference.jpg``, optimised on ImageNet VGG-19 features, so this objective is not what
it minimised): a yardstick of a result people found good. ``halves`` scores the style painting's own left
and right halves, each with its own map, against the whole painting: what another piece of the same painting
reaches, the yardstick for a generator that paints textures rather than one particular picture
(``scoring.painting_halves_score``). All images are scored at the L-BFGS result's size
(the others are area-downscaled to it) with the style image resized to the same long side, as the optimiser
saw it; lower is better, 0 is the style itself.
The render's score is the mean over ``--seeds`` noise seeds. The per-region columns show where the render
falls short (see ``benchmarks/scoring.py``).

A second table measures what the eye sees, region by region, for the same images: colour-distribution
distance, colour spread, gradient energy and specks, against the painting and the original project's result
(``benchmarks/appearance.py``, which also runs alone).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torch.nn import functional as F

from benchmarks import appearance
from benchmarks.scoring import Example, painting_halves_score, render_score, score
from doodle import api
from doodle.files.image_io import load_image, to_channels_first
from doodle.neural.optimize import paint_region_means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbfgs-dir", type=Path, default=Path("out/512"))
    parser.add_argument("--weights-dir", type=Path, default=Path("weights"))
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--styles", nargs="+", default=["monet", "renoir"])
    parser.add_argument("--seeds", type=int, default=4, help="render seeds to average over")
    args = parser.parse_args()
    network = api.load_network(args.network, allow_download=False)
    header = (
        f"{'style':>7} {'L-BFGS':>7} {'halves':>11} {'original':>8} {'render':>7} {'/L-BFGS':>7} {'/halves':>7} "
        f"{'flat':>5}"
    )
    print(f"{header}  render per region (L-BFGS per region)")
    for name in args.styles:
        example = Example.load(name)
        lbfgs = to_channels_first(load_image(args.lbfgs_dir / f"{name}_lbfgs.png"))
        size = tuple(lbfgs.shape[-2:])
        original = to_channels_first(load_image(f"docs/images/{name}_reference.jpg"))
        original = F.interpolate(original, size=size, mode="area")
        bundle = api.load_generator(args.weights_dir / f"{name}.safetensors")
        target = F.interpolate(example.target, size=size, mode="area")
        flat = paint_region_means(example.style, example.style_masks.masks, target)
        (best, best_regions), (original_score, _), (flat_score, _) = (
            score(network, example, image) for image in (lbfgs, original, flat)
        )
        ours, our_regions = render_score(network, bundle, example, size, args.seeds)
        halves = painting_halves_score(network, example, size)
        regions = " ".join(f"{r:.2f} ({b:.2f})" for r, b in zip(our_regions, best_regions, strict=True))
        halves_text = "/".join(f"{half:.3f}" for half in halves)
        ratios = f"{ours / best:7.1f} {ours * len(halves) / sum(halves):7.2f}"
        scores = f"{best:7.3f} {halves_text:>11} {original_score:8.3f} {ours:7.3f} {ratios} {flat_score:5.2f}"
        print(f"{name:>7} {scores}  {regions}")
    print()
    appearance.print_table(args.styles, args.weights_dir, args.lbfgs_dir, args.seeds)


if __name__ == "__main__":
    main()
