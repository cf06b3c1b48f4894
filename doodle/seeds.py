"""Seeds: one range everywhere, ComfyUI's seed widget's, and never reduced onto another seed."""

from __future__ import annotations

from .errors import DoodleError

MAX_SEED = 2**64 - 1
"""The largest seed: random state is 64 bits, so a larger one could only wrap onto a smaller one's."""


def check_seed(seed: int) -> None:
    """Refuse a seed outside 0..MAX_SEED (or not a whole number)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise DoodleError(f"seed must be a whole number from 0 to {MAX_SEED} (2**64 - 1), got {seed!r}")
