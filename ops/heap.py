"""The process's start-up heap, left out of the garbage collector's full passes.

A graph refresh allocates hundreds of thousands of containers (records, the graph, its JSON).
Each time enough of them outlive the young generations, CPython scans every tracked object,
the app's own start-up objects (Dash, its layouts, the libraries: about 160,000) included: one
or two full passes per 1,000-workload refresh, 0.1-0.27 s against a 2-2.5 s floor (issue 16).
Those objects live as long as the process, so once the app is built they are frozen
(gc.freeze, as large Python services do): a full pass then scans only what came later,
0.03-0.05 s. Called by the process entry points (wsgi.py, app.main), never by create_app, which
tests call hundreds of times in one process.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect what start-up left unreachable, then freeze the rest; how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
