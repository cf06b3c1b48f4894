"""L-BFGS measured by what a user waits for: the time to reach a fixed loss, not seconds per iteration.

    PYTHONPATH=. python benchmarks/lbfgs_time_to_loss.py [--style monet] [--size 256] [--searched 20]

An example doodle at one scale (``--size`` long side, ``vgg16-hed``, the style-mean start, the optimiser's own
objective: Gram loss at the clamped pixels plus the range penalty). The target is the loss a plain L-BFGS
(no line search, one evaluation per iteration, as the original Torch code ran it) reaches in
``--iterations`` iterations; then:

  plain     that run: its time and evaluations
  searched  the strong-Wolfe line search at every iteration (``optimize.run_lbfgs`` until session 36)
  ours      ``optimize.run_lbfgs``: the line search for the first ``SEARCHED_ITERATIONS``, plain steps after
  hybrid K  the same with the line search for the first K iterations (``--searched``)
  obvious   ours with the per-region loss written as the obvious Python loop (``style_loss_speed.obvious_loss``,
            the same maths): ours' time scaled by the two losses' cost per evaluation, each measured alone

All but ``plain`` stop at the target or after ``--iterations`` iterations, whichever comes first: a
loss above the target in its row means it did not reach it.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.nn import functional as F

from benchmarks.scoring import Example
from benchmarks.style_loss_speed import obvious_loss
from doodle.neural.networks import load_network
from doodle.neural.objective import RANGE_PENALTY, out_of_range
from doodle.neural.optimize import (
    SEARCHED_ITERATIONS,
    lbfgs_optimizer,
    level_objective,
    paint_region_means,
    stop_line_search,
)
from doodle.neural.optimize_settings import long_side_size


def descend(loss_of, start: torch.Tensor, searched: int, iterations: int, target: float = -1.0):
    """L-BFGS as ``optimize.run_lbfgs`` sets it up, with the strong-Wolfe line search for the first
    ``searched`` iterations and plain steps after; stops after ``iterations`` or at ``target``. Returns
    (final loss, seconds, evaluations)."""
    pixels = start.clone().requires_grad_(True)
    optimizer = lbfgs_optimizer(pixels)
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = loss_of(pixels.clamp(0, 1)) + RANGE_PENALTY * out_of_range(pixels)
        loss.backward()
        return loss

    seconds = 0.0
    for iteration in range(iterations):
        if iteration == searched:
            stop_line_search(optimizer)
        started = time.perf_counter()
        optimizer.step(closure)
        seconds += time.perf_counter() - started
        with torch.no_grad():  # the check is not timed: neither optimiser needs it
            loss = float(loss_of(pixels.clamp(0, 1)) + RANGE_PENALTY * out_of_range(pixels))
        if loss <= target:
            break
    return loss, seconds, evaluations


def seconds_per_evaluation(loss_of, image: torch.Tensor, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats + 1):
        pixels = image.clone().requires_grad_(True)
        started = time.perf_counter()
        loss_of(pixels).backward()
        times.append(time.perf_counter() - started)
    return min(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="monet", choices=["monet", "renoir"])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--searched", type=int, nargs="*", default=[], help="more hybrids' searched iterations")
    args = parser.parse_args()
    network, example = load_network("vgg16-hed"), Example.load(args.style)
    size = long_side_size(example.target.shape[-2:], args.size)
    masks = F.interpolate(example.target, size=size, mode="area")
    objective = level_objective(network, example.style, example.style_masks.masks, size)
    objective.set_target_masks(masks)
    start = paint_region_means(example.style, example.style_masks.masks, masks).clamp(0, 1)
    plain_loss, plain_seconds, plain_evaluations = descend(objective, start, 0, args.iterations)
    runs = {"plain": (plain_loss, plain_seconds, plain_evaluations)}
    runs["searched"] = descend(objective, start, args.iterations, args.iterations, target=plain_loss)
    runs["ours"] = descend(objective, start, SEARCHED_ITERATIONS, args.iterations, target=plain_loss)
    for searched in args.searched:
        runs[f"hybrid {searched}"] = descend(objective, start, searched, args.iterations, target=plain_loss)
    obvious = lambda image: obvious_loss(network, image, masks, objective.targets)  # noqa: E731
    with torch.no_grad():
        agreement = abs(float(obvious(start)) - float(objective(start))) / float(objective(start))
    per_evaluation = {
        "ours": seconds_per_evaluation(objective, start),
        "obvious": seconds_per_evaluation(obvious, start),
    }
    obvious_per_ours = per_evaluation["obvious"] / per_evaluation["ours"]
    loss, seconds, evaluations = runs["ours"]
    runs["obvious"] = (loss, seconds * obvious_per_ours, evaluations)
    target = f"target loss {plain_loss:.4f} (plain, {args.iterations} iterations)"
    print(f"{args.style} doodle {size[1]}x{size[0]}, {target}")
    print(f"obvious loop's loss equals ours to {agreement:.1e} (relative) at the start")
    print(f"{'run':>9} {'loss':>8} {'evals':>6} {'s/eval':>7} {'seconds':>8} {'/ours':>6}")
    for name, (final, total, count) in runs.items():
        print(f"{name:>9} {final:8.4f} {count:6d} {total / count:7.3f} {total:8.1f} {total / seconds:6.2f}")
    print(f"(one evaluation alone: ours {per_evaluation['ours']:.3f} s, obvious {per_evaluation['obvious']:.3f} s)")


if __name__ == "__main__":
    main()
