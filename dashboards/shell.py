"""The frame around every page: brand, navigation and the data-source badge."""

from __future__ import annotations

from dash import html

from services import Services


def header(services: Services) -> html.Header:
    from dashboards import PAGES

    links = [
        html.A(page.title, href=page.path, className="md-nav-link", id=f"nav-{page.title.lower()}")
        for page in PAGES
        if page.nav
    ]
    if services.mode == "demo":
        badge = html.Span(
            "DEMO DATA · simulated Bookinfo",
            className="md-badge md-badge-demo",
            id="mode-badge",
            title="No backend configured: everything shown comes from the embedded simulator.",
        )
    else:
        badge = html.Span(
            f"LIVE · {services.telemetry.name}",
            className="md-badge md-badge-live",
            id="mode-badge",
        )
    return html.Header(
        [
            html.A(
                [html.Span("◆", className="md-logo"), "meshdash"], href="/", className="md-brand"
            ),
            html.Nav(links, className="md-nav"),
            html.Div(badge, className="md-header-right"),
        ],
        className="md-header",
    )
