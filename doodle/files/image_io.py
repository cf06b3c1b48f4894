"""Image files and layouts: ComfyUI's IMAGE is ``[B, H, W, C]``, the networks use ``[B, C, H, W]``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DoodleError
from .atomic import check_readable, check_writable, write_atomically


def load_image(path: str | Path) -> torch.Tensor:
    """An image file as ``[1, H, W, C]`` float in 0..1 (C = 3, or 4 when it has transparency; 16-bit kept).

    EXIF orientation is applied, as ComfyUI's LoadImage does, so a phone photo and its map line up.
    """
    try:
        check_readable(path, "image")
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            image.load()
            if image.mode in ("I;16", "I;16B", "I"):
                array = np.asarray(image, dtype=np.float32) / 65535.0
                return torch.from_numpy(array.copy())[None, :, :, None].expand(-1, -1, -1, 3).contiguous()
            mode = "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
            array = np.asarray(image.convert(mode), dtype=np.float32) / 255.0
    except Image.DecompressionBombError as error:
        raise DoodleError(f"could not read image {path}: it has too many pixels ({error})") from error
    except (OSError, UnidentifiedImageError) as error:
        raise DoodleError(f"could not read image {path}: {error}") from error
    return torch.from_numpy(array.copy())[None]


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """Save ``[H, W, C]``/``[1, H, W, C]`` (0..1) atomically: a stopped run never leaves half a file."""
    path = Path(path)
    if image.ndim == 4:
        image = image[0]
    picture = Image.fromarray(to_uint8(image))
    return write_atomically(path, lambda handle: picture.save(handle, format=_format(path)), "the image")


def check_image_destination(path: str | Path) -> Path:
    """Refuse, before any work, an image path :func:`save_image` could not write: a place no file can go
    (:func:`~doodle.files.atomic.check_writable`), or a format whose writer cannot save a colour image."""
    path = check_writable(path, "the image")
    try:
        Image.new("RGB", (1, 1)).save(io.BytesIO(), format=_format(path))
    except (OSError, KeyError, ValueError) as error:
        raise DoodleError(f"cannot save the image as {path.name}: {error} (use .png or .jpg)") from error
    return path


def _format(path: Path) -> str:
    """The image format a file name asks for; PNG where its suffix names none."""
    return Image.registered_extensions().get(path.suffix.lower(), "PNG")


RANGE_SLACK = 1e-3
"""How far outside 0..1 an IMAGE's values may lie (rounding in other nodes) before it is refused."""


def check_image(image: torch.Tensor, name: str, channels: tuple[int, ...] = (3, 4)) -> None:
    """Refuse what is not an IMAGE: floats in 0..1, ``[B, H, W, C]`` with C in ``channels``. Every public
    function reads images this one way; a 0..255, integer or channels-first tensor would otherwise be misread
    without a word."""
    if not isinstance(image, torch.Tensor):
        raise DoodleError(f"{name} must be a torch tensor, got {type(image).__name__}")
    *others, last = map(str, channels)
    shape, counts = tuple(image.shape), f"{', '.join(others)} or {last}" if others else last
    if image.ndim != 4 or shape[-1] not in channels:
        flipped = image.ndim == 4 and shape[1] in channels
        hint = ": it looks channels-first, use image.permute(0, 2, 3, 1)" if flipped else ""
        raise DoodleError(f"{name} must be [batch, height, width, {counts} channels], got {list(shape)}{hint}")
    if 0 in shape:
        raise DoodleError(f"{name} is empty (shape {list(shape)})")
    if not image.is_floating_point():
        raise DoodleError(f"{name} holds {image.dtype} values: an image holds floats in 0..1 (divide 0..255 by 255)")
    if not torch.isfinite(image).all():
        raise DoodleError(f"{name} contains NaN or infinite values")
    low, high = (float(value) for value in image.aminmax())
    if low < -RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise DoodleError(f"{name} has values from {low:.4g} to {high:.4g}, not 0..1 (divide 0..255 by 255)")


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """An image in 0..1 (any layout) as ``uint8`` 0..255, rounded, on the CPU."""
    return (image.detach().float().clamp(0, 1).cpu().numpy() * 255).round().astype(np.uint8)


def to_channels_first(image: torch.Tensor) -> torch.Tensor:
    """IMAGE ``[B, H, W, C]`` to ``[B, 3, H, W]``, dropping alpha."""
    return image[..., :3].permute(0, 3, 1, 2).contiguous()


def to_channels_last(image: torch.Tensor) -> torch.Tensor:
    return image.permute(0, 2, 3, 1)
