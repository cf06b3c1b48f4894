"""Training a generator for one style on random masks (every region in every mask), atomic checkpoints, exact resume.

Every step's random masks and noise are drawn from (seed, step) alone, and the Adam moments and step count
are saved in the checkpoint, so a run interrupted at any step and resumed ends where an uninterrupted run
would (within floating-point noise).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .atomic import check_writable
from .colormap import aligned_to_palette, describe_colours
from .declared import check_declared, declared
from .distributed import World, check_same_on_every_rank, current_world, mean_loss_and_max_distance
from .distribution_loss import declared_distribution_weight
from .errors import DoodleError
from .generator import (
    BATCH_NORM,
    DEFAULT_WIDTHS,
    MAX_LEVELS,
    NORMALIZATION_HELP,
    NORMALIZATIONS,
    DoodleGenerator,
    GeneratorConfig,
    grown,
)
from .generator_file import GeneratorBundle, check_bundle, save_generator
from .grad_mode import gradients_enabled, normal_tensor
from .limits import BLOWN_UP_DISTANCE, MAX_BATCH, MAX_STEPS
from .locks import exclusive_output
from .memory import out_of_memory_as_error
from .objective import RANGE_PENALTY, DoodleObjective, LossWeights, out_of_range
from .progress import Progress, no_progress
from .random_masks import MASK_SAMPLINGS, training_masks
from .regions import RegionMasks, check_region_count
from .seeds import MAX_SEED
from .vgg import VGGFeatures

MIN_LR_FRACTION = 0.1
GRADIENT_CLIP = 1.0
MIN_SIZE, MAX_SIZE = 32, 2048
"""Training resolutions; each loss scale must also leave at least MIN_SIZE."""
MAX_LOSS_SCALES = 4
RESUMED = "resume_from (--resume)"
"""How messages name the generator a run resumes from: the node's input and the CLI's flag."""


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """How one training run goes, each knob declared once (:mod:`doodle.declared`); checked when made, so every
    host refuses the same things alike."""

    steps: int = declared(1000, "total steps; a resumed run continues up to this many", low=1, high=MAX_STEPS)
    batch_size: int = declared(4, "random doodles per step (per process under torchrun)", low=1, high=MAX_BATCH)
    learning_rate: float = declared(
        0.003,
        "Adam's learning rate (above 0) at the first step; it falls to a tenth by the last, along a cosine",
        high=1.0,
        step=0.0001,
    )
    size: int = declared(
        128,
        "training resolution: 128 learns fast; then resume at 256-512 (batch 1-2) so big regions of a 512 px doodle "
        "get their large-scale texture too",
        low=MIN_SIZE,
        high=MAX_SIZE,
        step=16,
    )
    seed: int = declared(
        0, "random seed of the new weights, the training doodles and their noise", low=0, high=MAX_SEED
    )
    checkpoint_every: int = declared(50, "steps between checkpoints (also saved at the end and when stopped)", low=1)
    mask_sampling: str = declared(
        MASK_SAMPLINGS[0],
        "how training masks share area among regions: varied (each region sometimes the big one, sometimes a small "
        "piece), equal (near-equal areas), or reference (as the original code drew them)",
        choices=MASK_SAMPLINGS,
    )
    loss_scales: int = declared(
        1,
        "scales the render is scored at: 2 also scores it at half size against the style shrunk alike, so shapes "
        "twice as large (clouds, patches) are learned too, for about 1.2x the time per step (the shipped "
        "generators' last phases used 2)",
        low=1,
        high=MAX_LOSS_SCALES,
    )
    weight_average: float = declared(
        0.0,
        "above 0, save an average of the weights with this decay per step (below 1): 0.99 averages over about the "
        "last 100 steps, which renders better than the last step's when batches are small; 0 = off",
        low=0.0,
        step=0.001,
    )
    levels: int | None = declared(
        None,
        f"levels of a new generator (default {len(DEFAULT_WIDTHS)}; each one more nearly doubles its reach); "
        "resuming, more than the file's grow it, fewer are refused",
        low=1,
        high=MAX_LEVELS,
        kind=int,
    )
    region_modulation: bool = declared(
        True, "give a resumed generator region modulation if it has none (new generators always have it)"
    )
    normalization: str = declared(NORMALIZATIONS[0], NORMALIZATION_HELP, choices=NORMALIZATIONS)
    distribution_weight: float = declared_distribution_weight(1.0)
    """On by default (L-BFGS's is off): in a new style's first few hundred steps it keeps each region's colours
    its own and halves their distance to the painting's; its directions are drawn afresh each step."""

    def __post_init__(self) -> None:
        check_declared(self)
        if not self.learning_rate > 0:
            raise DoodleError(f"learning_rate must be above 0, got {self.learning_rate}")
        if self.weight_average >= 1:
            raise DoodleError(f"weight_average must be below 1 (0 = off), got {self.weight_average}")
        if self.size >> (self.loss_scales - 1) < MIN_SIZE:
            raise DoodleError(
                f"loss_scales {self.loss_scales} would score size {self.size} at {self.size >> (self.loss_scales - 1)} "
                f"px, less than {MIN_SIZE}: use fewer loss scales or a larger size"
            )


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
        bundle = _start_bundle(resume, n_regions, style_masks.palette, loss_network, settings, device)
        weights = WeightAverage(bundle, settings.weight_average)
        check_same_on_every_rank(
            world, "style, settings or resumed generator", *_run_identity(style_image, style_masks, settings, bundle)
        )
        trained = weights.live if world.size == 1 else nn.parallel.DistributedDataParallel(weights.live)
        optimiser = torch.optim.Adam(weights.live.parameters(), lr=settings.learning_rate)
        if bundle.optimizer_state:
            optimiser.load_state_dict(_unflatten_optimizer(bundle.optimizer_state, optimiser))
        run = Run.resuming(bundle.training, settings, list(style_image.shape[-2:]), world.size)
        preview_masks = normal_tensor(style_masks.masks[:1]).to(device)
        due = False
        try:
            for masks, noise_seed in drawn_inputs(run.step, n_regions, settings, world, ahead=device.type != "cpu"):
                masks = masks.to(device)
                loss, value = _checked_loss(trained, objectives, masks, noise_seed, run, checkpoint_path, world)
                if due:  # saved only now that this step's loss has vouched for the weights of the step before
                    _checkpoint(bundle, optimiser, weights, run, checkpoint_path)
                _descend(loss, optimiser, weights.live, learning_rate_at(run.step, settings))
                weights.update(run.step)
                run.advance(value)
                due = run.step % settings.checkpoint_every == 0 and run.step < settings.steps
                progress(run.step, settings.steps, lambda: _preview(bundle.model, preview_masks))
        except BaseException as error:
            if run.step > run.first_step and not isinstance(error, TrainingBlewUp):  # else the file stays as it was
                _checkpoint(bundle, optimiser, weights, run, checkpoint_path)
            raise
        _checkpoint(bundle, optimiser, weights, run, checkpoint_path)
        bundle.model.eval()
        return bundle


@dataclass
class Run:
    """Where one run (a fresh start or a resume) stands: what its checkpoints record of it."""

    settings: TrainSettings
    style_size: list[int]
    first_step: int
    step: int
    seconds_before: float
    smoothed_loss: float | None
    earlier_phases: list
    world_size: int = 1
    started: float = field(default_factory=time.monotonic)
    saved_step: int | None = None
    """The last step this run saved."""

    @classmethod
    def resuming(cls, training: dict, settings: TrainSettings, style_size: list[int], world_size: int) -> Run:
        step = int(training.get("steps_done", 0))
        seconds, loss = float(training.get("seconds", 0.0)), training.get("final_loss")
        return cls(settings, style_size, step, step, seconds, loss, _phases(training), world_size)

    def advance(self, loss: float) -> None:
        self.step += 1
        self.smoothed_loss = loss if self.smoothed_loss is None else 0.95 * self.smoothed_loss + 0.05 * loss

    def record(self, levels: int) -> dict:
        return asdict(self.settings) | {
            "levels": levels,
            "steps_done": self.step,
            "seconds": round(self.seconds_before + time.monotonic() - self.started, 1),
            "final_loss": self.smoothed_loss,
            "style_size": self.style_size,
            "phases": self.earlier_phases
            + [_phase(self.first_step, self.step, self.settings, levels, self.world_size)],
        }


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


def _descend(loss: torch.Tensor, optimiser: torch.optim.Optimizer, model: nn.Module, learning_rate: float) -> None:
    optimiser.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRADIENT_CLIP)
    for group in optimiser.param_groups:
        group["lr"] = learning_rate
    optimiser.step()


def _checkpoint(
    bundle: GeneratorBundle,
    optimiser: torch.optim.Optimizer,
    weights: WeightAverage,
    run: Run,
    path: Path | None,
) -> None:
    """Put the run's state into ``bundle`` and, given a path, save it there."""
    bundle.optimizer_state = _flatten_optimizer(optimiser) | weights.live_state()
    bundle.training = run.record(weights.live.config.levels)
    if path is not None:
        save_generator(bundle, path)
        run.saved_step = run.step


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


def validate_training(
    style_masks: RegionMasks,
    loss_network: str,
    settings: TrainSettings,
    resume: GeneratorBundle | None = None,
    checkpoint_path: Path | None = None,
) -> None:
    """Everything :func:`train_generator` refuses beyond its settings (checked when made), checked before any
    network is loaded or file written."""
    if checkpoint_path is not None:
        check_writable(checkpoint_path, "the generator")
    if resume is not None:
        check_bundle(resume, "resume_from")
    normalization = resume.model.config.normalization if resume is not None else settings.normalization
    if normalization == BATCH_NORM and current_world().size > 1:
        raise DoodleError("a batch-normalised generator trains in one process only (its statistics are per batch)")
    absent = [index for index, area in enumerate(style_masks.masks.sum(dim=(0, 2, 3)).tolist()) if area == 0]
    if absent:
        colours = describe_colours(style_masks.palette[absent].cpu().numpy() * 255)
        raise DoodleError(
            f"the style map has no pixels of region(s) {absent} ({colours}), so there is no texture to learn for "
            "them: make style_masks from the style image's own map"
        )
    if resume is None and checkpoint_path is not None and checkpoint_path.exists():
        raise DoodleError(
            f"{checkpoint_path} already exists and a new run would replace it: resume from it (resume_from, "
            "--resume) to train it further, or save under another name"
        )
    if resume is not None:
        _check_resume(resume, style_masks.n_regions, loss_network, settings)


def _check_resume(resume: GeneratorBundle, n_regions: int, loss_network: str, settings: TrainSettings) -> None:
    """Refuse a resume that could not continue the run that made ``resume``."""
    advice = "resume it with the style map it was trained on, or train a new generator for this one"
    check_region_count(n_regions, RESUMED, resume.n_regions, advice, what="the style masks")
    if resume.loss_network != loss_network:
        raise DoodleError(
            f"{RESUMED} was trained with the loss network {resume.loss_network}: continue it with that one, "
            f"not {loss_network}"
        )
    done = int(resume.training.get("steps_done", 0))
    if settings.steps <= done:
        raise DoodleError(f"{RESUMED} has done {done} steps and steps is the total to reach: set steps above {done}")
    if (settings.levels or resume.model.config.levels) < resume.model.config.levels:
        raise DoodleError(
            f"{RESUMED} has {resume.model.config.levels} levels, more than {settings.levels}: a generator "
            "can gain levels but not lose them (leave levels unset to continue it, or train a new one)"
        )
    if (settings.levels or 0) > resume.model.config.levels and resume.model.config.normalization == BATCH_NORM:
        raise DoodleError(
            f"{RESUMED} is batch-normalised and cannot gain levels (leave levels unset to continue it, or train "
            "a new one with more)"
        )


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


ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
"""What Adam keeps per parameter: the names a checkpoint's optimiser state may hold."""

LIVE = "live."
"""Prefix of the trained (not averaged) weights in a checkpoint's optimiser state, kept so a resume goes on
from them; the file's model weights are their average."""


class WeightAverage:
    """The weights a file saves: with ``decay`` > 0 an exponential moving average of the trained (live) ones,
    else the live ones themselves.

    The average is ``bundle.model``; the live weights train a copy. A checkpoint saved with averaging keeps
    the live weights too (under :data:`LIVE` in its optimiser state), and a resume goes on from them, also
    when averaging is now off (the average is then dropped).
    """

    def __init__(self, bundle: GeneratorBundle, decay: float) -> None:
        self.average, self.decay = bundle.model, decay
        live_state = {key[len(LIVE) :]: value for key, value in bundle.optimizer_state.items() if key.startswith(LIVE)}
        if decay:
            self.live = copy.deepcopy(bundle.model)
        else:
            self.live = bundle.model
        if live_state:
            self.live.load_state_dict(live_state)
        self.live.train()

    @torch.no_grad()
    def update(self, step: int) -> None:
        """After the live weights' step ``step``: a shorter memory over the first steps, then ``decay``."""
        if not self.decay:
            return
        decay = min(self.decay, (1 + step) / (10 + step))
        for averaged, current in zip(self.average.parameters(), self.live.parameters(), strict=True):
            averaged.lerp_(current, 1 - decay)
        for averaged, current in zip(self.average.buffers(), self.live.buffers(), strict=True):
            averaged.copy_(current)  # batch normalisation's running statistics: already averages

    def live_state(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps of the live weights beside their average (nothing without averaging)."""
        if not self.decay:
            return {}
        return {LIVE + key: value.detach().clone() for key, value in self.live.state_dict().items()}


def _phase(first_step: int, last_step: int, settings: TrainSettings, levels: int, world_size: int) -> dict:
    """What one run (a fresh start or a resume) did: a file trained in stages keeps one entry per run;
    ``batch_size`` is per process, ``world_size`` the number of processes."""
    keys = (
        "size",
        "batch_size",
        "learning_rate",
        "seed",
        "mask_sampling",
        "loss_scales",
        "weight_average",
        "distribution_weight",
    )
    record = {"steps": [first_step, last_step], "levels": levels} | {key: getattr(settings, key) for key in keys}
    return record | {"world_size": world_size}


def _phases(training: dict) -> list:
    phases = training.get("phases", [])
    return list(phases) if isinstance(phases, list) else []


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


def _start_bundle(
    resume: GeneratorBundle | None,
    n_regions: int,
    palette: torch.Tensor,
    loss_network: str,
    settings: TrainSettings,
    device: torch.device,
) -> GeneratorBundle:
    if resume is not None:
        levels = settings.levels or resume.model.config.levels
        model = grown(resume.model, levels, settings.seed, settings.region_modulation)
        return GeneratorBundle(
            model.to(device),
            resume.palette,
            resume.loss_network,
            dict(resume.training),
            _grown_optimizer_state(resume.optimizer_state, resume.model, model, settings.seed),
            resume.name,
            resume.region_names,
        )
    with torch.random.fork_rng(devices=[]):  # seeded without touching the host's random state
        torch.manual_seed(settings.seed)
        config = GeneratorConfig.with_levels(n_regions, settings.levels, settings.normalization)
        model = DoodleGenerator(config).to(device)
    return GeneratorBundle(model, palette.detach().cpu().clone(), loss_network)


def _grown_optimizer_state(
    flat: dict[str, torch.Tensor], model: DoodleGenerator, bigger: DoodleGenerator, seed: int
) -> dict[str, torch.Tensor]:
    """A checkpoint's optimiser state for ``model`` grown into ``bigger`` (``grown`` with ``seed``): the moments
    move to their parameters' new places, the new parameters start without; kept live weights grow too.
    The one check that the state fits its generator. Copies: Adam updates its moments in place, and the
    generator resumed from must stay as it was (ComfyUI caches a loaded generator and feeds it again)."""
    old_parameters = list(model.named_parameters())
    new_index = {name: index for index, (name, _) in enumerate(bigger.named_parameters())}
    damaged = DoodleError(f"{RESUMED}'s optimiser state does not fit its generator (damaged checkpoint)")
    state, live = {}, {}
    for key, value in flat.items():
        if not torch.isfinite(value).all():
            raise DoodleError(f"{RESUMED}'s optimiser state holds NaN or infinite values (damaged checkpoint)")
        if key.startswith(LIVE):
            live[key[len(LIVE) :]] = value
            continue
        index, _, moment = key.partition(".")
        if not index.isdigit() or int(index) >= len(old_parameters) or moment not in ADAM_STATE:
            raise damaged
        name, parameter = old_parameters[int(index)]
        if moment != "step" and value.shape != parameter.shape:
            raise damaged
        state[f"{new_index[name]}.{moment}"] = value.clone()
    if live:
        live_model = DoodleGenerator(model.config)
        try:
            live_model.load_state_dict(live)
        except RuntimeError as error:
            raise damaged from error
        live_grown = grown(live_model, bigger.config.levels, seed, bigger.config.modulated)
        state |= {LIVE + name: value for name, value in live_grown.state_dict().items()}
    return state


def _flatten_optimizer(optimiser: torch.optim.Adam) -> dict[str, torch.Tensor]:
    """Adam's per-parameter moments and step counts as flat named tensors (safetensors holds no pickles)."""
    flat = {}
    for index, state in optimiser.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{index}.{key}"] = torch.as_tensor(value).detach().clone()
    return flat


def _unflatten_optimizer(flat: dict[str, torch.Tensor], optimiser: torch.optim.Adam) -> dict:
    state_dict = optimiser.state_dict()
    states: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in flat.items():
        if name.startswith(LIVE):
            continue
        index, key = name.split(".", 1)
        states.setdefault(int(index), {})[key] = value
    state_dict["state"] = states
    return state_dict
