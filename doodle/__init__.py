"""doodle: neural doodles (semantic style transfer) in plain PyTorch, usable with or without ComfyUI.

See :mod:`doodle.api` for the Python API and ``python -m doodle --help`` for the command line.
"""

from .errors import DoodleError
from .maps.regions import RegionMasks

__all__ = ["DoodleError", "RegionMasks"]
