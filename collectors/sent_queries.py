"""A query function that counts what it sends, so an answer's `queries` is a count, not a promise.

The graph, the service history and the canary analysis each report how many queries their
answer cost every metrics endpoint (the `queries` field of /api/graph, /api/history and
/api/canary). Counting the calls as they go out keeps that figure true if a query is added,
dropped or skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class CountingQuery:
    """Wraps one query function (instant or range); `sent` is how many times it was called."""

    def __init__(self, send: Callable[..., list[Any]]) -> None:
        self._send = send
        self.sent = 0

    def __call__(self, *args: Any) -> list[Any]:
        self.sent += 1
        return self._send(*args)
