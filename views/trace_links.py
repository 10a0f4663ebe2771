"""Links between the trace pages and the others (a trace's path on the topology, a node's traces)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from views.traces import DEFAULT_LOOKBACK


def page_link(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def topology_highlight_link(
    path: dict[str, list], namespaces: list[str] | None = None, at: float | None = None
) -> str:
    """`/?namespace=...&highlight=a/b,c/d&at=UNIX`: the topology with a trace's path
    highlighted, at the trace's time (`at`: its end, rounded up to the second, so the window
    the topology shows holds the trace's own requests)."""
    nodes = path.get("nodes") or []
    ns = namespaces or sorted({n.split("/", 1)[0] for n in nodes if "/" in n})
    when = None if at is None else str(math.ceil(at))
    return page_link("/", namespace=ns, highlight=",".join(nodes), at=when)


def traces_search_link(
    namespace: str, service: str, lookback: str = DEFAULT_LOOKBACK, **extra: Any
) -> str:
    """`/traces?namespace=NS&service=SVC&lookback=WINDOW`: from a topology node to its traces."""
    return page_link("/traces", namespace=namespace, service=service, lookback=lookback, **extra)
