"""Files written whole or not at all: a crash, a Cancel or a full disk never leaves half of one behind."""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..errors import DoodleError
from .locks import exclusive_output

PLACE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS})
"""Errors the user fixes by freeing space or choosing another folder (not, say, a format the writer lacks)."""
DEFAULT_NAME_LIMIT = 255
"""The longest file name, in bytes, where the system does not say (most file systems' limit)."""


def check_writable(path: str | Path, what: str) -> Path:
    """Refuse, before any work, a ``path`` where :func:`write_atomically` could not put ``what``: an empty name,
    a folder, a special file, a name too long, or a place where no file can be created (tried with a temporary
    file, as the write will)."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise DoodleError(f"cannot save {what} to {path}: that is a folder, not a file name")
    check_replaceable(path, what)
    folder = _nearest_existing(path.parent)  # the write creates the rest
    if not folder.is_dir():
        raise DoodleError(f"cannot save {what} to {path}: {folder} is a file, not a folder")
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        raise DoodleError(
            f"cannot save {what} to {path} ({error.strerror or error}): choose a folder you can write to"
        ) from error
    return path


SPECIAL_FILES = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}
"""What a path may be, besides a regular file, that a write must never replace."""


def check_replaceable(path: Path, what: str) -> None:
    """Refuse a ``path`` that a new file must not replace (a folder, a pipe, a device: anything but a regular
    file, through links) or whose name the system cannot hold; a path that does not exist yet is fine."""
    limit = _name_limit(path)
    long = next((part for part in path.parts if len(os.fsencode(part)) > limit), None)
    if long is not None:
        raise DoodleError(
            f"cannot save {what} to {path}: the name {long[:40]}... is {len(os.fsencode(long))} bytes long, "
            f"more than the {limit} this system allows: choose a shorter name"
        )
    try:
        kind = special_kind(path)
    except OSError as error:
        raise DoodleError(f"cannot save {what} to {path} ({error.strerror or error}): choose another name") from error
    if kind is not None:
        raise DoodleError(f"cannot save {what} to {path}: that is {kind}, not a file: choose a file name")


def check_readable(path: str | Path, what: str) -> None:
    """Refuse to read ``what`` from a pipe, a device or a folder, which would wait forever or fail obscurely."""
    kind = special_kind(path)
    if kind is not None:
        raise DoodleError(f"could not read {what} {path}: it is {kind}, not a file")


def special_kind(path: str | Path) -> str | None:
    """What ``path`` is (through links) where it is something other than a regular file: a folder, a pipe, a
    device; None for a regular file or nothing. A reader must not open a pipe (it waits for a writer forever),
    nor a writer replace one."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    return SPECIAL_FILES.get(stat.S_IFMT(mode))


def _nearest_existing(folder: Path) -> Path:
    """``folder``, or the nearest of its parents that exists."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _name_limit(path: Path) -> int:
    """The longest file name, in bytes, the nearest existing folder of ``path`` holds."""
    try:
        return os.pathconf(_nearest_existing(path.absolute().parent), "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows) or no answer
        return DEFAULT_NAME_LIMIT


def write_atomically(path: str | Path, write: Callable[[BinaryIO], object], what: str) -> Path:
    """Write ``path`` through ``write(handle)`` into a hidden temporary file of this writer's own, fsync it,
    then rename it over ``path``; an earlier file at ``path`` stays as it was until then. ``what`` names the
    file in errors. Another writer of ``path`` at the same time is refused (:mod:`doodle.files.locks`), and so is a
    ``path`` that is not a regular file (:func:`check_replaceable`). Through a link, the file it names is
    written and the link kept."""
    path = Path(path)
    check_replaceable(path, what)
    path = path.resolve() if path.is_symlink() else path
    temporary = path.with_name(f".doodle-{secrets.token_hex(8)}.tmp")  # short: any name allowed for path works
    try:
        with exclusive_output(path, what):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "xb") as handle:
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
