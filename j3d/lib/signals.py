"""Stopping a long-running command on SIGTERM/SIGINT without deadlocking it.

A Python signal handler runs on the main thread between two bytecodes, possibly while that thread
holds a lock: ``threading.Event.wait`` holds its condition's (non-reentrant) lock around the wait,
so an ``Event.set()`` in the handler can wait on its own thread forever. The printer link did,
now and then, under load: SIGTERM left it running. The handler here only flips a flag, which the
command's loop reads within one tick.
"""

from __future__ import annotations

import signal
import time
from types import FrameType


class StopRequest:
    """Set once SIGTERM or SIGINT arrives (after :meth:`install`); read with ``requested``."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> StopRequest:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True  # nothing that takes a lock: see the module's docstring

    def wait(self, poll_seconds: float = 0.2) -> None:
        """Block until a stop is requested (sleep is interrupted by the signal, then re-checks)."""
        while not self.requested:
            time.sleep(poll_seconds)
