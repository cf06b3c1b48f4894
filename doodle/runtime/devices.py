"""Torch devices named by a user: checked once, with a message, before any work moves onto them."""

from __future__ import annotations

import torch

from ..errors import DoodleError


def checked_device(name: str | torch.device) -> torch.device:
    """``name`` as a device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...), or a DoodleError."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise DoodleError(f"unknown device {str(name)!r}: use cpu, cuda, cuda:N or mps") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DoodleError(f"device {str(name)!r} asks for CUDA, but this machine has no usable CUDA GPU: use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DoodleError(f"device {str(name)!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DoodleError(f"device {str(name)!r} asks for Apple's MPS, which this machine lacks: use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise DoodleError(f"device {str(name)!r}: doodle runs on cpu, cuda or mps")
    return device
