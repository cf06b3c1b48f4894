"""Rendering with a trained generator: whole or in tiles, with bounded memory and clear size errors.

Tiles are computed with a margin wider than the generator's receptive field and the margin is cropped off;
with the position-hashed noise, a tiled render equals the whole render (no seams, no blending).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import InitVar, dataclass

import torch

from ..declared import check_declared, check_seed, declared
from ..deprecated import warn_renamed
from ..errors import DoodleError
from ..limits import BLOWN_UP_DISTANCE, MAX_TILE_SIZE
from ..maps.regions import check_region_count
from ..neural.objective import out_of_range
from ..runtime.memory import out_of_memory_as_error
from ..runtime.progress import Progress, no_progress
from .calibration import calibrated
from .file import GeneratorBundle

TILE_MARGIN_STEPS = 8
"""Margin around each tile, in units of the generator's size multiple (16 px for 5 levels)."""
MAX_UNTILED_SIDE = 2048
MAX_UNTILED_PIXELS = MAX_UNTILED_SIDE**2
MAX_PIXELS = 16384 * 16384
DAMAGED = "its weights are damaged or far out of range; use another file or train it again"


@dataclass(frozen=True, kw_only=True)
class RenderSettings:
    """How a render runs, its knobs declared once (:mod:`doodle.declared`); tiles and precision do not change the
    image beyond float tolerance."""

    tile_size: int = declared(
        1024,
        f"images larger than this are rendered in tiles of this side (bounded memory, no seams); 0 renders in one "
        f"piece, up to {MAX_UNTILED_SIDE}x{MAX_UNTILED_SIDE} pixels",
        low=0,
        step=16,
    )
    half_precision: bool = declared(False, "float16 on CUDA (ignored elsewhere)")
    color_calibration: bool = True
    """Apply the generator's colour calibration, where its file has one (False: the network's own colours)."""
    colour_calibration: InitVar[bool | None] = None
    """Deprecated name of ``color_calibration``."""

    def __post_init__(self, colour_calibration: bool | None) -> None:
        if colour_calibration is not None:
            warn_renamed("RenderSettings(colour_calibration=...)", "color_calibration=...")
            object.__setattr__(self, "color_calibration", colour_calibration)
        check_declared(self)


DEFAULT_RENDER = RenderSettings()


def render(
    bundle: GeneratorBundle,
    masks: torch.Tensor,
    seed: int = 0,
    settings: RenderSettings = DEFAULT_RENDER,
    progress: Progress = no_progress,
) -> torch.Tensor:
    """Paint one-hot masks ``[B, R, H, W]``; returns RGB ``[B, 3, H, W]`` in 0..1 on the generator's device.

    Image ``i`` of the batch gets the noise of (seed, i).
    """
    tile_size = settings.tile_size
    _validate(bundle, masks, tile_size)
    check_seed(seed)
    model = bundle.model.eval()
    device = next(model.parameters()).device
    height, width = masks.shape[-2:]
    tiles = _tile_grid(height, width, tile_size, model.config.multiple)
    output = torch.empty((masks.shape[0], 3, height, width), device=device)
    total = masks.shape[0] * len(tiles)
    autocast = (
        torch.autocast("cuda", torch.float16)
        if settings.half_precision and device.type == "cuda"
        else contextlib.nullcontext()
    )
    margin = TILE_MARGIN_STEPS * model.config.multiple
    calibration = bundle.calibration if settings.color_calibration else None
    hint = "use a smaller tile_size, a smaller batch or a smaller image"
    with out_of_memory_as_error(f"rendering {width}x{height}", hint), torch.no_grad(), autocast:
        for index in range(masks.shape[0]):
            image_masks = masks[index : index + 1].to(device=device, dtype=torch.float32)
            for number, (top, left, bottom, right) in enumerate(tiles):
                y0, x0 = max(0, top - margin), max(0, left - margin)
                y1, x1 = min(height, bottom + margin), min(width, right + margin)
                piece_masks = image_masks[..., y0:y1, x0:x1]
                piece = model(piece_masks, seed, offset=(y0, x0), first_image=index)
                if calibration is not None:
                    piece = calibrated(piece.float(), piece_masks, calibration)
                piece = piece[0, :, top - y0 : bottom - y0, left - x0 : right - x0].float()
                distance = math.sqrt(float(out_of_range(piece)))
                if not distance <= BLOWN_UP_DISTANCE:  # NaN too
                    raise DoodleError(
                        f"{bundle.owner} painted values {distance:.3g} outside 0..1 (root mean square): {DAMAGED}"
                    )
                output[index, :, top:bottom, left:right] = piece.clamp(0, 1)
                progress(index * len(tiles) + number + 1, total, None)
            _check_painted(output[index], image_masks, bundle)
    return output


def _check_painted(image: torch.Tensor, masks: torch.Tensor, bundle: GeneratorBundle) -> None:
    """Refuse a render ``[3, H, W]`` of one flat colour where its masks ``[1, R, H, W]`` have several regions:
    what weights far out of range paint once clamped, black or white, instead of the doodle."""
    regions = int((masks.amax(dim=(0, 2, 3)) > 0).sum())
    if regions > 1 and bool((image.flatten(1) == image.flatten(1)[:, :1]).all()):
        raise DoodleError(f"{bundle.owner} painted one flat colour over a doodle of {regions} regions: {DAMAGED}")


def _tile_grid(height: int, width: int, tile_size: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """Tile rectangles (top, left, bottom, right) with sides that are multiples of the generator's multiple."""
    if tile_size == 0 or (height <= tile_size and width <= tile_size):
        return [(0, 0, height, width)]
    step = max(multiple, tile_size // multiple * multiple)
    return [
        (top, left, min(top + step, height), min(left + step, width))
        for top in range(0, height, step)
        for left in range(0, width, step)
    ]


def _validate(bundle: GeneratorBundle, masks: torch.Tensor, tile_size: int) -> None:
    if masks.ndim != 4:
        raise DoodleError(f"masks must be [batch, regions, height, width], got {tuple(masks.shape)}")
    check_region_count(masks.shape[1], bundle.owner, bundle.n_regions, "make the masks with this generator's palette")
    height, width = masks.shape[-2:]
    if height < 1 or width < 1:
        raise DoodleError(f"cannot render an empty {width}x{height} image")
    if height * width > MAX_PIXELS:
        raise DoodleError(f"{width}x{height} is larger than the {MAX_PIXELS} pixels doodle renders")
    if tile_size == 0 and height * width > MAX_UNTILED_PIXELS:
        raise DoodleError(
            f"{width}x{height} is too large to render in one piece (at most {MAX_UNTILED_PIXELS} pixels): "
            f"set tile_size to {RenderSettings.tile_size} to render it in tiles"
        )
    piece = (min(height, tile_size), min(width, tile_size))
    if piece[0] * piece[1] > MAX_TILE_SIZE**2:
        raise DoodleError(
            f"tile_size {tile_size} would render {width}x{height} in pieces of {piece[1]}x{piece[0]}, more than "
            f"{MAX_TILE_SIZE}x{MAX_TILE_SIZE} pixels: use tile_size {MAX_TILE_SIZE} or less"
        )
    if not torch.isfinite(masks).all():
        raise DoodleError("the masks contain NaN or infinite values")
