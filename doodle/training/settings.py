"""What a training run may be: its settings, each declared once (:mod:`doodle.declared`), and the checks of the
rest of its request, all made before any network is loaded or file written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..declared import check_declared, declared
from ..errors import DoodleError
from ..files.atomic import check_writable
from ..generator.file import GeneratorBundle, check_bundle
from ..generator.model import BATCH_NORM, DEFAULT_WIDTHS, MAX_LEVELS, NORMALIZATION_HELP, NORMALIZATIONS
from ..limits import MAX_BATCH, MAX_SEED, MAX_STEPS
from ..maps.colormap import describe_colors
from ..maps.random_masks import MASK_SAMPLINGS
from ..maps.regions import RegionMasks, check_region_count
from ..neural.distribution_loss import declared_distribution_weight
from ..runtime.distributed import current_world

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
        colors = describe_colors(style_masks.palette[absent].cpu().numpy() * 255)
        raise DoodleError(
            f"the style map has no pixels of region(s) {absent} ({colors}), so there is no texture to learn for "
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
