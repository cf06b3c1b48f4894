"""LoadDoodleGenerator, RenderDoodle and TrainDoodleStyle: the feed-forward doodle."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from comfy_api.latest import io, ui

from ..doodle import api
from ..doodle.limits import MAX_BATCH, MAX_TILE_SIZE
from . import host
from .declared_inputs import declared_input, declared_inputs, declared_settings
from .types import CATEGORY, SEED_MAX, GeneratorSocket, MasksSocket, loss_network_input

FIRST_LOOK_STEPS = 300
"""TrainDoodleStyle's default steps: enough for a new style's first look, each region's texture in its place
(benchmarks/README.md, First look); the core's default is for a usable style."""
MIN_LEARNING_RATE = 0.0001
"""TrainDoodleStyle's smallest learning rate, its widget's step (the core takes any above 0)."""
MAX_WEIGHT_AVERAGE = 0.999
"""TrainDoodleStyle's largest weight_average (the core takes any below 1)."""
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
        return io.NodeOutput(image.to(host.output_device()))  # shown by a Preview or Save node, as ComfyUI's own


class TrainDoodleStyle(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TrainDoodleStyle",
            search_aliases=["neural doodle", "train style", "texture network training", "style transfer training"],
            display_name="Train Doodle Style",
            category=CATEGORY,
            description="Train a generator for one style on random masks. Saves to models/doodle_generators/"
            f"<save_name>.safetensors every {api.TrainSettings.checkpoint_every} steps and on Cancel; resume_from "
            f"continues a run. {FIRST_LOOK_STEPS} steps show "
            "the idea; 1000+ give good textures (much faster on a GPU). Shows the trained generator's render of "
            "the style's own map and its training record; runs on its own (an output node).",
            is_output_node=True,
            inputs=[
                io.Image.Input("style_image"),
                MasksSocket.Input("style_masks", tooltip="MaskFromColors of the style image's map."),
                declared_input(api.TrainSettings, "steps", default=FIRST_LOOK_STEPS),
                declared_input(api.TrainSettings, "batch_size"),
                declared_input(api.TrainSettings, "learning_rate", min=MIN_LEARNING_RATE),
                *declared_inputs(api.TrainSettings, "size", "seed"),
                loss_network_input(host.vgg_dirs()),
                io.String.Input(
                    "save_name",
                    default="my_style",
                    tooltip="File name in models/doodle_generators. A new run never replaces a file (it saves as "
                    "<save_name>_2, _3...); with resume_from it saves into <save_name>.",
                ),
                GeneratorSocket.Input("resume_from", optional=True),
                declared_input(api.TrainSettings, "loss_scales", optional=True),
                declared_input(api.TrainSettings, "weight_average", optional=True, max=MAX_WEIGHT_AVERAGE),
                declared_input(api.TrainSettings, "distribution_weight", optional=True),
            ],
            outputs=[GeneratorSocket.Output(display_name="generator")],
        )

    @classmethod
    def validate_inputs(cls, save_name: str) -> bool | str:
        """A bad save_name is refused when the prompt is queued, not after the training it would end."""
        return host.plain_name_error("save_name", save_name, ".safetensors") or True

    @classmethod
    def execute(
        cls,
        style_image: torch.Tensor,
        style_masks: api.RegionMasks,
        loss_network: str,
        save_name: str,
        resume_from: api.GeneratorBundle | None = None,
        **values: object,
    ) -> io.NodeOutput:
        name = plain_name(save_name)
        settings: api.TrainSettings = declared_settings(api.TrainSettings, values)
        folder = host.generator_save_dir()
        path = folder / f"{name}.safetensors" if resume_from is not None else unused_save_path(folder, name)
        if path.stem != name:
            log.warning("%s already exists: this new run saves to %s", f"{name}.safetensors", path.name)
        progress = host.ComfyProgress(settings.steps)
        try:
            bundle = api.train_style(
                api.Style(style_image, style_masks),
                settings,
                network_choice=host.network_choice(loss_network),
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
