"""A page's slow first answer started when the page itself is requested.

The browser spends about half a second loading Dash, the page's layout and its first callbacks
before it asks for the topology's graph; a 1,000-workload graph then takes a second or two to
build. `register_prefetch(server, path, start)` calls `start(query)` in a thread as a GET of
`path` arrives (after the guards and the identity check, which answer refused requests
first), so the backend works while the browser loads. `start` fills a memo the page's
callback reads (views/graph.py: one build per view and instant, concurrent callers wait for
it); it returns nothing to anyone, and its failure is only logged: the callback asks again and
says what failed.

At most `limit` prefetches run at once per app; a page requested meanwhile loads as before.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable

from flask import Flask, current_app, request

log = logging.getLogger("meshdash.prefetch")

Start = Callable[[dict[str, list[str]]], None]


class Prefetches:
    """The prefetches of one app: a bounded number at once."""

    def __init__(self, start: Start, limit: int) -> None:
        self._start = start
        self._limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    def begin(self, app: Flask, query: dict[str, list[str]]) -> bool:
        """Start one in a thread; False when `limit` already run."""
        if not self._slots.acquire(blocking=False):
            return False

        def run() -> None:
            try:
                with app.app_context():
                    self._start(query)
            except Exception as exc:  # the page's own callback asks again and says it
                log.info("prefetch failed: %s", exc)
            finally:
                self._slots.release()

        # The request's context goes along: its client's quota pays for the queries (guards.py).
        # Not a daemon: a build under way when the process exits ends first (bounded by the
        # backends' deadlines) instead of writing to stderr while Python finalises.
        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(run,), name="meshdash-prefetch").start()
        return True

    def idle(self, timeout_s: float) -> bool:
        """Wait until no prefetch runs (for tests and benchmarks); False on timeout."""
        taken = 0
        try:
            for _ in range(self._limit):
                if not self._slots.acquire(timeout=timeout_s):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._slots.release()


def register_prefetch(server: Flask, path: str, start: Start, limit: int = 2) -> Prefetches:
    """Call `start(query)` in the background when `path` is requested with GET."""
    prefetches = Prefetches(start, limit)

    @server.before_request
    def _prefetch():
        if request.method == "GET" and request.path == path:
            query = {k: list(v) for k, v in request.args.lists()}
            prefetches.begin(current_app._get_current_object(), query)  # type: ignore[attr-defined]
        return None

    return prefetches
