"""LoadDoodleGenerator, RenderDoodle and TrainDoodleStyle: the feed-forward doodle."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from ..doodle.limits import MAX_BATCH, MAX_STEPS
from ..doodle.render import MAX_TILE_SIZE
from ..doodle.train import MAX_LOSS_SCALES, MAX_SIZE, MIN_SIZE
from . import host
from .declared_inputs import declared_input, declared_settings
from .types import CATEGORY, SEED_MAX, GeneratorSocket, MasksSocket, distribution_weight_input, loss_network_input

TRAIN_DEFAULTS = api.TrainSettings()
FIRST_LOOK_STEPS = 300
"""TrainDoodleStyle's default steps: enough for a new style's first look, each region's texture in its place
(benchmarks/README.md, First look); the core's default is for a usable style."""
SAVE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")
log = logging.getLogger(__name__)


def plain_name(save_name: str) -> str:
    """The file name a save_name asks for, without spaces around it or the suffix."""
    return save_name.strip().removesuffix(".safetensors")


def unused_save_path(folder: Path, name: str) -> Path:
    """``name.safetensors`` in ``folder``, or ``name_2``, ``name_3``... if taken: like ComfyUI's own outputs,
    a new training run never replaces a file (a trained generator can be hours of work)."""
    path, number = folder / f"{name}.safetensors", 1
    while path.exists():
        number += 1
        path = folder / f"{name}_{number}.safetensors"
    return path


class LoadDoodleGenerator(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="LoadDoodleGenerator",
            search_aliases=["neural doodle", "doodle model", "style generator", "texture network"],
            display_name="Load Doodle Generator",
            category=CATEGORY,
            description="Load a trained generator from models/doodle_generators or the generators shipped with doodle.",
            inputs=[io.Combo.Input("generator_name", options=host.generator_names())],
            outputs=[GeneratorSocket.Output(display_name="generator")],
        )

    @classmethod
    def fingerprint_inputs(cls, generator_name: str) -> float:
        """Reload when the file changes (a training run rewrote it)."""
        return host.generator_path(generator_name).stat().st_mtime

    @classmethod
    def execute(cls, generator_name: str) -> io.NodeOutput:
        return io.NodeOutput(api.load_generator(host.generator_path(generator_name), host.device()))


class RenderDoodle(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="RenderDoodle",
            has_intermediate_output=True,  # its preview survives a page reload
            search_aliases=["neural doodle", "semantic style transfer", "paint doodle", "texture synthesis"],
            display_name="Render Doodle",
            category=CATEGORY,
            description="Paint masks or a colour doodle with a trained generator in one forward pass.",
            inputs=[
                GeneratorSocket.Input("generator"),
                io.Int.Input("seed", default=0, min=0, max=SEED_MAX, control_after_generate=True),
                MasksSocket.Input("masks", optional=True, tooltip="Region masks (give masks or doodle)."),
                io.Image.Input(
                    "doodle",
                    optional=True,
                    tooltip="A colour doodle: its colours are matched one-to-one to the generator's palette.",
                ),
                io.Int.Input(
                    "batch_size",
                    default=1,
                    min=1,
                    max=MAX_BATCH,
                    optional=True,
                    tooltip="Paintings of one doodle, each with its own noise (masks of several doodles: one each).",
                ),
                declared_input(api.RenderSettings, "tile_size", optional=True, max=MAX_TILE_SIZE),
                declared_input(api.RenderSettings, "half_precision", optional=True),
            ],
            outputs=[io.Image.Output(display_name="image")],
        )

    @classmethod
    def execute(
        cls,
        generator: api.GeneratorBundle,
        seed: int,
        masks: api.RegionMasks | None = None,
        doodle: torch.Tensor | None = None,
        batch_size: int = 1,
        **values: object,
    ) -> io.NodeOutput:
        generator.model.to(host.device())
        try:
            image = api.render_image(
                generator,
                seed,
                masks=masks,
                doodle=doodle,
                batch_size=batch_size,
                settings=declared_settings(api.RenderSettings, values),
                progress=host.ComfyProgress(1),
            )
        finally:
            host.free_memory()
        image = image.to(host.output_device())
        return io.NodeOutput(image, ui=ui.PreviewImage(image, cls=cls))


class TrainDoodleStyle(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TrainDoodleStyle",
            search_aliases=["neural doodle", "train style", "texture network training", "style transfer training"],
            display_name="Train Doodle Style",
            category=CATEGORY,
            description="Train a generator for one style on random masks. Saves to models/doodle_generators/"
            f"<save_name>.safetensors every {TRAIN_DEFAULTS.checkpoint_every} steps and on Cancel; resume_from "
            f"continues a run. {FIRST_LOOK_STEPS} steps show "
            "the idea; 1000+ give good textures (much faster on a GPU). Shows the trained generator's render of "
            "the style's own map and its training record; runs on its own (an output node).",
            is_output_node=True,
            inputs=[
                io.Image.Input("style_image"),
                MasksSocket.Input("style_masks", tooltip="MaskFromColors of the style image's map."),
                io.Int.Input(
                    "steps",
                    default=FIRST_LOOK_STEPS,
                    min=1,
                    max=MAX_STEPS,
                    tooltip="Total steps; a resumed run continues up to this many.",
                ),
                io.Int.Input("batch_size", default=TRAIN_DEFAULTS.batch_size, min=1, max=MAX_BATCH),
                io.Float.Input("learning_rate", default=TRAIN_DEFAULTS.learning_rate, min=0.0001, max=1.0, step=0.0001),
                io.Int.Input(
                    "size",
                    default=TRAIN_DEFAULTS.size,
                    min=MIN_SIZE,
                    max=MAX_SIZE,
                    step=16,
                    tooltip="Training resolution. 128 learns fast; then resume at 256-512 (batch 1-2) so big regions "
                    "of a 512 px doodle get their large-scale texture too.",
                ),
                io.Int.Input("seed", default=TRAIN_DEFAULTS.seed, min=0, max=SEED_MAX, control_after_generate=True),
                loss_network_input(host.vgg_dirs()),
                io.String.Input(
                    "save_name",
                    default="my_style",
                    tooltip="File name in models/doodle_generators. A new run never replaces a file (it saves as "
                    "<save_name>_2, _3...); with resume_from it saves into <save_name>.",
                ),
                GeneratorSocket.Input("resume_from", optional=True),
                io.Int.Input(
                    "loss_scales",
                    default=TRAIN_DEFAULTS.loss_scales,
                    min=1,
                    max=MAX_LOSS_SCALES,
                    optional=True,
                    tooltip="2 also scores the render at half size, so shapes twice as large (clouds, patches) are "
                    "learned too; about 1.2x the time per step. The shipped generators' last phases used 2.",
                ),
                io.Float.Input(
                    "weight_average",
                    default=TRAIN_DEFAULTS.weight_average,
                    min=0.0,
                    max=0.999,
                    step=0.001,
                    optional=True,
                    tooltip="0.99 saves an average of the weights over about the last 100 steps, which renders "
                    "better than the last step's when batches are small; 0 = off.",
                ),
                distribution_weight_input(TRAIN_DEFAULTS.distribution_weight),
            ],
            outputs=[GeneratorSocket.Output(display_name="generator")],
        )

    @classmethod
    def validate_inputs(cls, save_name: str) -> bool | str:
        """A bad save_name is refused when the prompt is queued, not after the training it would end."""
        if SAVE_NAME.match(plain_name(save_name)):
            return True
        return f"save_name {save_name!r} must be a plain file name (letters, digits, space, _ . -)"

    @classmethod
    def execute(
        cls,
        style_image: torch.Tensor,
        style_masks: api.RegionMasks,
        steps: int,
        batch_size: int,
        learning_rate: float,
        size: int,
        seed: int,
        loss_network: str,
        save_name: str,
        resume_from: api.GeneratorBundle | None = None,
        loss_scales: int = TRAIN_DEFAULTS.loss_scales,
        weight_average: float = TRAIN_DEFAULTS.weight_average,
        distribution_weight: float = TRAIN_DEFAULTS.distribution_weight,
    ) -> io.NodeOutput:
        name = plain_name(save_name)
        settings = api.TrainSettings(
            steps=steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            size=size,
            seed=seed,
            loss_scales=loss_scales,
            weight_average=weight_average,
            distribution_weight=distribution_weight,
        )
        folder = host.generator_save_dir()
        path = folder / f"{name}.safetensors" if resume_from is not None else unused_save_path(folder, name)
        if path.stem != name:
            log.warning("%s already exists: this new run saves to %s", f"{name}.safetensors", path.name)
        progress = host.ComfyProgress(steps)
        try:
            bundle = api.train_style(
                api.Style(style_image, style_masks),
                settings,
                network=host.loss_network(loss_network),
                resume=resume_from,
                checkpoint_path=path,
                progress=progress,
            )
            preview = api.render_image(bundle, 0, masks=style_masks.select(0)).to(host.output_device())
        finally:
            host.free_memory()
        progress.show_result(preview)
        bundle.name = path.name
        report = training_report(bundle.training, path)
        log.info("%s", report)
        shown = ui.PreviewImage(preview, cls=cls).as_dict() | ui.PreviewText(report).as_dict()
        return io.NodeOutput(bundle, ui=shown)


def training_report(training: dict, path: Path) -> str:
    """What a run did, in a line a user reads under the node: where it saved, how far, how well, how long."""
    loss = training.get("final_loss")
    return (
        f"{path.name}: {training.get('steps_done', 0)} steps, loss {loss:.4g} (smoothed), "
        f"{training.get('seconds', 0.0) / 60:.1f} min in all; saved in {path.parent.name}"
    )
