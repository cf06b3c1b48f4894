"""Leaving the host's inference mode: ComfyUI runs every prompt under ``torch.inference_mode()``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def gradients_enabled() -> Iterator[None]:
    """Autograd on, inference mode off, for optimisation and training.

    Tensors made under inference mode cannot be saved for backward, so work done here must also ``clone()``
    its inputs (see :func:`normal_tensor`), and networks must be built inside this context.
    """
    with torch.inference_mode(False), torch.enable_grad():
        yield


def normal_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """A copy that autograd may save, even if ``tensor`` was made under inference mode."""
    with torch.inference_mode(False):
        return tensor.detach().clone()
