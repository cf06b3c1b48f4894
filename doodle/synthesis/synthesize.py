"""Region-guided patch synthesis ("texture by numbers", Hertzmann et al. 2001): the doodle painted coarse to
fine with the painting's own pieces, each region from the same region of the painting, no network."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ..errors import DoodleError
from ..runtime.memory import out_of_memory_as_error
from ..runtime.progress import Progress, no_progress
from .matching import Field, Matcher
from .pyramid import Level, build_pyramid
from .settings import DEFAULT_SYNTHESIS, MAX_SOURCE_PIXELS, MAX_TARGET_PIXELS, SynthesisSettings
from .voting import vote


@dataclass(frozen=True)
class Synthesis:
    """The picture ``[3, Ht, Wt]`` and where it came from: for each doodle pixel (flattened) the pixel of the
    painting (at ``stroke_scale``, ``source_size`` = (height, width)) its patch is centred on."""

    image: torch.Tensor
    source_index: torch.Tensor
    source_size: tuple[int, int]


def synthesize(
    painting: torch.Tensor,
    source_labels: torch.Tensor,
    target_labels: torch.Tensor,
    n_regions: int,
    settings: SynthesisSettings = DEFAULT_SYNTHESIS,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """Paint ``target_labels`` ``[Ht, Wt]`` with ``painting`` ``[3, Hs, Ws]`` (0..1) whose regions are
    ``source_labels`` ``[Hs, Ws]``; returns ``[3, Ht, Wt]``. Every target region must occur in the painting."""
    return synthesize_traced(painting, source_labels, target_labels, n_regions, settings, progress).image


def synthesize_traced(
    painting: torch.Tensor,
    source_labels: torch.Tensor,
    target_labels: torch.Tensor,
    n_regions: int,
    settings: SynthesisSettings = DEFAULT_SYNTHESIS,
    progress: Progress = no_progress,
) -> Synthesis:
    """:func:`synthesize`, with the painting pixels each doodle pixel came from (for measuring their use)."""
    check_request(source_labels, target_labels, settings)
    with out_of_memory_as_error("synthesising the doodle", "paint a smaller doodle or lower stroke_scale"):
        return _synthesize(painting, source_labels, target_labels, n_regions, settings, progress)


def check_request(source_labels: torch.Tensor, target_labels: torch.Tensor, settings: SynthesisSettings) -> None:
    """Refuse, before any work, sizes beyond the limits and doodle regions the painting has no pixels of."""
    height, width = target_labels.shape
    if height * width > MAX_TARGET_PIXELS:
        raise DoodleError(
            f"the doodle is {width}x{height}, more than synthesis paints ({MAX_TARGET_PIXELS} pixels, "
            f"{int(MAX_TARGET_PIXELS**0.5)}x{int(MAX_TARGET_PIXELS**0.5)}): paint a smaller doodle"
        )
    height, width = (round(side * settings.stroke_scale) for side in source_labels.shape)
    if height * width > MAX_SOURCE_PIXELS:
        raise DoodleError(
            f"at stroke_scale {settings.stroke_scale} the painting would be {width}x{height}, more than synthesis "
            f"reads ({MAX_SOURCE_PIXELS} pixels): lower stroke_scale or use a smaller painting"
        )
    missing = sorted(set(target_labels.unique().tolist()) - set(source_labels.unique().tolist()))
    if missing:
        raise DoodleError(
            f"the doodle paints region(s) {missing} that the painting's map does not have: every colour of the "
            "doodle must cover some of the painting"
        )


def _synthesize(
    painting: torch.Tensor,
    source_labels: torch.Tensor,
    target_labels: torch.Tensor,
    n_regions: int,
    settings: SynthesisSettings,
    progress: Progress,
) -> Synthesis:
    painting, source_labels = _scaled(painting, source_labels, settings.stroke_scale)
    levels = build_pyramid(painting, source_labels, target_labels, n_regions, settings.patch_size)
    effort = settings.effort
    rounds = [effort.em_iterations] * (len(levels) - 1) + [effort.finest_em_iterations]
    generator = torch.Generator(painting.device).manual_seed(settings.seed)
    done, total = 0, sum(rounds)
    field: Field | None = None
    for position, (level, level_rounds) in enumerate(zip(levels, rounds, strict=True)):
        matcher = Matcher(level, settings.patch_size, settings.guide_weight, settings.uniformity, generator)
        field = matcher.placed_field() if field is None else matcher.upsampled(field, levels[position - 1])
        image = _vote(field, level, settings.patch_size)
        for _ in range(level_rounds):
            field = matcher.search(field, image, level.target_guides, effort.search_iterations)
            image = _vote(field, level, settings.patch_size)
            done += 1
            progress(done, total, lambda image=image: _preview(image, target_labels.shape))
    return Synthesis(image, field.index, tuple(source_labels.shape))


def _vote(field: Field, level: Level, patch_size: int) -> torch.Tensor:
    return vote(field.index, field.distance, level.painting, level.source_labels, level.target_labels, patch_size)


def _scaled(painting: torch.Tensor, labels: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The painting and its labels resized by ``scale``, so that its strokes come out that much larger."""
    if scale == 1:
        return painting, labels
    height, width = labels.shape
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    resized = F.interpolate(painting[None], size=size, mode="bicubic", align_corners=False, antialias=scale < 1)
    nearest = F.interpolate(labels[None, None].float(), size=size, mode="nearest-exact")
    return resized[0].clamp(0, 1), nearest[0, 0].long()


def _preview(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(image[None], size=size, mode="nearest").clamp(0, 1)
