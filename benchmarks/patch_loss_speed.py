"""Patch loss against the Gram loss: seconds and peak memory per evaluation (loss and gradient) at 256 and 512 px.

    PYTHONPATH=. python benchmarks/patch_loss_speed.py [--network vgg16-hed] [--sizes 256 512] [--style monet]

One L-BFGS evaluation of the example doodle's objective at each size, for the Gram loss, the patch loss and
both, each case in a fresh process (best of 3 after a warm-up). ``setup MB`` is the memory held once the
network and the objective's targets are built; ``+eval MB`` is the peak rise over it during one evaluation
after the warm-up. On CUDA both are torch's allocations; on the CPU they are the process's resident memory
(Linux: the high-water mark reset after setup, large blocks given back to the system at once through
``MALLOC_MMAP_THRESHOLD_``, so freed memory kept by malloc cannot hide a rise), which includes the Python
interpreter and torch's libraries in ``setup MB``. ``style patches MB`` is the painting's stored patches.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.scoring import Example
from doodle.neural.networks import load_network
from doodle.neural.optimize import _resize_masks, level_objective
from doodle.neural.optimize_settings import OptimizeSettings, long_side_size

LOSSES = {"gram": OptimizeSettings(), "patches": OptimizeSettings(gram_weight=0, patch_weight=1)}
LOSSES["both"] = OptimizeSettings(patch_weight=1)
MB = 2**20
MMAP_THRESHOLD = str(MB)
"""Blocks of 1 MiB or more come from (and go back to) the system directly: the resident size follows them."""


def evaluation(objective, image: torch.Tensor):
    """One loss and gradient, as one L-BFGS evaluation does."""

    def evaluate() -> None:
        pixels = image.clone().requires_grad_(True)
        objective(pixels).backward()
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    return evaluate


def timed_once(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


class ResidentMemory:
    """The process's resident memory now and its peak since :meth:`reset`, in bytes (Linux's /proc; elsewhere
    the lifetime peak of ``getrusage``, which counts only a rise above everything before it)."""

    def __init__(self) -> None:
        self.resettable = Path("/proc/self/clear_refs").exists()

    def _status(self, key: str) -> int:
        return int(re.search(rf"{key}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024

    def reset(self) -> int:
        """Start a new peak here; returns the memory held now."""
        if self.resettable:
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
            return self._status("VmRSS")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def peak(self) -> int:
        return self._status("VmHWM") if self.resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(args: argparse.Namespace, size: int, loss: str) -> dict[str, float]:
    """Time and memory of one evaluation at ``size`` with ``loss``, in this (fresh) process."""
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    network = load_network(args.network, device)
    example = Example.load(args.style, device)
    level_size = long_side_size(example.target.shape[-2:], size)
    masks = _resize_masks(example.target, level_size)
    image = torch.rand(1, 3, *level_size, device=device)
    objective = level_objective(network, example.style, example.style_masks.masks, level_size, LOSSES[loss])
    objective.set_target_masks(masks)
    evaluate = evaluation(objective, image)
    evaluate()  # warm-up: one-time allocations (kernels' workspaces, caches) are setup, not evaluation
    gc.collect()
    memory = ResidentMemory()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        held = torch.cuda.memory_allocated()
    else:
        held = memory.reset()
    times = [timed_once(evaluate)]
    peak = torch.cuda.max_memory_allocated() if cuda else memory.peak()
    times += [timed_once(evaluate) for _ in range(args.repeats - 1)]
    rows = [p for layer in (objective.patches.patches.values() if objective.patches else []) for p in layer]
    stored = sum(p.numel() * p.element_size() for p in rows if p is not None)
    return {
        "seconds": min(times),
        "held": held / MB,
        "rise": (peak - held) / MB,
        "stored": stored / MB,
        "device": device,
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="vgg16-hed")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--style", default="monet")
    parser.add_argument(
        "--repeats", type=int, choices=range(1, 11), default=3, help="timed evaluations after the warm-up (best taken)"
    )
    parser.add_argument("--case", nargs=2, metavar=("SIZE", "LOSS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args, int(args.case[0]), args.case[1])))
        return
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    environment = os.environ | {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD, "PYTHONPATH": path}
    common = ["--network", args.network, "--style", args.style, "--repeats", str(args.repeats)]
    header = False
    for size in args.sizes:
        gram_seconds = None
        for name in LOSSES:
            command = [sys.executable, __file__, *common, "--case", str(size), name]
            found = json.loads(subprocess.run(command, env=environment, capture_output=True, check=True).stdout)
            if not header:
                memory = "torch's CUDA allocations" if found["device"] == "cuda" else "resident memory"
                print(f"device {found['device']}, {found['threads']} threads, {args.network}, {args.style} doodle")
                print(f"memory: {memory}, one process per row")
                print(
                    f"{'size':>6} {'loss':>8} {'s/eval':>8} {'/gram':>6} {'style patches MB':>17} "
                    f"{'setup MB':>9} {'+eval MB':>9}"
                )
                header = True
            seconds = found["seconds"]
            gram_seconds = gram_seconds or seconds
            print(
                f"{size:>6} {name:>8} {seconds:8.3f} {seconds / gram_seconds:6.2f} {found['stored']:17.1f} "
                f"{found['held']:9.0f} {found['rise']:9.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
