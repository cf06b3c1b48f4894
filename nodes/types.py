"""Socket types shared by the doodle nodes."""

from comfy_api.latest import io

from ..doodle.seeds import MAX_SEED

DoodleMasks = io.Custom("DOODLE_MASKS")
"""A :class:`doodle.regions.RegionMasks`: one-hot masks [B, R, H, W] and their palette [R, 3]."""

DoodleGenerator = io.Custom("DOODLE_GENERATOR")
"""A :class:`doodle.generator_file.GeneratorBundle`: a trained generator with its palette and history."""

CATEGORY = "doodle"
SEED_MAX = MAX_SEED
