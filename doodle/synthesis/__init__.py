"""Region-guided patch synthesis: any painting's doodle painted in seconds, with the painting's own strokes."""

from .settings import DEFAULT_SYNTHESIS, PRESETS, SynthesisSettings
from .synthesize import Synthesis, synthesize, synthesize_traced

__all__ = ["DEFAULT_SYNTHESIS", "PRESETS", "Synthesis", "SynthesisSettings", "synthesize", "synthesize_traced"]
