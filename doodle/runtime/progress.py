"""The seam through which long work reports progress and is stopped: the host passes a callback.

A callback receives the steps done, the total, and a function that renders a preview image ``[1, 3, H, W]``
on demand (so nothing is rendered unless the host wants to show it). To stop the work the callback raises:
ComfyUI's progress hook raises its interrupt exception, the CLI lets Ctrl-C's KeyboardInterrupt through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

Preview = Callable[[], torch.Tensor]


class Progress(Protocol):
    def __call__(self, done: int, total: int, preview: Preview | None = None) -> None: ...


def no_progress(done: int, total: int, preview: Preview | None = None) -> None:
    """The callback used when the caller passes none."""
