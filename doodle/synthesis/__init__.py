"""Region-guided patch synthesis: any painting's doodle painted in seconds, with the painting's own strokes."""

from .settings import DEFAULT_SYNTHESIS, PRESETS, SynthesisSettings
from .synthesize import synthesize

__all__ = ["DEFAULT_SYNTHESIS", "PRESETS", "SynthesisSettings", "synthesize"]
