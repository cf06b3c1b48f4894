"""SIGTERM (``kill``, a scheduler's stop, a closing terminal's host) stops a command as Ctrl-C does: a training
run saves its checkpoint, the command says so in one line and exits with the signal's status."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Stopped(KeyboardInterrupt):
    """Raised where the work was when the signal came, so everything that cleans up after Ctrl-C runs."""

    def __init__(self, number: int) -> None:
        super().__init__(f"stopped by signal {number}")
        self.number = number


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Stopped` in the block (in the main thread, where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: object) -> None:
        raise Stopped(number)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_status(stop: KeyboardInterrupt) -> int:
    """The status a shell gives a command its signal ended: 128 + the signal's number (130 for Ctrl-C)."""
    return 128 + (stop.number if isinstance(stop, Stopped) else signal.SIGINT)
