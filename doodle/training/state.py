"""Where a training run stands, as its checkpoints keep it: the run's record, the weights' average, Adam's
state flattened for the file, and the generator a run starts from (new, or resumed and perhaps grown).
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import DoodleError
from ..generator.file import GeneratorBundle, save_generator
from ..generator.model import DoodleGenerator, GeneratorConfig, grown
from .settings import RESUMED, TrainSettings


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


def checkpoint(
    bundle: GeneratorBundle,
    optimizer: torch.optim.Optimizer,
    weights: WeightAverage,
    run: Run,
    path: Path | None,
) -> None:
    """Put the run's state into ``bundle`` and, given a path, save it there."""
    bundle.optimizer_state = _flatten_optimizer(optimizer) | weights.live_state()
    bundle.training = run.record(weights.live.config.levels)
    if path is not None:
        save_generator(bundle, path)
        run.saved_step = run.step


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


def start_bundle(
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


def _flatten_optimizer(optimizer: torch.optim.Adam) -> dict[str, torch.Tensor]:
    """Adam's per-parameter moments and step counts as flat named tensors (safetensors holds no pickles)."""
    flat = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            flat[f"{index}.{key}"] = torch.as_tensor(value).detach().clone()
    return flat


def unflatten_optimizer(flat: dict[str, torch.Tensor], optimizer: torch.optim.Adam) -> dict:
    state_dict = optimizer.state_dict()
    states: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in flat.items():
        if name.startswith(LIVE):
            continue
        index, key = name.split(".", 1)
        states.setdefault(int(index), {})[key] = value
    state_dict["state"] = states
    return state_dict
