"""Patch loss against the Gram loss: seconds per evaluation (loss and gradient) at 256 and 512 px.

    PYTHONPATH=. python benchmarks/patch_loss_speed.py [--network vgg16-hed] [--sizes 256 512] [--style monet]

One L-BFGS evaluation of the example doodle's objective at each size, for the Gram loss, the patch loss and
both (best of 3 after a warm-up, in one run). On CUDA it also prints peak GPU memory; on the CPU the patch
search's working memory is bounded by ``patch_loss.MAX_SIMILARITIES`` (64 MB) plus the painting's patches,
whose size it prints.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.feed_forward_speed import timed
from benchmarks.scoring import Example
from doodle.networks import load_network
from doodle.optimize import OptimizeSettings, _resize_masks, level_objective, long_side_size

LOSSES = {"gram": OptimizeSettings(), "patches": OptimizeSettings(gram_weight=0, patch_weight=1)}
LOSSES["both"] = OptimizeSettings(patch_weight=1)


def evaluation(objective, image: torch.Tensor):
    """One loss and gradient, as one L-BFGS evaluation does."""

    def evaluate() -> None:
        pixels = image.clone().requires_grad_(True)
        objective(pixels).backward()

    return evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--style", default="monet")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    network = load_network(args.network, device)
    example = Example.load(args.style, device)
    print(f"device {device}, {torch.get_num_threads()} threads, {args.network}, {args.style} doodle")
    print(f"{'size':>6} {'loss':>8} {'s/eval':>8} {'/gram':>6} {'style patches MB':>17} {'peak GPU MB':>12}")
    for size in args.sizes:
        level_size = long_side_size(example.target.shape[-2:], size)
        masks = _resize_masks(example.target, level_size)
        image = torch.rand(1, 3, *level_size, device=device)
        gram_seconds = None
        for name, settings in LOSSES.items():
            objective = level_objective(network, example.style, example.style_masks.masks, level_size, settings)
            objective.set_target_masks(masks)
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            seconds = timed(evaluation(objective, image))
            gram_seconds = gram_seconds or seconds
            stored = 0.0
            if objective.patches is not None:
                rows = [p for layer in objective.patches.patches.values() for p in layer if p is not None]
                stored = sum(p.numel() * p.element_size() for p in rows) / 2**20
            peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else float("nan")
            print(f"{size:>6} {name:>8} {seconds:8.3f} {seconds / gram_seconds:6.2f} {stored:17.1f} {peak:12.0f}")


if __name__ == "__main__":
    main()
