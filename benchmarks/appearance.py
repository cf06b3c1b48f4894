"""What the eye sees, region by region: colour distribution, colour spread, gradient energy and specks.

    PYTHONPATH=. python benchmarks/appearance.py [--weights-dir weights] [--lbfgs-dir out/512] [--seeds 4]

Every image is measured at the doodle's size, each doodle region against the same region of the style
painting (its pixels under the painting's map):

* ``distance``: sliced Wasserstein-2 distance of the region's RGB colours to the painting region's (the root
  of the mean squared quantile difference over 128 fixed random directions); 0 is the painting's palette.
* ``spread``: root of the summed RGB variance in the region, as a ratio to the painting region's.
* ``gradient``: mean squared difference of neighbouring pixels (both in the region), as a ratio to the
  painting region's: flat fill is far below 1, noise far above.
* ``specks``: share of the region's pixels more than ``SPECK_LEVEL`` from the median of their 3x3
  neighbourhood (luminance), as a ratio to the painting region's.

``original`` is the original project's published result for the same doodle (``benchmarks/data``), the
yardstick; the render rows are means over ``--seeds`` noise seeds, per region, and the ``/original`` columns
give the worst region's ratio to the original (distance: highest; spread, gradient: lowest).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from benchmarks.scoring import Example
from doodle import api
from doodle.files.image_io import load_image, to_channels_first
from doodle.neural.distribution_loss import random_directions, sliced_error

DIRECTIONS = 128
SPECK_LEVEL = 0.15
LUMA = torch.tensor([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class RegionLook:
    """One region's measures (raw, not yet ratios)."""

    distance: float
    spread: float
    gradient: float
    specks: float


def region_pixels(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """RGB ``[3, n]`` of ``image`` ``[1, 3, H, W]`` where the boolean ``region`` ``[H, W]`` holds."""
    return image[0][:, region]


def gradient_energy(image: torch.Tensor, region: torch.Tensor) -> float:
    """Mean squared difference of horizontally and vertically neighbouring pixels that are both in ``region``."""
    rows = (image[0, :, 1:] - image[0, :, :-1]).pow(2).sum(0)[region[1:] & region[:-1]]
    columns = (image[0, :, :, 1:] - image[0, :, :, :-1]).pow(2).sum(0)[region[:, 1:] & region[:, :-1]]
    both = torch.cat([rows, columns])
    return float(both.mean()) if len(both) else 0.0


def speck_share(image: torch.Tensor, region: torch.Tensor) -> float:
    """Share of ``region``'s pixels whose luminance is more than ``SPECK_LEVEL`` from their 3x3 median."""
    luma = torch.einsum("bchw,c->bhw", image, LUMA)[:, None]
    patches = F.unfold(F.pad(luma, (1, 1, 1, 1), mode="replicate"), 3).reshape(9, *luma.shape[-2:])
    outliers = (luma[0, 0] - patches.median(dim=0).values).abs() > SPECK_LEVEL
    return float(outliers[region].float().mean())


def look(image: torch.Tensor, regions: torch.Tensor, painting: torch.Tensor, painting_regions: torch.Tensor):
    """:class:`RegionLook` of every region present in both (one-hot ``regions`` and ``painting_regions``)."""
    directions = random_directions(3, torch.Generator().manual_seed(0), DIRECTIONS)
    looks = {}
    for r in range(regions.shape[1]):
        ours, theirs = regions[0, r] > 0.5, painting_regions[0, r] > 0.5
        if not ours.any() or not theirs.any():
            continue
        pixels, reference = region_pixels(image, ours), region_pixels(painting, theirs)
        looks[r] = RegionLook(
            float(sliced_error(pixels, reference, directions).sqrt()),
            float(pixels.var(dim=1).sum().sqrt()),
            gradient_energy(image, ours),
            speck_share(image, ours),
        )
    return looks


def averaged(looks: list[dict[int, RegionLook]]) -> dict[int, RegionLook]:
    return {
        r: RegionLook(
            *(sum(getattr(one[r], field) for one in looks) / len(looks) for field in RegionLook.__annotations__)
        )
        for r in looks[0]
    }


def ratios(looks: dict[int, RegionLook], to: dict[int, RegionLook]) -> dict[str, list[float]]:
    return {
        field: [getattr(looks[r], field) / max(getattr(to[r], field), 1e-9) for r in looks]
        for field in RegionLook.__annotations__
    }


def print_table(styles: list[str], weights_dir: Path, lbfgs_dir: Path | None, seeds: int) -> None:
    """The table this module's docstring describes (``benchmarks/quality.py`` prints it too)."""
    torch.set_grad_enabled(False)
    print(f"{'style':>7} {'image':>9} {'distance':>8} {'/original':>9} {'spread':>6} {'gradient':>8} {'specks':>6}")
    print(f"{'':>7} {'':>9} {'(mean)':>8} {'dist spr grad':>13}  (per region, ratio to the painting's)")
    for name in styles:
        example = Example.load(name)
        regions, painting, painting_regions = example.target, example.style, example.style_masks.masks
        images = {"original": [f"benchmarks/data/{name}_original.png"]}
        if lbfgs_dir:
            images["L-BFGS"] = [lbfgs_dir / f"{name}_lbfgs.png"]
        measured = {
            kind: averaged(
                [look(to_channels_first(load_image(path)), regions, painting, painting_regions) for path in paths]
            )
            for kind, paths in images.items()
        }
        bundle = api.load_generator(weights_dir / f"{name}.safetensors")
        renders = [to_channels_first(api.render_image(bundle, seed, doodle=example.doodle)) for seed in range(seeds)]
        measured["render"] = averaged([look(render, regions, painting, painting_regions) for render in renders])
        painting_look = look(painting, painting_regions, painting, painting_regions)
        for kind, looks in measured.items():
            to_painting = ratios(looks, painting_look)
            to_original = ratios(looks, measured["original"])
            distance = sum(one.distance for one in looks.values()) / len(looks)
            worst = (max(to_original["distance"]), min(to_original["spread"]), min(to_original["gradient"]))
            worst_text = " ".join(f"{value:4.2f}" for value in worst)
            columns = " | ".join(
                f"{' '.join(f'{value:.2f}' for value in to_painting[field]):>6}"
                for field in ("spread", "gradient", "specks")
            )
            print(f"{name:>7} {kind:>9} {distance:8.3f} {worst_text:>14}  {columns}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-dir", type=Path, default=Path("weights"))
    parser.add_argument("--lbfgs-dir", type=Path, help="also measure <dir>/<style>_lbfgs.png")
    parser.add_argument("--styles", nargs="+", default=["monet", "renoir"])
    parser.add_argument("--seeds", type=int, default=4, help="render seeds to average over")
    args = parser.parse_args()
    print_table(args.styles, args.weights_dir, args.lbfgs_dir, args.seeds)


if __name__ == "__main__":
    main()
