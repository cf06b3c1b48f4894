"""Optimisation-based doodle: L-BFGS over pixels, coarse to fine, any aspect ratio."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..errors import DoodleError
from ..runtime.memory import out_of_memory_as_error
from ..runtime.progress import Progress, no_progress
from ..synthesis import SynthesisSettings, synthesize
from .grad_mode import gradients_enabled, normal_tensor
from .objective import RANGE_PENALTY, DoodleObjective, out_of_range
from .optimize_settings import (
    DEFAULT_SETTINGS,
    MIN_SIDE,
    OptimizeSettings,
    long_side_size,
    output_size,
    size_at_level,
    validate_request,
)
from .vgg import VGGFeatures

SEARCHED_ITERATIONS = 5
"""L-BFGS iterations per scale with the strong-Wolfe line search; plain steps after. The search rescues the
first steps (torch's unsearched first step is too small to use); later it costs a second evaluation per
iteration for the same loss."""


def optimize_doodle(
    network: VGGFeatures,
    style_image: torch.Tensor,
    style_masks: torch.Tensor,
    target_masks: torch.Tensor,
    settings: OptimizeSettings = DEFAULT_SETTINGS,
    *,
    content_image: torch.Tensor | None = None,
    init_image: torch.Tensor | None = None,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """Paint ``target_masks`` ``[1, R, h, w]`` with the style of ``style_image`` ``[1, 3, H, W]`` (RGB 0..1).

    ``init_image`` ``[1, 3, h, w]`` (resized to fit), when given, is the start instead of ``settings.init``: a
    generator's render, polished by a few dozen iterations at one scale, comes within a few times of a full
    run's loss in a fraction of its time (benchmarks/README.md, Polishing a render).
    Returns ``[1, 3, h', w']`` in 0..1 on the network's device.
    """
    validate_request(
        style_image, style_masks, target_masks, settings, content_image=content_image, init_image=init_image
    )
    return optimize_checked(
        network,
        style_image,
        style_masks,
        target_masks,
        settings,
        content_image=content_image,
        init_image=init_image,
        progress=progress,
    )


def optimize_checked(
    network: VGGFeatures,
    style_image: torch.Tensor,
    style_masks: torch.Tensor,
    target_masks: torch.Tensor,
    settings: OptimizeSettings,
    *,
    content_image: torch.Tensor | None,
    init_image: torch.Tensor | None,
    progress: Progress,
) -> torch.Tensor:
    """:func:`optimize_doodle` for a request that :func:`validate_request` has passed (hosts check first)."""
    device = next(network.parameters()).device
    iterations, scales = settings.iterations, settings.scales
    height, width = output_size(target_masks.shape[-2:], settings.size)
    hint = "use a smaller size or fewer scales (or render with a trained generator, which tiles)"
    with gradients_enabled(), out_of_memory_as_error(f"optimising {width}x{height}", hint):
        style_image, style_masks, target_masks = (
            normal_tensor(t).to(device) for t in (style_image, style_masks, target_masks)
        )
        content_image, init_image = (
            None if given is None else normal_tensor(given).to(device) for given in (content_image, init_image)
        )
        rng = torch.Generator(device="cpu").manual_seed(settings.seed)
        budget = _split_iterations(iterations, scales)
        image: torch.Tensor | None = None
        done = 0
        for level, steps in enumerate(budget):
            level_size = size_at_level((height, width), level, scales)
            objective = level_objective(network, style_image, style_masks, level_size, settings)
            masks = _resize_masks(target_masks, level_size)
            objective.set_target_masks(masks)
            content = None if content_image is None else _resize(content_image, level_size)
            objective.set_content(content, settings.content_weight)
            if image is None:
                image = _initial_image(settings.init, init_image, masks, style_image, style_masks, content, rng)
            else:
                image = F.interpolate(image, size=level_size, mode="bilinear", align_corners=False)
            image = run_lbfgs(
                objective,
                image,
                steps,
                lambda i, preview, n=done: progress(n + i, iterations, preview),
                advice=_divergence_advice(settings),
            )
            done += steps
        progress(iterations, iterations, None)
        return image.detach().clamp(0, 1)


def run_lbfgs(
    objective: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    steps: int,
    on_step: Callable[[int, Callable[[], torch.Tensor]], None],
    *,
    advice: str = "lower the loss weights",
) -> torch.Tensor:
    """``steps`` L-BFGS iterations, reporting after each so a host can stop it.

    A strong-Wolfe line search for the first :data:`SEARCHED_ITERATIONS`, then L-BFGS's plain step (one
    evaluation each, the history kept). As in training, the loss is taken at the pixels clamped to 0..1 (the
    image returned) plus a pull back into range (:data:`~doodle.neural.objective.RANGE_PENALTY`), so a clamped pixel
    is not stuck; clamping in place would stall the line search. Why, measured: benchmarks/README.md, L-BFGS by
    time to a loss, and docs/history/benchmarks.md, Design notes. A loss at a step's start that is not finite
    stops the run at once, with ``advice``.
    """
    pixels = start.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    optimizer = lbfgs_optimizer(pixels)

    starting = True  # the closure's first evaluation of a step is at the pixels the last step ended on

    def closure() -> torch.Tensor:
        nonlocal starting
        optimizer.zero_grad()
        loss = objective(pixels.clamp(0, 1)) + RANGE_PENALTY * out_of_range(pixels)
        if starting and not torch.isfinite(loss):  # else the line search goes on, trying steps from there
            raise DoodleError(f"the optimisation diverged (loss is not finite): {advice}")
        starting = False
        loss.backward()
        return loss

    for step in range(steps):
        if step == SEARCHED_ITERATIONS:
            stop_line_search(optimizer)
        starting = True
        optimizer.step(closure)
        on_step(step + 1, lambda: pixels.detach().clamp(0, 1))
    return pixels.detach().clamp(0, 1)


def _divergence_advice(settings: OptimizeSettings) -> str:
    """What to change when a run's loss is not finite: its largest weight, by the name it was given."""
    names = ("content_weight", "gram_weight", "patch_weight", "tv_weight", "distribution_weight")
    largest = max(names, key=lambda name: getattr(settings, name))
    return f"lower {largest} ({getattr(settings, largest):g})"


def lbfgs_optimizer(pixels: torch.Tensor) -> torch.optim.LBFGS:
    """L-BFGS over ``pixels`` as :func:`run_lbfgs` steps it: one iteration per ``step``, a long history, no
    tolerance that could end a run before its iterations are done, and the line search on until
    :func:`stop_line_search`."""
    return torch.optim.LBFGS(
        [pixels],
        lr=1.0,
        max_iter=1,
        history_size=100,
        tolerance_grad=-1,
        tolerance_change=-1,
        line_search_fn="strong_wolfe",
    )


def stop_line_search(optimizer: torch.optim.LBFGS) -> None:
    """Plain L-BFGS steps from now on (torch reads the setting at each step); the history is kept."""
    optimizer.param_groups[0]["line_search_fn"] = None


def level_objective(
    network: VGGFeatures,
    style_image: torch.Tensor,
    style_masks: torch.Tensor,
    level_size: tuple[int, int],
    settings: OptimizeSettings = DEFAULT_SETTINGS,
) -> DoodleObjective:
    """Style targets for a target of ``level_size``: the style image is resized to the same long side."""
    style = style_at_level(style_image, style_masks, level_size)
    return DoodleObjective(network, *style, settings.loss_weights)


def style_at_level(
    style_image: torch.Tensor, style_masks: torch.Tensor, level_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The style image and its masks resized to ``level_size``'s long side, as :func:`level_objective` scores them;
    they must be the same size (:func:`validate_request` checks: resizing each to fit would hide a mismatch)."""
    style_size = long_side_size(style_image.shape[-2:], max(level_size), MIN_SIDE)
    return _resize(style_image, style_size), _resize_masks(style_masks, style_size)


def _initial_image(
    init: str,
    init_image: torch.Tensor | None,
    masks: torch.Tensor,
    style_image: torch.Tensor,
    style_masks: torch.Tensor,
    content: torch.Tensor | None,
    rng: torch.Generator,
) -> torch.Tensor:
    noise = torch.randn((1, 3, *masks.shape[-2:]), generator=rng).to(masks.device)
    if init_image is not None:
        return _resize(init_image, (masks.shape[-2], masks.shape[-1])).clamp(0, 1)
    if init == "content" and content is not None:
        return content.clone()
    if init == "noise":
        return (0.5 + 0.2 * noise).clamp(0, 1)
    if init == "synthesis":
        return synthesized_start(style_image, style_masks, masks, int(torch.randint(2**62, (1,), generator=rng)))
    return (paint_region_means(style_image, style_masks, masks) + 0.05 * noise).clamp(0, 1)


def synthesized_start(
    style_image: torch.Tensor, style_masks: torch.Tensor, masks: torch.Tensor, seed: int
) -> torch.Tensor:
    """The target ``masks`` painted by region-guided patch synthesis (fast preset): the optimisation then only
    refines a picture that already has the painting's strokes in every region."""
    settings = SynthesisSettings(preset="fast", seed=seed)
    image = synthesize(style_image[0], style_masks.argmax(dim=1)[0], masks.argmax(dim=1)[0], masks.shape[1], settings)
    return image[None]


def paint_region_means(style_image: torch.Tensor, style_masks: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Each target region ``masks`` ``[1, R, h, w]`` flat in the mean colour of its style region."""
    area = style_masks.sum(dim=(2, 3)).clamp_min(1e-6)
    region_means = torch.einsum("bchw,brhw->brc", style_image, style_masks) / area[..., None]
    return torch.einsum("brc,brhw->bchw", region_means, masks)


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def _resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Shrink by area averaging (soft borders, still summing to one); enlarge by nearest neighbour."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    if size[0] <= masks.shape[-2] and size[1] <= masks.shape[-1]:
        return F.interpolate(masks, size=size, mode="area")
    return F.interpolate(masks, size=size, mode="nearest-exact")


def _split_iterations(iterations: int, scales: int) -> list[int]:
    """Equal shares per level, the remainder to the finest."""
    share = iterations // scales
    return [share] * (scales - 1) + [iterations - share * (scales - 1)]
