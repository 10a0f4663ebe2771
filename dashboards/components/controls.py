"""The labelled control every page's control bar is made of."""

from __future__ import annotations

from dash import html


def control(label: str, component, wide: bool = False) -> html.Label:
    return html.Label(
        [html.Span(label, className="md-control-label"), component],
        className="md-control md-control-wide" if wide else "md-control",
    )
