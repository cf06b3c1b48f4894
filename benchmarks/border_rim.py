"""The sky's colour next to other regions against the rest of the sky: painting, L-BFGS result, renders.

    python benchmarks/border_rim.py --lbfgs-dir out/512

Renders show a light rim where rocks and trees meet the sky. This measures it: the mean RGB of the sky (the
region most of the top row belongs to) within ``--band`` px of another region, the mean of the rest of the
sky, and their difference. The painting is measured on its own map; L-BFGS (which minimises the loss
exactly) and the renders on the example doodle. If L-BFGS shows the rim too, the loss asks for it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from benchmarks.scoring import Example
from doodle import api
from doodle.files.image_io import load_image, to_channels_first


def sky_bands(labels: torch.Tensor, band: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the top region's pixels within ``band`` px of another region, and of the rest of it."""
    sky = labels == torch.mode(labels[0]).values
    near_other = F.max_pool2d((~sky).float()[None, None], 2 * band + 1, 1, band)[0, 0] > 0
    return sky & near_other, sky & ~near_other


def rim(image: torch.Tensor, labels: torch.Tensor, band: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean RGB (0..255) of ``image`` ``[1, 3, H, W]`` next to the border and away from it."""
    near, far = sky_bands(labels, band)
    pixels = image[0].permute(1, 2, 0) * 255
    return pixels[near].mean(0).numpy(), pixels[far].mean(0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbfgs-dir", type=Path, default=Path("out/512"))
    parser.add_argument("--weights-dir", type=Path, default=Path("weights"))
    parser.add_argument("--styles", nargs="+", default=["monet", "renoir"])
    parser.add_argument("--band", type=int, default=15, help="px from the border that count as next to it")
    parser.add_argument("--seeds", type=int, default=4, help="render seeds to average over")
    args = parser.parse_args()
    print(f"{'style':>7} {'image':>9}  {'sky next to others':>18}  {'rest of the sky':>17}  {'difference':>16}")
    for name in args.styles:
        example = Example.load(name)
        doodle_labels = example.target[0].argmax(0)
        lbfgs = to_channels_first(load_image(args.lbfgs_dir / f"{name}_lbfgs.png"))
        bundle = api.load_generator(args.weights_dir / f"{name}.safetensors")
        render_rims = [
            rim(to_channels_first(api.render_image(bundle, seed, doodle=example.doodle)), doodle_labels, args.band)
            for seed in range(args.seeds)
        ]
        rows = {
            "painting": rim(example.style, example.style_masks.masks[0].argmax(0), args.band),
            "L-BFGS": rim(F.interpolate(lbfgs, size=doodle_labels.shape, mode="area"), doodle_labels, args.band),
            "render": tuple(np.mean(side, axis=0) for side in zip(*render_rims, strict=True)),
        }
        for label, (near, far) in rows.items():
            text = "  ".join(f"{' '.join(f'{v:5.0f}' for v in rgb):>17}" for rgb in (near, far, near - far))
            print(f"{name:>7} {label:>9}  {text}")


if __name__ == "__main__":
    main()
