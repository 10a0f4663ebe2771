"""The topology's summary cards: what enters the shown namespaces, how much of it fails, how
many nodes are red or amber, how much runs in plain text, and when and from where."""

from __future__ import annotations

import time
from typing import Any

from dash import html

from presentation import numbers as fmt

MAX_NAMED = 2  # more namespaces than this are counted, not listed, on a card


def shown_namespaces(namespaces: list[str]) -> str:
    if len(namespaces) <= MAX_NAMED:
        return ", ".join(namespaces)
    return f"{len(namespaces)} namespaces"


def requests_title(entering: dict[str, Any], namespaces: str) -> str:
    return (
        f"Requests per second entering {namespaces} from outside: ingress gateways, other "
        "namespaces, callers outside the mesh; each request once. Adding up every edge "
        f"({fmt.rps(entering.get('all_edges_rps'))}) would count a request once per hop."
    )


def entering_cards(graph: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(key, label, value, title) of the Requests and Errors cards: the traffic entering the
    shown namespaces (views/graph.py `entering`). No edge at all is no figure, not 0 rps."""
    entering = graph.get("entering") or {}
    names = shown_namespaces(list(entering.get("namespaces") or graph.get("namespaces") or []))
    drawn = bool(graph.get("edges"))
    rps = entering.get("rps") if drawn else None
    return [
        ("requests", f"Requests entering {names}", fmt.rps(rps), requests_title(entering, names)),
        (
            "errors",
            "Errors in those",
            fmt.percent(entering.get("error_rate"), 2),
            "Share of the entering requests that failed: HTTP 5xx, no response, gRPC errors "
            "(4xx are client errors, not counted). '–' when nothing enters.",
        ),
    ]


def plaintext(security: dict[str, Any]) -> str:
    """The share of requests (else TCP bytes) without mTLS, or say there is no data."""
    share = security.get("plaintext_share")
    if share is not None:
        return fmt.percent(share, 1)  # of the requests whose destination reported it
    share = security.get("plaintext_bps_share")
    if share is not None:
        return f"{fmt.percent(share, 1)} (TCP)"
    return "not enough data"


PLAINTEXT_TITLE = (
    "Share of the requests (TCP bytes when there are none) that destinations received without "
    "mutual TLS, over the edges whose destination reports it"
)


def source_note(graph: dict[str, Any]) -> tuple[str, str]:
    """Where the figures come from, in words, and the query count for whoever hovers."""
    if graph.get("source") == "demo":
        return "simulated data", "The embedded Bookinfo simulator: no backend is configured."
    endpoints = graph.get("endpoints") or 1
    words = f"Prometheus, {endpoints} clusters" if endpoints > 1 else "Prometheus"
    each = f" to each of {endpoints} cluster endpoints" if endpoints > 1 else ""
    return words, f"{graph.get('queries')} PromQL queries{each} per refresh"


def summary_cards(graph: dict[str, Any]) -> list:
    """The cards, then the note; nothing drawn is no figures at all (the graph pane says why),
    never a row of zeros."""
    nodes = graph["nodes"]
    failing = sum(1 for n in nodes if n.get("health") == "failure")
    degraded = sum(1 for n in nodes if n.get("health") == "degraded")
    items = [
        *entering_cards(graph),
        ("nodes", "Nodes", str(len(nodes)), None),
        ("edges", "Edges", str(len(graph["edges"])), None),
        (
            "failing",
            "Failing",
            str(failing),
            "Nodes whose errors are at or above the failure thresholds",
        ),
        (
            "degraded",
            "Degraded",
            str(degraded),
            "Nodes whose errors are above the degraded thresholds",
        ),
        ("plain-text", "Plain text", plaintext(graph.get("security") or {}), PLAINTEXT_TITLE),
    ]
    stats: list = [
        html.Div(
            [
                html.Span(value, className="md-stat-value"),
                html.Span(label, className="md-stat-label"),
            ],
            className=f"md-stat md-stat-{key}",
            title=title,
        )
        for key, label, value, title in items
        if nodes
    ]
    stamp = time.strftime("%H:%M:%S UTC", time.gmtime(graph["at"]))
    words, detail = source_note(graph)
    stats.append(
        html.Div(
            f"as of {stamp} · last {graph['window']} · {words}",
            className="md-summary-note",
            id="topo-updated",
            title=detail,
        )
    )
    return stats
