"""How one synthesis runs: the knobs a user sets, each declared once, and the presets' search effort."""

from __future__ import annotations

from dataclasses import dataclass

from ..declared import check_declared, declared
from ..errors import DoodleError
from ..limits import MAX_SEED


@dataclass(frozen=True)
class Effort:
    """How hard each pyramid level is searched."""

    em_iterations: int
    """Search-then-vote rounds per level (the finest gets ``finest_em_iterations``)."""
    finest_em_iterations: int
    search_iterations: int
    """PatchMatch passes (propagation and random search) per round."""


PRESETS: dict[str, Effort] = {
    "fast": Effort(em_iterations=2, finest_em_iterations=0, search_iterations=1),
    "balanced": Effort(em_iterations=3, finest_em_iterations=2, search_iterations=2),
    "best": Effort(em_iterations=6, finest_em_iterations=4, search_iterations=3),
}
MAX_STROKE_SCALE = 4.0
MAX_SOURCE_PIXELS = 4096 * 4096
"""The painting's pixels after ``stroke_scale``: the search holds a few numbers per painting pixel."""
MAX_TARGET_PIXELS = 4096 * 4096
"""The doodle's pixels: as many as L-BFGS paints."""


@dataclass(frozen=True, kw_only=True)
class SynthesisSettings:
    """Region-guided patch synthesis; checked when made."""

    preset: str = declared(
        "balanced",
        "search effort: fast (for live painting), balanced, or best (about three times balanced's time)",
        choices=tuple(PRESETS),
    )
    seed: int = declared(
        0, "random seed: another seed, another arrangement of the painting's pieces", low=0, high=MAX_SEED
    )
    patch_size: int = declared(
        5,
        "side in pixels of the painting's pieces (odd): larger keeps larger brush marks whole, smaller follows "
        "the doodle's shapes more closely",
        low=3,
        high=15,
    )
    uniformity: float = declared(
        0.03,
        "how strongly every part of a painting's region is used about equally often: higher shows more of the "
        "painting's variety, 0 lets the best-fitting pieces repeat",
        low=0.0,
        high=1.0,
        step=0.01,
    )
    guide_weight: float = declared(
        1.0,
        "how much a piece's place in its region (how near which border) counts beside its colours: higher "
        "keeps what lies along a border in the painting along the same border in the doodle",
        low=0.0,
        high=20.0,
        step=0.1,
    )
    stroke_scale: float = declared(
        1.0,
        "size of the painting's strokes in the result: 1 their own size, 2 twice as large, 0.5 half",
        low=0.25,
        high=MAX_STROKE_SCALE,
        step=0.05,
    )

    def __post_init__(self) -> None:
        check_declared(self)
        if self.patch_size % 2 == 0:
            raise DoodleError(f"patch_size must be odd (a piece has a centre pixel), got {self.patch_size}")

    @property
    def effort(self) -> Effort:
        return PRESETS[self.preset]


DEFAULT_SYNTHESIS = SynthesisSettings()
