"""Files written whole or not at all: a crash, a Cancel or a full disk never leaves half of one behind."""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import DoodleError

PLACE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})
"""Errors the user fixes by freeing space or choosing another folder (not, say, a format the writer lacks)."""


def check_writable(path: str | Path, what: str) -> Path:
    """Refuse, before any work, a ``path`` where :func:`write_atomically` could not put ``what``: an empty name,
    a folder, or a place where no file can be created (tried with a temporary file, as the write will)."""
    path = Path(path)
    if path.name in ("", ".", "..") or path.is_dir():
        raise DoodleError(f"cannot save {what} to {path}: that is a folder, not a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest folder that exists: the write creates the rest
    if not folder.is_dir():
        raise DoodleError(f"cannot save {what} to {path}: {folder} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise DoodleError(
            f"cannot save {what} to {path} ({error.strerror or error}): choose a folder you can write to"
        ) from error
    return path


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object], what: str) -> Path:
    """Write ``path`` through ``write(handle)`` into a hidden temporary file, fsync it, then rename it over
    ``path``; an earlier file at ``path`` stays as it was until then. ``what`` names the file in errors.
    The temporary file's name is short (a hash of the name), so any name the system allows for ``path`` works."""
    path = Path(path)
    temporary = path.with_name(f".doodle-{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]}.tmp")
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
