"""Workload page: the service page's charts for one workload (inbound by version, outbound calls).

Reached from the topology's side panel as /workload?namespace=NS&workload=WL&window=W.
"""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.service import WORKLOAD, page_callbacks, page_layout


def layout(**query: Any) -> html.Div:
    """/workload?namespace=NS&workload=WL&window=W[&refresh=30s][&at=UNIX]"""
    return page_layout(WORKLOAD, query)


def register_callbacks(app) -> None:
    page_callbacks(app, WORKLOAD)
