"""Polishing a render: L-BFGS started from the generator's render, against a start from scratch and a full run.

    python benchmarks/polish.py [--iterations 40] [--out-dir out/polish]

For each shipped style, on its example doodle at its own size (512 px): the render (seed 0), then L-BFGS at
one scale from that render (``init_image``, what the ``5_polish_a_render`` workflow does), L-BFGS at one
scale from the usual start (``style-mean``) for as many iterations, and a full run as the CLI and README make
it (300 iterations, 2 scales). Every image is scored as the Quality table scores it (``scoring.score``: the
objective itself, at the doodle's size); seconds are wall-clock, on the GPU when there is one, and leave
the scoring out.
``--out-dir`` keeps the final images (``<style>_polished.png``, ``<style>_lbfgs.png``: the latter are
``quality.py --lbfgs-dir``'s input).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.scoring import Example, score
from doodle import api
from doodle.files.image_io import save_image, to_channels_first, to_channels_last
from doodle.neural.optimize import optimize_doodle
from doodle.neural.optimize_settings import OptimizeSettings
from doodle.neural.vgg import VGGFeatures

CHECKPOINTS = (5, 10, 20, 30)  # and the last iteration


def scored_run(
    network: VGGFeatures,
    example: Example,
    iterations: int,
    scales: int,
    checkpoints: tuple[int, ...],
    init_image: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[tuple[int, float, float]]]:
    """The L-BFGS result and (iteration, seconds, loss) at each checkpoint and at the end; scoring is not timed."""
    rows: list[tuple[int, float, float]] = []
    scoring_time = 0.0
    began = time.perf_counter()

    def at_step(done: int, total: int, preview=None) -> None:
        nonlocal scoring_time
        if preview is None or (done not in checkpoints and done != total):
            return
        paused = time.perf_counter()
        rows.append((done, paused - began - scoring_time, score(network, example, preview())[0]))
        scoring_time += time.perf_counter() - paused

    result = optimize_doodle(
        network,
        example.style,
        example.style_masks.masks,
        example.target,
        OptimizeSettings(iterations=iterations, scales=scales),
        progress=at_step,
        init_image=init_image,
    )
    return result, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=40, help="polishing iterations (one scale)")
    parser.add_argument("--full-iterations", type=int, default=300, help="the full run's (2 scales)")
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--weights-dir", type=Path, default=Path("weights"))
    parser.add_argument("--styles", nargs="+", default=["monet", "renoir"])
    parser.add_argument("--out-dir", type=Path)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    network = api.load_network(args.network, device, allow_download=False)
    print(f"device {device}, {torch.get_num_threads()} threads, network {args.network}")
    print(f"{'style':>7} {'start':>16} {'iterations':>10} {'seconds':>8} {'loss':>7} {'/full':>6}")
    for name in args.styles:
        example = Example.load(name, device)
        bundle = api.load_generator(args.weights_dir / f"{name}.safetensors", device)
        began = time.perf_counter()
        render = to_channels_first(api.render_image(bundle, 0, doodle=example.doodle)).to(device)
        render_row = (0, time.perf_counter() - began, score(network, example, render)[0])
        polished, polish_rows = scored_run(network, example, args.iterations, 1, CHECKPOINTS, init_image=render)
        _, scratch_rows = scored_run(network, example, args.iterations, 1, CHECKPOINTS)
        full, full_rows = scored_run(network, example, args.full_iterations, 2, ())
        full_loss = full_rows[-1][2]
        table = [("render", render_row)] + [("render + L-BFGS", row) for row in polish_rows]
        table += [("style-mean", row) for row in scratch_rows] + [("full, 2 scales", full_rows[-1])]
        for start, (iterations, seconds, loss) in table:
            print(f"{name:>7} {start:>16} {iterations:>10} {seconds:8.1f} {loss:7.4f} {loss / full_loss:6.1f}")
        if args.out_dir:
            save_image(to_channels_last(polished), args.out_dir / f"{name}_polished.png")
            save_image(to_channels_last(full), args.out_dir / f"{name}_lbfgs.png")


if __name__ == "__main__":
    main()
