"""Out-of-memory as a clear DoodleError: memory released, and a hint at what to make smaller."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import torch

from ..errors import DoodleError


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA raises torch.OutOfMemoryError; the CPU allocator raises a RuntimeError that says so."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
    )


@contextlib.contextmanager
def out_of_memory_as_error(what: str, hint: str) -> Iterator[None]:
    """Turn an out-of-memory failure inside the block into ``DoodleError(f"out of memory {what}: {hint}")``."""
    try:
        yield
    except (RuntimeError, torch.OutOfMemoryError) as error:
        if not is_out_of_memory(error):
            raise
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise DoodleError(f"out of memory {what}: {hint}") from error
