"""Feed-forward speed: render times, the L-BFGS / render ratio on one target, training seconds per step.

    python benchmarks/feed_forward_speed.py [--generator weights/monet.safetensors] [--lbfgs-iterations 300]

The L-BFGS time is a finished painting as the CLI and the README's images make it (300 iterations over 2
scales, 256 then 512 px; fewer --lbfgs-iterations for a quicker, partial figure) on the same
target (Monet's doodle, 512x384) as the renders of the first two rows: from the colour doodle (its colours
mapped to the palette on the CPU first, as RenderDoodle with a doodle input does) and from its masks (the
generator alone, as after MaskFromColors); all in one run, on one machine. On a GPU the renders are also
timed in half precision (``fp16`` rows) and every time waits for the GPU to finish.
"""

from __future__ import annotations

import argparse
import time

import torch

from doodle import api
from doodle.files.image_io import load_image
from doodle.training import TrainSettings


def timed(function, repeats: int = 3) -> float:
    """Best of ``repeats`` wall-clock times after one warm-up call, the GPU's queued work included."""

    def finished() -> None:
        function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    finished()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        finished()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="weights/monet.safetensors")
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--lbfgs-iterations", type=int, default=300)
    parser.add_argument("--lbfgs-scales", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bundle = api.load_generator(args.generator, device)
    doodle = load_image("samples/monet/target_mask.png")
    style, style_map = load_image("samples/monet/style.png"), load_image("samples/monet/style_mask.png")
    print(f"device {device}, {torch.get_num_threads()} threads, generator {args.generator}")
    print(f"{'what':>28} {'seconds':>9}")
    target_render = timed(lambda: api.render_image(bundle, 0, doodle=doodle))
    print(f"{'render 512x384 (the doodle)':>28} {target_render:9.3f}")
    doodle_masks = api.generator_masks(bundle, None, doodle)
    masks_render = timed(lambda: api.render_image(bundle, 0, masks=doodle_masks))
    print(f"{'render 512x384 (its masks)':>28} {masks_render:9.3f}")
    precisions = [False, True] if device == "cuda" else [False]
    for size in args.sizes:
        masks = api.random_masks(size, size, bundle.n_regions, seed=0, palette=bundle.palette)
        for half in precisions:
            seconds = timed(
                lambda m=masks, h=half: api.render_image(
                    bundle, 0, masks=m, settings=api.RenderSettings(half_precision=h)
                ),
                repeats=1 if size > 1024 and device == "cpu" else 3,
            )
            print(f"{f'render {size}x{size}' + (' fp16' if half else ''):>28} {seconds:9.3f}")
    style_masks = api.masks_from_colors(style_map)
    target = api.masks_from_colors(doodle, palette_from=style_masks)
    start = time.perf_counter()
    iterations, scales = args.lbfgs_iterations, args.lbfgs_scales
    settings = api.OptimizeSettings(iterations=iterations, scales=scales)
    network_choice = api.NetworkChoice(args.network, device)
    api.optimize_image(api.Style(style, style_masks), target, settings, network_choice=network_choice)
    lbfgs = time.perf_counter() - start
    print(f"{f'L-BFGS {iterations} it. {scales} sc. 512x384':>28} {lbfgs:9.3f}")
    print(f"{'L-BFGS / render (doodle)':>28} {lbfgs / target_render:9.0f}x")
    print(f"{'L-BFGS / render (masks)':>28} {lbfgs / masks_render:9.0f}x")
    for batch, size in ((4, 128), (1, 512)):
        settings = TrainSettings(steps=3, batch_size=batch, size=size, checkpoint_every=100)
        train = lambda s=settings: api.train_style(api.Style(style, style_masks), s, network_choice=network_choice)  # noqa: E731
        seconds = timed(train, repeats=1)
        print(f"{f'training s/step ({batch}x{size}²)':>28} {seconds / 3:9.3f}")


if __name__ == "__main__":
    main()
