"""Error banners: every failure a page meets is shown as one, never as a traceback."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dash import html

from mesh.errors import BackendError, BackendTimeout, BadRequest, MeshdashError, NotConfigured

log = logging.getLogger("meshdash.pages")


def error_banner(exc: Exception) -> html.Div:
    """A banner naming what failed and why, in words an on-call engineer can act on."""
    if isinstance(exc, BadRequest):
        title, text, kind = "Invalid input", exc.message, "warning"
    elif isinstance(exc, BackendTimeout):
        title, text, kind = f"{exc.backend.capitalize()} timed out", exc.cause, "error"
    elif isinstance(exc, BackendError) or (isinstance(exc, NotConfigured) and exc.backend):
        # A missing metrics or trace source is worded as these roles always were.
        title, text, kind = f"{exc.backend.capitalize()} is failing", exc.cause, "error"
    elif isinstance(exc, MeshdashError):
        title, text, kind = "Cannot show this", str(exc), "warning"
    else:
        log.exception("unexpected error while rendering a page", exc_info=exc)
        title, text, kind = (
            "Internal error",
            "Something went wrong; the server log has details.",
            "error",
        )
    return html.Div(
        [html.Strong(title + ": "), html.Span(text)],
        className=f"md-banner md-banner-{kind}",
        role="alert",
    )


def failure_banners(failures: list[dict[str, Any]], labels: Mapping[str, str]) -> list[html.Div]:
    """One banner per failing backend for the parts of a page it left out, e.g. "Jaeger timed
    out: ... (not shown: where time goes by version)"; the rest of the page still draws."""
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for f in failures:
        by_backend.setdefault(f["backend"], []).append(f)
    out = []
    for backend, parts in by_backend.items():
        first = parts[0]
        missing = ", ".join(labels.get(p["section"], p["section"]) for p in parts)
        if first.get("configured", True) is False:  # not set up: a note, not an alarm
            out.append(info_banner(f"Not shown: {missing}: {first['cause']}."))
            continue
        kind = BackendTimeout if first.get("status") == 504 else BackendError
        banner = error_banner(kind(backend, first["cause"]))
        banner.children.append(html.Span(f" (not shown: {missing})", className="md-banner-note"))
        out.append(banner)
    return out


def partial_banner(parts: list[dict[str, str]]) -> html.Div | None:
    """A banner for an answer drawn without some clusters (the graph view's `partial`): it
    names each missing cluster and why, and says the rest of the graph is drawn."""
    if not parts:
        return None
    names = ", ".join(p["cluster"] for p in parts)
    plural = "s" if len(parts) > 1 else ""
    title = f"{parts[0]['backend'].capitalize()} of cluster{plural} {names} is failing: "
    causes = "; ".join(p["cause"] for p in parts)
    return html.Div(
        [
            html.Strong(title),
            html.Span(f"{causes}. The graph shows the other clusters only."),
        ],
        className="md-banner md-banner-warning md-banner-partial",
        role="alert",
    )


def info_banner(text: str) -> html.Div:
    return html.Div(text, className="md-banner md-banner-info", role="status")
