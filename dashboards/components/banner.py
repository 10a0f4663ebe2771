"""Error banners: every failure a page meets is shown as one, never as a traceback."""

from __future__ import annotations

import logging

from dash import html

from mesh.errors import BackendError, BackendTimeout, BadRequest, MeshdashError

log = logging.getLogger("meshdash.pages")


def error_banner(exc: Exception) -> html.Div:
    """A banner naming what failed and why, in words an on-call engineer can act on."""
    if isinstance(exc, BadRequest):
        title, text, kind = "Invalid input", exc.message, "warning"
    elif isinstance(exc, BackendTimeout):
        title, text, kind = f"{exc.backend.capitalize()} timed out", exc.cause, "error"
    elif isinstance(exc, BackendError):
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


def info_banner(text: str) -> html.Div:
    return html.Div(text, className="md-banner md-banner-info", role="status")
