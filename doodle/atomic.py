"""Files written whole or not at all: a crash, a Cancel or a full disk never leaves half of one behind."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import DoodleError

PLACE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})
"""Errors the user fixes by freeing space or choosing another folder (not, say, a format the writer lacks)."""


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object], what: str) -> Path:
    """Write ``path`` through ``write(handle)`` into a hidden temporary file, fsync it, then rename it over
    ``path``; an earlier file at ``path`` stays as it was until then. ``what`` names the file in errors."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            advice = ": free some disk space or choose a writable folder" if error.errno in PLACE_ERRORS else ""
            raise DoodleError(
                f"could not save {what} to {path} ({error.strerror or error}){advice}; any earlier file there is intact"
            ) from error
        raise
    return path
