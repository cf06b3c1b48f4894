"""One writer per output file: a second process or thread that would write the same file is refused at once,
so two runs never take turns replacing each other's checkpoints.

The lock is an exclusive ``flock`` (on Windows, ``msvcrt.locking``) on a hidden file beside the output, removed
when released; the kernel drops it with the process, so a killed run leaves nothing that blocks the next one.
Within one thread the lock is re-entrant: a command that holds it may save its output through code that takes
it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import DoodleError

_held: dict[Path, tuple[int, int, int, list[Path]]] = {}
"""Lock files this process holds: (owning thread, depth, descriptor, the folders made for it)."""
_guard = threading.Lock()


@contextlib.contextmanager
def exclusive_output(path: str | Path | None, what: str) -> Iterator[None]:
    """Hold the right to write ``path`` for the block, or raise a DoodleError if another process or thread
    holds it; ``what`` names the file in the message. None (a run that writes no file) holds nothing."""
    if path is None:
        yield
        return
    lock = lock_path(path)
    thread = threading.get_ident()
    with _guard:
        owner, depth, descriptor, made = _held.get(lock, (thread, 0, -1, []))
        if owner != thread:
            raise _busy(path, what)
        if depth == 0:
            made = [folder for folder in (lock.parent, *lock.parent.parents) if not folder.exists()]
            descriptor = _acquire(lock, path, what)
        _held[lock] = (thread, depth + 1, descriptor, made)
    try:
        yield
    finally:
        with _guard:
            owner, depth, descriptor, made = _held.pop(lock)
            if depth > 1:
                _held[lock] = (owner, depth - 1, descriptor, made)
            else:
                with contextlib.suppress(OSError):  # Windows keeps an open file; the next writer reuses it
                    os.unlink(lock)
                os.close(descriptor)
                for folder in made:  # deepest first; one the output went into is not empty, and stays
                    with contextlib.suppress(OSError):
                        folder.rmdir()


def lock_path(path: str | Path) -> Path:
    """The hidden lock file of ``path``: in its folder (so every spelling of the path shares it), with a short
    name, so any name the system allows for ``path`` works."""
    path = Path(path).resolve()
    return path.with_name(f".doodle-{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]}.lock")


def _acquire(lock: Path, path: str | Path, what: str) -> int:
    """An open descriptor of ``lock`` holding its exclusive lock; the file is made (and its folder) if need be."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        while True:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                _lock(descriptor)
            except OSError as error:
                os.close(descriptor)
                raise _busy(path, what) from error
            with contextlib.suppress(FileNotFoundError):
                if os.fstat(descriptor).st_ino == os.stat(lock).st_ino:
                    return descriptor
            os.close(descriptor)  # the last holder removed the file after it was opened here: try anew
    except OSError as error:
        raise DoodleError(f"could not make the lock file {lock} for {what} ({error.strerror or error})") from error


def _lock(descriptor: int) -> None:
    """Take ``descriptor``'s exclusive lock without waiting; an OSError if someone holds it."""
    if os.name == "nt":
        import msvcrt

        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _busy(path: str | Path, what: str) -> DoodleError:
    return DoodleError(
        f"another run is writing {what} to {path}: wait for it to finish, or choose another name for this one"
    )
