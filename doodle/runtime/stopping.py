"""SIGTERM (``kill``, a scheduler's stop, torchrun stopping its workers) stops a command as Ctrl-C does: a
training run saves its checkpoint, the command says so in one line and exits with the signal's status.

Only the first signal stops the work; later ones (torchrun sends SIGTERM to workers that the terminal's Ctrl-C
already reached) are ignored while it cleans up, so they cannot cut the checkpoint short. SIGKILL still ends it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """Raised where the work was when the signal came, so everything that cleans up after Ctrl-C runs."""

    def __init__(self, number: int) -> None:
        super().__init__(f"stopped by signal {number}")
        self.number = number


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """The first of SIGINT and SIGTERM raises :class:`Stopped` in the block, later ones are ignored (in the
    main thread, where Python handles signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def stop(number: int, frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise Stopped(number)

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def exit_status(stop: KeyboardInterrupt) -> int:
    """The status a shell gives a command its signal ended: 128 + the signal's number (130 for Ctrl-C)."""
    return 128 + (stop.number if isinstance(stop, Stopped) else signal.SIGINT)
