"""The frame around every page: brand, navigation (the current page marked), the data-source
badge, and the app's own 404 page with links back."""

from __future__ import annotations

import json

import dash
from dash import Input, Output, html

from wiring.services import Services

# Pages reached from another page's entry (their nav entry stays marked while on them).
NAV_PARENT: dict[str, str] = {
    "/service": "/list",
    "/workload": "/list",
    "/traces/view": "/traces",
}


def nav_pages() -> list:
    from dashboards import PAGES

    return [page for page in PAGES if page.nav]


def nav_id(title: str) -> str:
    return f"nav-{title.lower()}"


def current_nav(pathname: str | None) -> str | None:
    """The nav entry's path that `pathname` belongs to, or None (a page not in the nav)."""
    path = "/" + (pathname or "/").strip("/")
    path = NAV_PARENT.get(path, path)
    return path if any(p.path == path for p in nav_pages()) else None


def header(services: Services) -> html.Header:
    links = [
        html.A(page.title, href=page.path, className="md-nav-link", id=nav_id(page.title))
        for page in nav_pages()
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


def not_found_layout(**_query: object) -> html.Div:
    """Dash's bare "404 - Page not found" replaced: the app's frame stays, with ways back."""
    return html.Div(
        [
            html.H2("Page not found", id="not-found-title"),
            html.P(
                "There is no meshdash page at this address. It may be a mistyped or old link.",
                className="md-hint",
            ),
            html.Ul(
                [
                    html.Li(html.A(page.title, href=page.path, className="md-not-found-link"))
                    for page in nav_pages()
                ],
                className="md-not-found-links",
                id="not-found-links",
            ),
        ],
        className="md-page md-card md-not-found",
    )


def register_shell(app: dash.Dash) -> None:
    """The 404 page and the navigation's current-page mark, once per app."""
    dash.register_page("not_found_404", path="/404", title="Not found", layout=not_found_layout)
    pages = nav_pages()
    parents, entries = json.dumps(NAV_PARENT), json.dumps([p.path for p in pages])
    data = f"const parents = {parents}; const entries = {entries};"
    app.clientside_callback(
        "function(pathname) {"
        + data
        + """
            let path = '/' + (pathname || '/').replace(/^\\/+|\\/+$/g, '');
            path = parents[path] || path;
            return entries.map(p => p === path ? 'md-nav-link md-nav-current' : 'md-nav-link');
        }""",
        [Output(nav_id(p.title), "className") for p in pages],
        Input("shell-url", "pathname"),
    )
