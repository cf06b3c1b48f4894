"""Training a generator for one style on random masks (every region in every mask), atomic checkpoints, exact resume.

Every step's random masks and noise are drawn from (seed, step) alone, and the Adam moments and step count
are saved in the checkpoint, so a run interrupted at any step and resumed ends where an uninterrupted run
would (within floating-point noise).

``settings`` holds what a run may be, ``state`` where a run stands (what a checkpoint keeps), ``loop`` the
steps; each imports only those before it.
"""

from .loop import TrainingBlewUp, train_checked, train_generator
from .settings import TrainSettings, validate_training

__all__ = ["TrainSettings", "TrainingBlewUp", "train_checked", "train_generator", "validate_training"]
