"""What a render costs, by design: multiply-adds per pixel and CPU time for the shipped generator's
architecture and narrower ones, so a speed target can be set against a design rather than against code.

    PYTHONPATH=. python benchmarks/render_cost.py [--generator weights/monet.safetensors] [--sizes 512x384 1024x1024]

Each row is a generator of that architecture with its own random weights (speed does not depend on what the
weights are); ``shipped`` is the file's own architecture. ``GMAC`` counts the convolutions' multiply-adds at
the first size (the modulation maps included), ``GMAC/s`` is what the machine reached on them; times are the
best of 3 after a warm-up, from masks, all in one run.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch
from torch import nn

from benchmarks.feed_forward_speed import timed
from doodle import api
from doodle.generator.model import DoodleGenerator

NARROWER = {
    "level 0 at 16": (16,),
    "level 0 at 8": (8,),
    "levels 0-1 at 8, 16": (8, 16),
}
"""Designs that keep the shipped one's coarser levels and narrow its finest: the full-resolution level holds
most of the work (texture_nets ran 8 channels per branch there)."""


def multiply_adds(model: DoodleGenerator, masks: torch.Tensor) -> int:
    """Multiply-adds of every convolution for one render of ``masks``, counted with forward hooks."""
    total = 0

    def count(module: nn.Conv2d, _inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        total += output.numel() * per_output

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model(masks, 0)
    for hook in hooks:
        hook.remove()
    total += _modulation_multiply_adds(model, masks)
    return total


def _modulation_multiply_adds(model: DoodleGenerator, masks: torch.Tensor) -> int:
    """The modulation maps run through ``F.conv2d`` on their weights, which no hook sees."""
    total = 0
    for modulations in (model.input_modulations, model.join_modulations):
        for level, modulation in enumerate(modulations):
            pixels = masks.shape[0] * (masks.shape[-2] >> level) * (masks.shape[-1] >> level)
            total += pixels * modulation.map.weight.shape[0] * modulation.map.weight.shape[1]
    return total


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(side) for side in text.split("x"))
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="weights/monet.safetensors")
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(512, 384), (1024, 1024)])
    args = parser.parse_args()
    shipped = api.load_generator(args.generator)
    config = shipped.model.config
    designs = {"shipped": config, "shipped, no modulation": replace(config, modulated=False)}
    for name, finest in NARROWER.items():
        designs[name] = replace(config, widths=finest + config.widths[len(finest) :])
    masks = {
        size: api.random_masks(*size, shipped.n_regions, seed=0, palette=shipped.palette).masks for size in args.sizes
    }
    first = args.sizes[0]
    print(f"{torch.get_num_threads()} threads, {args.generator}: {config.levels} levels, widths {config.widths}")
    header = f"{'design':>24} {'widths':>26} {'params':>8} {'GMAC':>6} {'GMAC/s':>7}"
    print(header + "".join(f" {f'{w}x{h} s':>12}" for w, h in args.sizes))
    for name, design in designs.items():
        torch.manual_seed(0)
        model = DoodleGenerator(design).eval()
        gmac = multiply_adds(model, masks[first]) / 1e9
        seconds = {}
        with torch.no_grad():
            for size in args.sizes:
                seconds[size] = timed(lambda m=masks[size], g=model: g(m, 0))
        parameters = sum(p.numel() for p in model.parameters())
        row = f"{name:>24} {str(design.widths):>26} {parameters:8d} {gmac:6.2f} {gmac / seconds[first]:7.1f}"
        print(row + "".join(f" {seconds[size]:12.3f}" for size in args.sizes))


if __name__ == "__main__":
    main()
