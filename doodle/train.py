"""Deprecated alias: ``doodle.train`` is :mod:`doodle.training` now; this name goes in the next release."""

import warnings

from .training import *  # noqa: F403
from .training import __all__  # noqa: F401

warnings.warn(
    "doodle.train is now doodle.training; the old name goes in the next release", DeprecationWarning, stacklevel=2
)
