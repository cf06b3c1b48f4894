"""The training loop: each step's random masks and noise, the multiscale loss, the descent, and a checkpoint
every so often and on a stop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import DoodleError
from ..files.locks import exclusive_output
from ..generator.file import GeneratorBundle
from ..generator.model import DoodleGenerator
from ..limits import BLOWN_UP_DISTANCE
from ..maps.colormap import aligned_to_palette
from ..maps.random_masks import training_masks
from ..maps.regions import RegionMasks
from ..neural.grad_mode import gradients_enabled, normal_tensor
from ..neural.objective import RANGE_PENALTY, DoodleObjective, LossWeights, out_of_range
from ..neural.vgg import VGGFeatures
from ..runtime.distributed import World, check_same_on_every_rank, current_world, mean_loss_and_max_distance
from ..runtime.memory import out_of_memory_as_error
from ..runtime.progress import Progress, no_progress
from .settings import RESUMED, TrainSettings, validate_training
from .state import Run, WeightAverage, checkpoint, start_bundle, unflatten_optimizer

MIN_LR_FRACTION = 0.1
GRADIENT_CLIP = 1.0


def learning_rate_at(step: int, settings: TrainSettings) -> float:
    """Cosine decay from the learning rate to a tenth of it over the run."""
    progress = step / max(1, settings.steps)
    return settings.learning_rate * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def train_generator(
    network: VGGFeatures,
    loss_network: str,
    style_image: torch.Tensor,
    style_masks: RegionMasks,
    settings: TrainSettings,
    *,
    resume: GeneratorBundle | None = None,
    checkpoint_path: Path | None = None,
    progress: Progress = no_progress,
) -> GeneratorBundle:
    """Train (or continue training) a generator for ``style_image`` ``[1, 3, H, W]`` and its masks.

    Checkpoints go to ``checkpoint_path`` every ``checkpoint_every`` steps, at the end, and when the run is
    stopped (Cancel, Ctrl-C, an error) after at least one step, before the stop is passed on. A new run never
    replaces an existing file there (:func:`validate_training`).

    In a torchrun process group each rank trains ``batch_size`` images of a world batch of ``batch_size`` x
    ranks, drawn as one process would draw that batch, with gradients averaged by DistributedDataParallel:
    the weights are one process's with the world batch (every region is in every mask, so each rank's loss
    has the same normaliser). Only rank 0 writes ``checkpoint_path``.
    """
    written = checkpoint_path if current_world().is_main else None
    validate_training(style_masks, loss_network, settings, resume, written)
    return train_checked(
        network,
        loss_network,
        style_image,
        style_masks,
        settings,
        resume=resume,
        checkpoint_path=checkpoint_path,
        progress=progress,
    )


def train_checked(
    network: VGGFeatures,
    loss_network: str,
    style_image: torch.Tensor,
    style_masks: RegionMasks,
    settings: TrainSettings,
    *,
    resume: GeneratorBundle | None,
    checkpoint_path: Path | None,
    progress: Progress,
) -> GeneratorBundle:
    """:func:`train_generator` for a run that :func:`validate_training` has passed (hosts check first)."""
    world = current_world()
    checkpoint_path = checkpoint_path if world.is_main else None
    if resume is not None:  # region k must stay the region whose texture the generator learned as k
        style_masks = aligned_to_palette(style_masks, resume.palette, palette_name=RESUMED)
    n_regions = style_masks.n_regions
    device = next(network.parameters()).device
    hint = "use a smaller size or batch_size (the last checkpoint is kept)"
    lock = exclusive_output(checkpoint_path, "the generator")  # one run at a time writes a checkpoint
    with lock, gradients_enabled(), out_of_memory_as_error(f"training at {settings.size} px", hint):
        objectives = scaled_objectives(
            network, normal_tensor(style_image).to(device), normal_tensor(style_masks.masks).to(device), settings
        )
        bundle = start_bundle(resume, n_regions, style_masks.palette, loss_network, settings, device)
        weights = WeightAverage(bundle, settings.weight_average)
        check_same_on_every_rank(
            world, "style, settings or resumed generator", *_run_identity(style_image, style_masks, settings, bundle)
        )
        trained = weights.live if world.size == 1 else nn.parallel.DistributedDataParallel(weights.live)
        optimizer = torch.optim.Adam(weights.live.parameters(), lr=settings.learning_rate)
        if bundle.optimizer_state:
            optimizer.load_state_dict(unflatten_optimizer(bundle.optimizer_state, optimizer))
        run = Run.resuming(bundle.training, settings, list(style_image.shape[-2:]), world.size)
        preview_masks = normal_tensor(style_masks.masks[:1]).to(device)
        due = False
        try:
            for masks, noise_seed in drawn_inputs(run.step, n_regions, settings, world, ahead=device.type != "cpu"):
                masks = masks.to(device)
                loss, value = _checked_loss(trained, objectives, masks, noise_seed, run, checkpoint_path, world)
                if due:  # saved only now that this step's loss has vouched for the weights of the step before
                    checkpoint(bundle, optimizer, weights, run, checkpoint_path)
                _descend(loss, optimizer, weights.live, learning_rate_at(run.step, settings))
                weights.update(run.step)
                run.advance(value)
                due = run.step % settings.checkpoint_every == 0 and run.step < settings.steps
                progress(run.step, settings.steps, lambda: _preview(bundle.model, preview_masks))
        except BaseException as error:
            if run.step > run.first_step and not isinstance(error, TrainingBlewUp):  # else the file stays as it was
                checkpoint(bundle, optimizer, weights, run, checkpoint_path)
            raise
        checkpoint(bundle, optimizer, weights, run, checkpoint_path)
        bundle.model.eval()
        return bundle


def _checked_loss(
    model: nn.Module,
    objectives: list[DoodleObjective],
    masks: torch.Tensor,
    noise_seed: int,
    run: Run,
    checkpoint_path: Path | None,
    world: World,
) -> tuple[torch.Tensor, float]:
    """One step's loss on this rank's images and the world batch's loss value; raises TrainingBlewUp (before
    any checkpoint, on every rank together) if the run has blown up."""
    directions = torch.Generator().manual_seed(noise_seed)
    for objective in objectives:
        objective.draw_directions(directions)
    image = model(masks, seed=noise_seed, first_image=world.rank * masks.shape[0])
    outside = out_of_range(image)
    loss = multiscale_loss(objectives, image.clamp(0, 1), masks) + RANGE_PENALTY * outside
    value, distance = mean_loss_and_max_distance(
        world, float(loss.detach()), math.sqrt(float(outside.detach())), masks.device
    )
    if not (math.isfinite(value) and distance <= BLOWN_UP_DISTANCE):
        raise TrainingBlewUp(
            f"training blew up at step {run.step} (loss {value:.3g}, pixels {distance:.3g} outside 0..1) "
            f"and stopped without saving those weights{_kept(checkpoint_path, run.saved_step)}; lower learning_rate"
        )
    return loss, value


def _descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, model: nn.Module, learning_rate: float) -> None:
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRADIENT_CLIP)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    optimizer.step()


def _run_identity(
    style_image: torch.Tensor, style_masks: RegionMasks, settings: TrainSettings, bundle: GeneratorBundle
) -> tuple[bytes, ...]:
    """What every rank of a run must share: the style, its masks, the settings and the starting weights."""
    first = next(bundle.model.parameters())
    return (
        style_image.detach().cpu().numpy().tobytes(),
        style_masks.masks.detach().cpu().numpy().tobytes(),
        repr(settings).encode(),
        first.detach().cpu().numpy().tobytes(),
    )


def _kept(checkpoint_path: Path | None, saved_step: int | None) -> str:
    """What the checkpoint file holds after a run stopped without saving its last weights."""
    if checkpoint_path is None:
        return ""
    if saved_step is not None:
        return f" ({checkpoint_path} keeps step {saved_step})"
    if checkpoint_path.exists():
        return f" ({checkpoint_path} is as it was before this run)"
    return f" (nothing was saved to {checkpoint_path})"


class TrainingBlewUp(DoodleError):
    """The render left 0..1 far behind, or the loss is not finite: the weights that made it are not worth a
    checkpoint."""


def drawn_inputs(
    first_step: int, n_regions: int, settings: TrainSettings, world: World, ahead: bool
) -> Iterator[tuple[torch.Tensor, int]]:
    """Each step's training masks and noise seed, from ``first_step`` to the end.

    With ``ahead`` the next step's are drawn in a thread while the caller trains on these: on a GPU the CPU
    would otherwise idle; on the CPU that thread would only compete with the step.
    """
    if not ahead:
        yield from (_step_inputs(step, n_regions, settings, world) for step in range(first_step, settings.steps))
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="doodle-masks") as drawer:
        upcoming = drawer.submit(_step_inputs, first_step, n_regions, settings, world)
        for step in range(first_step, settings.steps):
            current = upcoming.result()
            if step + 1 < settings.steps:
                upcoming = drawer.submit(_step_inputs, step + 1, n_regions, settings, world)
            yield current


def _step_inputs(step: int, n_regions: int, settings: TrainSettings, world: World) -> tuple[torch.Tensor, int]:
    """A step's masks for this rank and the noise seed, drawn from (seed, step) alone: what makes a resumed
    run exact. Each rank draws the world batch and keeps its share, so N ranks train on what one process
    with N times the batch would."""
    rng = np.random.default_rng([settings.seed, step])
    masks = training_masks(settings.size, n_regions, settings.batch_size * world.size, rng, settings.mask_sampling)
    share = slice(world.rank * settings.batch_size, (world.rank + 1) * settings.batch_size)
    return masks[share], int(rng.integers(2**62))


def scaled_objectives(
    network: VGGFeatures, style_image: torch.Tensor, style_masks: torch.Tensor, settings: TrainSettings
) -> list[DoodleObjective]:
    """One objective per loss scale: the style and its masks area-shrunk by 1, 2, 4, ..."""
    return [
        DoodleObjective(
            network,
            _shrunk(style_image, scale),
            _shrunk(style_masks, scale),
            LossWeights(distribution_weight=settings.distribution_weight),
        )
        for scale in range(settings.loss_scales)
    ]


def multiscale_loss(objectives: list[DoodleObjective], image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean of the objectives, each on ``image`` and ``masks`` area-shrunk by its scale (1, 2, 4, ...)."""
    total = image.new_zeros(())
    for scale, objective in enumerate(objectives):
        objective.set_target_masks(_shrunk(masks, scale))
        total = total + objective(_shrunk(image, scale))
    return total / len(objectives)


def _shrunk(tensor: torch.Tensor, scale: int) -> torch.Tensor:
    """``tensor`` averaged over 2^scale x 2^scale blocks (itself at scale 0)."""
    return F.avg_pool2d(tensor, 2**scale) if scale else tensor


def _preview(model: DoodleGenerator, masks: torch.Tensor) -> torch.Tensor:
    """A render as a file would give it: in eval mode (batch normalisation's running statistics), which the
    model leaves for the mode it was in."""
    was_training = model.training
    try:
        with torch.no_grad():
            return model.eval()(masks, seed=0).clamp(0, 1)
    finally:
        model.train(was_training)
