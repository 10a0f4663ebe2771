"""The garbage collector's pace for a process that builds large graphs.

A graph refresh of a big mesh allocates millions of short-lived objects (decoded rows, records,
the graph's dicts) and next to no reference cycles. At CPython's default pace, a young
collection every 700 allocations and a full one every 100 young ones, the collector walked them
for 0.4-0.9 s of a 2 s build at 5,000 workloads (README, "Graph refresh at scale"). Collections
stay on; they run less often.
"""

from __future__ import annotations

import gc

YOUNG = 50_000  # allocations between young collections (default 700)
MIDDLE = 20  # young collections between middle ones (default 10)
OLD = 100  # middle collections between full ones (default 10)


def pace_collector() -> None:
    """Set the pace once per process (idempotent)."""
    gc.set_threshold(YOUNG, MIDDLE, OLD)
