"""Background loops that end before the interpreter does.

A daemon thread still running while Python finalises may hold stderr's lock when the runtime
needs it (a log line from a round that failed because its backend went away), and the process
aborts after its work is done. Each loop therefore waits on an event rather than sleeping, and
an exit hook sets that event and joins the thread.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("meshdash.background")

STOP_WAIT_S = 5.0


class BackgroundLoop:
    """Run `step` after `first_after` seconds, then every `every(n)` seconds, until `step`
    returns True or `stop()` is called. `every` takes the round number (0, 1, …) so a caller can
    back off."""

    def __init__(
        self,
        name: str,
        step: Callable[[], bool],
        every: Callable[[int], float],
        *,
        first_after: float = 0.0,
        log: logging.Logger = log,
    ) -> None:
        self.name = name
        self._first_after = first_after
        self._log = log  # the owner's logger: a failed round is logged under its name
        self._step = step
        self._every = every
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundLoop:
        atexit.register(self.stop)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, wait_s: float = STOP_WAIT_S) -> None:
        """Ask the loop to end and wait for its round in flight (bounded)."""
        self._stopped.set()
        atexit.unregister(self.stop)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait_s)

    def wait(self, seconds: float) -> bool:
        """Sleep that a stop interrupts; True when stopped."""
        return self._stopped.wait(seconds)

    def _run(self) -> None:
        round_no = 0
        if self._stopped.wait(self._first_after):
            return
        while True:
            try:
                if self._step():
                    return
            except Exception:  # the loop must outlive any one failure
                self._log.exception("%s: a round failed", self.name)
            if self._stopped.wait(self._every(round_no)):
                return
            round_no += 1
