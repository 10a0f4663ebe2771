"""Links between pages that carry the view's state (namespace, window) across."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def page_link(path: str, **params: Any) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", [])}
    return f"{path}?{urlencode(clean, doseq=True)}" if clean else path


def service_link(namespace: str, service: str, window: str) -> str:
    return page_link("/service", namespace=namespace, service=service, window=window)


def workload_link(namespace: str, workload: str, window: str) -> str:
    return page_link("/workload", namespace=namespace, workload=workload, window=window)


def traces_link(namespace: str, service: str, window: str) -> str:
    return page_link("/traces", namespace=namespace, service=service, lookback=window)


def topology_link(namespaces: list[str], window: str, **extra: Any) -> str:
    return page_link("/", namespace=namespaces, window=window, **extra)
