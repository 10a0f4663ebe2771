"""Links between pages that carry the view's state (namespace, window, time) across.

`at` (UNIX seconds, None for now) travels with every link so that following one while looking
at the past stays at the same instant instead of jumping back to now.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def page_link(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def service_link(namespace: str, service: str, window: str, at: str | None = None) -> str:
    return page_link("/service", namespace=namespace, service=service, window=window, at=at)


def workload_link(namespace: str, workload: str, window: str, at: str | None = None) -> str:
    return page_link("/workload", namespace=namespace, workload=workload, window=window, at=at)


def traces_link(namespace: str, service: str, window: str, at: str | None = None) -> str:
    """The trace search over the same window, ending at the same instant."""
    return page_link("/traces", namespace=namespace, service=service, lookback=window, at=at)


def topology_link(namespaces: list[str], window: str, **extra: Any) -> str:
    return page_link("/", namespace=namespaces, window=window, **extra)
