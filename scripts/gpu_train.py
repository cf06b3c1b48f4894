"""Train a shipped generator on for a fixed time on a lent GPU machine (weights/README.md, "How they were trained").

    python3 scripts/gpu_train.py monet --until EPOCH_SECONDS [--levels 6] [--start FILE] -o out/gpu/monet.safetensors

A lent machine is held for minutes, so the run is sized by time, not steps: a short probe on a throwaway copy
measures seconds per step under the machine's real load (both styles train at once), then the run gets as
many steps as fit before --until, so its cosine learning-rate schedule ends at its low tail instead of being
cut off mid-way. Settings otherwise as the shipped files' last phases: 512², batch 1, ``varied`` masks, the
loss at full and half size, weights averaged (0.99). With --levels above the file's, it grows them first (the
new coarser level starts sealed off: nothing learned is lost). Score the result with benchmarks/quality.py
before copying it into weights/. --start trains another file of the style on instead of the shipped one (a
candidate still in training, such as weights/README's from-scratch retraining). Needs DOODLE_VGG_DIR with the
offline network (scripts/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from doodle import api

PROBE_STEPS = 30
WARM_UP_STEPS = 5
SAVE_MARGIN_S = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style", help="a folder name under samples/ and a file name under weights/")
    parser.add_argument("--until", type=float, required=True, help="stop by this time (seconds since the epoch)")
    parser.add_argument("--levels", type=int, help="grow the generator to this many levels first")
    parser.add_argument("--start", type=Path, help="the file to train on (default: weights/STYLE.safetensors)")
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    style = api.Style(
        api.load_image(f"samples/{args.style}/style.png"),
        api.masks_from_colors(api.load_image(f"samples/{args.style}/style_mask.png")),
    )
    start_file = args.start or Path(f"weights/{args.style}.safetensors")
    start = api.load_generator(start_file, device)  # training leaves it as it was
    done = int(start.training["steps_done"])

    def train(more_steps: int, **options) -> None:
        settings = api.TrainSettings(
            steps=done + more_steps,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            size=args.size,
            seed=args.seed,
            checkpoint_every=100,
            mask_sampling="varied",
            loss_scales=2,
            weight_average=0.99,
            levels=args.levels,
        )
        network_choice = api.NetworkChoice("vgg16-hed", device)
        api.train_style(style, settings, network_choice=network_choice, resume=start, **options)

    reports: list[float] = []
    train(PROBE_STEPS, progress=lambda done_steps, total, preview=None: reports.append(time.monotonic()))
    seconds_per_step = (reports[-1] - reports[WARM_UP_STEPS - 1]) / (len(reports) - WARM_UP_STEPS)
    left = args.until - time.time() - SAVE_MARGIN_S
    steps = int(0.95 * left / seconds_per_step)
    print(f"{args.style}: {seconds_per_step:.3f} s/step on {device}, {steps} steps in {left:.0f} s", flush=True)
    if steps < 1:
        raise SystemExit(f"{args.style}: no time left to train")
    started = time.monotonic()
    train(steps, checkpoint_path=args.output)
    trained = api.load_generator(args.output).training
    print(
        f"{args.style}: {trained['steps_done'] - done} steps in {time.monotonic() - started:.0f} s, "
        f"final loss {trained['final_loss']:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
