"""What each command of ``python -m doodle`` does once its arguments are parsed: the inputs read, the core
called through :mod:`doodle.api`, the output checked before any work and written after."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from . import api
from .cli_flags import declared_values


class TqdmProgress:
    """A terminal progress bar, drawn from the first report on (a run that fails early draws none).

    Ctrl-C's KeyboardInterrupt passes through the work untouched.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.started = time.time()
        self.bar = None

    def __call__(self, done: int, total: int, preview: api.Preview | None = None) -> None:
        if self.bar is None:
            from tqdm import tqdm

            # Reports follow each finished step, so a resumed run started one before its first report;
            # tqdm counts rate and remaining time from ``initial``.
            start = max(0, done - 1)
            self.bar = tqdm(desc=self.description, unit="step", dynamic_ncols=True, initial=start, total=total)
            self.bar.start_t = self.started  # elapsed time counts from the command's start, as rate needs
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


INPUTS = {
    "masks": ("map", "palette_from"),
    "random-masks": ("palette_from",),
    "segment": ("painting",),
    "synthesize": ("style", "style_map", "doodle"),
    "optimize": ("style", "style_map", "doodle", "content", "init_image"),
    "train": ("style", "style_map"),
    "render": ("generator", "doodle"),
}
"""Each command's input files, by argument name: none may also be its output."""


def check_destination(args: argparse.Namespace) -> None:
    """Refuse an output the command could not write, or one that would replace an input, before any work
    (``train --resume`` reads its output: that one input is meant)."""
    if args.command in ("convert-hed", "name-regions", "calibrate"):
        return
    if args.command == "train":
        api.check_writable(args.output, "the generator")
    else:
        api.check_image_destination(args.output)
    for name in INPUTS[args.command]:
        source = getattr(args, name)
        if source is not None and _same_file(source, args.output):
            flag = "the map" if name == "map" else "--" + name.replace("_", "-")
            raise api.DoodleError(
                f"-o/--output {args.output} is also {flag}: the result would replace an input; choose another name"
            )


def _same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def run_command(args: argparse.Namespace) -> Path:
    """Run the parsed command, its output already checked and written by no other run
    (:func:`doodle.cli.run`)."""
    if args.command == "convert-hed":
        return api.convert_hed(args.source, args.output)
    if args.command == "name-regions":
        bundle = api.load_generator(args.generator)
        bundle.region_names = api.checked_region_names(args.names, bundle.n_regions, args.generator.name)
        return api.save_generator(bundle, args.generator)
    if args.command == "calibrate":
        bundle = api.load_generator(args.generator, args.device)
        if args.remove:
            bundle.calibration = None
        else:
            api.calibrate(bundle, _style(args))
        return api.save_generator(bundle, args.generator)
    if args.command == "masks":
        palette = api.masks_from_colors(api.load_image(args.palette_from)) if args.palette_from else None
        return api.save_image(
            api.masks_from_colors(api.load_image(args.map), args.colors, palette).preview(), args.output
        )
    if args.command == "segment":
        settings = api.SegmentationSettings(**declared_values(api.SegmentationSettings, args))
        masks = api.style_map_from_painting(
            api.load_image(args.painting), settings, network_choice=api.NetworkChoice(device=args.device)
        )
        return api.save_image(masks.preview(), args.output)
    if args.command == "random-masks":
        palette = api.masks_from_colors(api.load_image(args.palette_from)).palette if args.palette_from else None
        masks = api.random_masks(
            args.width,
            args.height,
            args.regions if palette is None else len(palette),
            args.seed,
            shape=api.MaskShape(roughness=args.roughness, smoothing=args.smoothing),
            palette=palette,
        )
        return api.save_image(masks.preview(), args.output)
    progress = TqdmProgress(args.command)
    try:
        if args.command == "train":
            return _train(args, progress)
        image = {"synthesize": _synthesize, "optimize": _optimize, "render": _render}[args.command](args, progress)
    finally:
        progress.close()
    return api.save_image(image, args.output)


def _style(args: argparse.Namespace) -> api.Style:
    return api.Style(api.load_image(args.style), api.masks_from_colors(api.load_image(args.style_map)))


def _synthesize(args: argparse.Namespace, progress: TqdmProgress) -> torch.Tensor:
    settings = api.SynthesisSettings(**declared_values(api.SynthesisSettings, args))
    doodle = api.masks_from_colors(api.load_image(args.doodle))
    return api.synthesize_image(_style(args), doodle, settings, device=args.device, progress=progress)


def _optimize(args: argparse.Namespace, progress: TqdmProgress) -> torch.Tensor:
    style = _style(args)
    target = api.masks_from_colors(api.load_image(args.doodle), palette_from=style.masks)
    content = api.load_image(args.content) if args.content else None
    settings = api.OptimizeSettings(**declared_values(api.OptimizeSettings, args))
    return api.optimize_image(
        style,
        target,
        settings,
        network_choice=api.NetworkChoice(args.network, args.device),
        content_image=content,
        init_image=api.load_image(args.init_image) if args.init_image else None,
        progress=progress,
    )


def _train(args: argparse.Namespace, progress: TqdmProgress) -> Path:
    style = _style(args)
    settings = api.TrainSettings(**declared_values(api.TrainSettings, args))
    with api.torchrun_session(args.device) as (world, device):
        resume = api.load_generator(args.output, device) if args.resume else None
        api.train_style(
            style,
            settings,
            network_choice=api.NetworkChoice(args.network, device),
            resume=resume,
            checkpoint_path=args.output,
            progress=progress if world.is_main else api.no_progress,
        )
    return args.output


def _render(args: argparse.Namespace, progress: TqdmProgress) -> torch.Tensor:
    bundle = api.load_generator(args.generator, args.device)
    settings = api.RenderSettings(**declared_values(api.RenderSettings, args))
    if args.doodle:
        return api.render_image(
            bundle, args.seed, doodle=api.load_image(args.doodle), settings=settings, progress=progress
        )
    masks = api.random_masks(args.width, args.height, bundle.n_regions, args.seed, palette=bundle.palette)
    return api.render_image(bundle, args.seed, masks=masks, settings=settings, progress=progress)
