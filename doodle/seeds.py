"""Seeds: one range everywhere, ComfyUI's seed widget's, and never reduced onto another seed."""

from __future__ import annotations

from .declared import check_range

MAX_SEED = 2**64 - 1
"""The largest seed: random state is 64 bits, so a larger one could only wrap onto a smaller one's."""


def check_seed(seed: int) -> None:
    """Refuse a seed outside 0..MAX_SEED (or not a whole number)."""
    check_range("seed", seed, 0, MAX_SEED, whole=True)
