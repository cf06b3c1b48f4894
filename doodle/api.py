"""The Python API: what the nodes and the CLI call, in ComfyUI's IMAGE layout ``[B, H, W, C]``, 0..1.

The core's channels-first functions (``render``, ``optimize_doodle``, ``train_generator``: ``[B, 3, H, W]``)
are exported too, for callers who already hold such tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

from .declared import DeclaredField, check_seed, declared_fields
from .deprecated import module_aliases, renamed_keyword
from .errors import DoodleError
from .files.atomic import check_writable
from .files.image_io import (
    check_image,
    check_image_destination,
    load_image,
    save_image,
    to_channels_first,
    to_channels_last,
    to_uint8,
)
from .files.locks import exclusive_output
from .generator.calibration import fit_calibration
from .generator.file import (
    GeneratorBundle,
    check_bundle,
    checked_region_names,
    generator_palette,
    load_generator,
    save_generator,
)
from .generator.render import DEFAULT_RENDER, RenderSettings, render
from .limits import MAX_BATCH
from .maps.colormap import aligned_to_palette, labels_in_palette, masks_from_colors
from .maps.palettes import Palette, editing_palette, is_color_map, map_palette
from .maps.random_masks import MaskShape, default_palette, random_masks
from .maps.regions import RegionMasks
from .neural.networks import (
    AUTO_NETWORK,
    VGG_FOLDER,
    available_networks,
    convert_hed,
    load_network,
    network_status,
    networks_on_disk,
    resolve_network,
)
from .neural.objective import check_style_pair
from .neural.optimize import optimize_checked, optimize_doodle
from .neural.optimize_settings import DEFAULT_SETTINGS, OptimizeSettings, validate_request
from .neural.vgg import VGGFeatures
from .runtime.devices import checked_device
from .runtime.distributed import launched_as_main, torchrun_session
from .runtime.progress import Preview, Progress, no_progress
from .runtime.stopping import exit_status, stop_signals_as_interrupt
from .segmentation import DEFAULT_SEGMENTATION, SegmentationSettings, segment_painting
from .synthesis import DEFAULT_SYNTHESIS, SynthesisSettings, synthesize
from .training import TrainSettings, train_checked, train_generator, validate_training

log = logging.getLogger(__name__)

CALIBRATION_SAMPLES = 8

# What users call: IMAGE-layout runs, what they take, and the core's channels-first runs.
__all__ = ["calibrate", "optimize_image", "render_image", "style_map_from_painting", "synthesize_image", "train_style"]
__all__ += ["DoodleError", "GeneratorBundle", "NetworkChoice", "MaskShape", "RegionMasks", "Style"]
__all__ += ["OptimizeSettings", "RenderSettings", "SegmentationSettings", "SynthesisSettings", "TrainSettings"]
__all__ += ["generator_masks", "masks_from_colors", "random_masks", "default_palette"]
__all__ += ["optimize_doodle", "render", "synthesize", "train_generator"]
__all__ += ["AUTO_NETWORK", "available_networks", "load_network", "load_generator", "save_generator"]
# What hosts (the nodes, the CLI) need besides: the core's own, so each host offers and refuses alike.
__all__ += ["VGG_FOLDER", "convert_hed", "network_status", "checked_region_names", "check_seed", "checked_device"]
__all__ += ["Palette", "editing_palette", "generator_palette", "is_color_map", "map_palette"]
__all__ += ["check_image_destination", "check_writable", "exclusive_output", "load_image", "save_image", "to_uint8"]
__all__ += ["launched_as_main", "torchrun_session", "exit_status", "stop_signals_as_interrupt"]
__all__ += ["Preview", "Progress", "no_progress", "DeclaredField", "declared_fields"]


def generator_masks(bundle: GeneratorBundle, masks: RegionMasks | None, doodle: torch.Tensor | None) -> RegionMasks:
    """The masks to render: given masks, or a colour doodle mapped onto the generator's palette."""
    if (masks is None) == (doodle is None):
        raise DoodleError("give the generator either masks or a doodle image (exactly one of them)")
    name = bundle.owner
    if masks is not None:
        _check_one_hot(masks)
    if doodle is not None:
        palette = RegionMasks(torch.zeros(1, bundle.n_regions, 1, 1), bundle.palette)
        return masks_from_colors(doodle, palette_from=palette, palette_name=name)
    return aligned_to_palette(masks, bundle.palette, palette_name=name)


def render_image(
    bundle: GeneratorBundle,
    seed: int,
    *,
    masks: RegionMasks | None = None,
    doodle: torch.Tensor | None = None,
    batch_size: int = 1,
    settings: RenderSettings = DEFAULT_RENDER,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """Paint masks or a colour doodle; ``batch_size`` copies of a single doodle each get their own noise."""
    check_bundle(bundle, "generator")
    if not 1 <= batch_size <= MAX_BATCH:
        raise DoodleError(f"batch_size must be between 1 and {MAX_BATCH}, got {batch_size}")
    region_masks = generator_masks(bundle, masks, doodle).masks
    if region_masks.shape[0] == 1 and batch_size > 1:
        region_masks = region_masks.expand(batch_size, -1, -1, -1)
    elif batch_size > 1:
        log.warning("the masks hold %d doodles: each is painted once, batch_size is not used", region_masks.shape[0])
    return to_channels_last(render(bundle, region_masks, seed, settings, progress))


@dataclass(frozen=True)
class Style:
    """A painting (IMAGE) and its colour-coded map, the same size; checked when made. Of a batch, the first
    item is the style (the rest are not dropped without a word)."""

    image: torch.Tensor
    masks: RegionMasks

    def __post_init__(self) -> None:
        check_image(self.image, "style_image")
        check_style_pair(self.image.movedim(-1, -3), self.masks.masks)  # IMAGE is channels-last

    def first(self) -> tuple[torch.Tensor, RegionMasks]:
        """The style image ``[1, 3, H, W]`` and its masks, the first of each batch."""
        return to_channels_first(_first(self.image, "style_image")), _first(self.masks, "style_masks")


@dataclass(frozen=True)
class NetworkChoice:
    """Which loss network scores style, where else to look for its weights, and the device it (and the whole
    run) uses; the device is checked when made. (Words: a *network* is a loaded one, :class:`VGGFeatures`; a
    ``loss_network`` is its name, as the nodes' input and a generator file call it.)"""

    name: str = AUTO_NETWORK
    """A name of ``networks.NETWORKS``; ``auto`` prefers vgg19 and falls back to what is on disk."""
    device: torch.device | str = "cpu"
    extra_dirs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", checked_device(self.device))

    def load(self, name: str, progress: Progress) -> VGGFeatures:
        return load_network(name, self.device, self.extra_dirs, progress=progress)


@renamed_keyword("network", "network_choice")
def optimize_image(
    style: Style,
    target_masks: RegionMasks,
    settings: OptimizeSettings = DEFAULT_SETTINGS,
    *,
    network_choice: NetworkChoice = NetworkChoice(),
    content_image: torch.Tensor | None = None,
    init_image: torch.Tensor | None = None,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """L-BFGS doodle on IMAGE tensors (:func:`optimize_doodle`'s, with ``settings`` the same).

    ``init_image`` (e.g. :func:`render_image`'s output) is where the optimisation starts, instead of ``init``.
    Everything is checked before the network is loaded, so bad input fails at once.
    """
    for image, name in ((content_image, "content_image"), (init_image, "init_image")):
        if image is not None:
            check_image(image, name)
    style_image, style_masks = style.first()
    content, start = (
        None if image is None else to_channels_first(_first(image, name))
        for image, name in ((content_image, "content_image"), (init_image, "init_image"))
    )
    target_masks = _first(target_masks, "target_masks")
    validate_request(
        style_image, style_masks.masks, target_masks.masks, settings, content_image=content, init_image=start
    )
    target_masks = aligned_to_palette(target_masks, style_masks.palette, palette_name="the style map")
    network = network_choice.load(network_choice.name, progress)
    result = optimize_checked(
        network,
        style_image,
        style_masks.masks,
        target_masks.masks,
        settings,
        content_image=content,
        init_image=start,
        progress=progress,
    )
    return to_channels_last(result)


def synthesize_image(
    style: Style,
    target_masks: RegionMasks,
    settings: SynthesisSettings = DEFAULT_SYNTHESIS,
    *,
    device: torch.device | str = "cpu",
    progress: Progress = no_progress,
) -> torch.Tensor:
    """Paint a doodle with the painting's own pieces, each region from the same region of the painting: no
    network, no training, seconds on a CPU (region-guided patch synthesis, :mod:`doodle.synthesis`).

    Args:
        style: the painting and its colour-coded map.
        target_masks: the doodle, in any colours close to the map's (matched one to one; a colour the map
            lacks is refused by name).
        settings: effort preset, seed, patch size, uniformity, guide weight, stroke scale.
        device: where to compute; CPU and CUDA run the same code.
        progress: called after each search round, with a preview of the picture so far.

    Returns:
        IMAGE ``[1, H, W, 3]`` in 0..1, the doodle's size.

    Example:
        >>> style = Style(painting, masks_from_colors(style_map))
        >>> image = synthesize_image(style, masks_from_colors(doodle), SynthesisSettings(preset="fast"))
    """
    style_image, style_masks = style.first()
    target = _first(target_masks, "target_masks")
    labels = labels_in_palette(target, style_masks.palette, palette_name="the style map")[0]
    device = checked_device(device)
    image = synthesize(
        style_image[0, :3].to(device),
        style_masks.labels()[0].to(device),
        labels.to(device),
        style_masks.n_regions,
        settings,
        progress,
    )
    return to_channels_last(image[None].cpu())


@renamed_keyword("network", "network_choice")
def style_map_from_painting(
    painting: torch.Tensor,
    settings: SegmentationSettings = DEFAULT_SEGMENTATION,
    *,
    network_choice: NetworkChoice = NetworkChoice(),
) -> RegionMasks:
    """A colour-coded map of a painting's regions, found automatically (:mod:`doodle.segmentation`), to
    paint doodles against or to edit first.

    Args:
        painting: IMAGE ``[B, H, W, C]`` in 0..1, C = 1 (grey), 3 or 4 (alpha is ignored); the first item is used.
        settings: region count, seed, smoothness, smallest island, whether to use network features.
        network_choice: where to look for a loss network's weights (only one on disk is used, never downloaded)
            and the device it runs on.

    Returns:
        RegionMasks ``[1, R, H, W]`` with R <= ``settings.regions`` (islands below ``min_region`` join their
        surroundings) and well-separated palette colours; ``masks.preview()`` is the flat map.

    Example:
        >>> masks = style_map_from_painting(painting, SegmentationSettings(regions=4))
        >>> style = Style(painting, masks)
    """
    check_image(painting, "painting", channels=(1, 3, 4))
    image = _first(painting, "painting")[0, ..., :3].expand(-1, -1, 3).permute(2, 0, 1)
    labels = torch.from_numpy(segment_painting(image, settings, _network_on_disk(settings, network_choice)))
    return RegionMasks.from_labels(labels[None], default_palette(int(labels.max()) + 1))


def _network_on_disk(settings: SegmentationSettings, choice: NetworkChoice) -> VGGFeatures | None:
    """The loss network segmentation may use: one already on disk (``auto`` picks among them), else none."""
    found = networks_on_disk(choice.extra_dirs)
    if not settings.network_features or not found:
        return None
    name = found[0] if choice.name == AUTO_NETWORK else choice.name
    return load_network(name, choice.device, choice.extra_dirs, allow_download=False) if name in found else None


@renamed_keyword("network", "network_choice")
def train_style(
    style: Style,
    settings: TrainSettings,
    *,
    network_choice: NetworkChoice = NetworkChoice(),
    resume: GeneratorBundle | None = None,
    checkpoint_path: Path | None = None,
    progress: Progress = no_progress,
) -> GeneratorBundle:
    """Train a generator on IMAGE tensors; everything is checked before the network is loaded.

    With ``network_choice.name`` ``auto`` a resumed generator continues with its own network.
    """
    if resume is not None:
        check_bundle(resume, "resume_from")
    style_image, style_masks = style.first()
    name = network_choice.name
    if name == AUTO_NETWORK:  # the file records the network it means; a resume keeps the one it learned
        name = resume.loss_network if resume is not None else resolve_network(name, network_choice.extra_dirs)
    validate_training(style_masks, name, settings, resume, checkpoint_path)
    return train_checked(
        network_choice.load(name, progress),
        name,
        style_image,
        style_masks,
        settings,
        resume=resume,
        checkpoint_path=checkpoint_path,
        progress=progress,
    )


def calibrate(bundle: GeneratorBundle, style: Style) -> GeneratorBundle:
    """Fit ``bundle``'s per-region colour calibration (:mod:`doodle.generator.calibration`) to ``style``, the
    painting it was trained on, from the generator's own colours on that painting's map and on random maps of its
    size (what it was trained on), ``CALIBRATION_SAMPLES`` renders of each; returns ``bundle``, changed in place."""
    style_image, style_masks = style.first()
    masks = aligned_to_palette(style_masks, bundle.palette, palette_name=bundle.owner).masks
    height, width = masks.shape[-2:]
    maps = [
        masks.expand(CALIBRATION_SAMPLES, -1, -1, -1),
        random_masks(width, height, bundle.n_regions, 0, batch_size=CALIBRATION_SAMPLES).masks,
    ]
    own_colors = RenderSettings(color_calibration=False)
    rendered = [(one_hot, render(bundle, one_hot, 0, own_colors)) for one_hot in maps]
    bundle.calibration = fit_calibration(rendered, style_image, masks)
    return bundle


Batch = TypeVar("Batch", torch.Tensor, RegionMasks)


def _first(batch: Batch, name: str) -> Batch:
    """The first of a batch where one item is used (a style, a doodle to optimise); the rest are not
    dropped without a word."""
    items = batch.masks.shape[0] if isinstance(batch, RegionMasks) else batch.shape[0]
    if items > 1:
        log.warning("%s holds %d items: only the first is used", name, items)
    return batch.select(0) if isinstance(batch, RegionMasks) else batch[:1]


def _check_one_hot(masks: RegionMasks) -> None:
    """A generator paints each pixel as exactly one region: soft or overlapping masks would paint blends
    it never learned."""
    values = masks.masks
    if not (((values == 0) | (values == 1)).all() and (values.sum(dim=1) == 1).all()):
        raise DoodleError(
            "the masks must be one-hot (every pixel exactly one region, values 0 or 1): make them with "
            "MaskFromColors or RandomDoodleMask, or give a colour doodle instead"
        )


__getattr__ = module_aliases(__name__, {"LossNetwork": "NetworkChoice", "is_colour_map": "is_color_map"}, globals())
