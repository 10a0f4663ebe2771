"""Overview page: every namespace with traffic, its services by health, worst first.

/overview?window=5m. One click opens a namespace's topology or its list of services.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from dashboards.components.banner import error_banner, failure_banners
from dashboards.kit import (
    LIST_REFRESH_S,
    WINDOWS,
    UrlParam,
    control_bar,
    past_banner,
    register_time,
    register_url_sync,
    time_control,
    time_note,
    url_at,
    window_control,
)
from mesh.errors import MeshdashError
from presentation import numbers as fmt
from presentation import palette
from views.inventory import overview_view, parse_window
from views.params import get_one
from wiring.services import services

COUNTS = (
    ("failure", "Failing"),
    ("degraded", "Degraded"),
    ("healthy", "Healthy"),
    ("idle", "Idle"),
)


def _window(query: dict[str, Any]) -> str:
    try:
        value = get_one(query, "window", "5m")
    except MeshdashError:
        return "5m"
    return value if value in WINDOWS else "5m"


def layout(**query: Any) -> html.Div:
    """/overview?window=5m[&at=UNIX]"""
    at = url_at(query)
    return html.Div(
        [
            html.H2("Namespaces, worst first"),
            control_bar(
                [
                    window_control("ov-window", WINDOWS, _window(query)),
                    time_control("ov", at),
                    html.Span(
                        time_note(at, LIST_REFRESH_S),
                        id="ov-refresh-note",
                        className="md-hint md-controls-note",
                    ),
                ]
            ),
            past_banner("ov", at),
            html.Div(id="ov-banner"),
            dcc.Loading(html.Div(id="ov-table"), type="dot", delay_show=400),
            dcc.Interval(id="ov-interval", interval=LIST_REFRESH_S * 1000, disabled=at is not None),
            dcc.Store(id="ov-at", data=at),
            html.Div(id="ov-url-sink", hidden=True),
        ],
        className="md-page md-page-overview",
    )


def _count_cell(state: str, n: int) -> html.Td:
    cls = f"md-count md-count-{state}" + (" md-count-zero" if n == 0 else "")
    return html.Td(str(n), className=cls)


def _errors(ns: dict[str, Any]) -> Any:
    """The served error ratio; for a namespace that only sends (a gateway's), the ratio of what
    it sends, said so, since that is what its health was judged on."""
    if ns["rps_served"] > 0:
        return fmt.percent(ns["error_rate"], 2)
    if ns["rps_out"] > 0:
        return [fmt.percent(ns["sent_error_rate"], 2), html.Span(" of sent", className="md-hint")]
    return "–"


def _row(ns: dict[str, Any]) -> html.Tr:
    health = ns["health"] if ns["has_traffic"] else "idle"
    label = palette.HEALTH_LABELS[health] if ns["has_traffic"] else "No traffic"
    note = None
    if ns["in_kubernetes"] is False:
        note = html.Span("not in Kubernetes", className="md-hint md-ov-note")
    served = ns["rps_served"] > 0
    return html.Tr(
        [
            html.Td(
                [html.A(ns["namespace"], href=ns["links"]["list"], className="md-ov-name"), note],
            ),
            html.Td(html.Span(label, className=f"md-chip md-chip-{health}")),
            *[_count_cell(state, ns["counts"][state]) for state, _ in COUNTS],
            html.Td(fmt.rps(ns["rps_in"]), className="md-num"),
            html.Td(fmt.rps(ns["rps_served"]), className="md-num"),
            html.Td(fmt.rps(ns["rps_out"]), className="md-num"),
            html.Td(_errors(ns), className="md-num"),
            html.Td(fmt.percent(ns["error_rate_4xx"], 2) if served else "–", className="md-num"),
            html.Td(
                [
                    html.A("Topology", href=ns["links"]["topology"]),
                    html.A("List", href=ns["links"]["list"]),
                ],
                className="md-ov-links",
            ),
        ],
        className=f"md-ov-row md-row-{health}",
        **{"data-namespace": ns["namespace"]},
    )


def overview_table(body: dict[str, Any]) -> html.Div:
    rows = body["namespaces"]
    if not rows:
        return html.Div(
            f"No traffic in any namespace in the last {body['window']}: "
            "nothing is calling anything, or Prometheus holds no Istio series.",
            className="md-empty md-card",
            id="ov-empty",
        )
    head = html.Tr(
        [
            html.Th("Namespace"),
            html.Th("Health"),
            *[html.Th(label, className="md-num") for _, label in COUNTS],
            html.Th("Entering", className="md-num", title="requests/s from other namespaces"),
            html.Th("Served", className="md-num", title="requests/s its services answered"),
            html.Th("Leaving", className="md-num", title="requests/s to other namespaces"),
            html.Th("Errors", className="md-num", title="5xx, no response, gRPC errors"),
            html.Th("4xx", className="md-num"),
            html.Th("Open"),
        ]
    )
    return html.Div(
        html.Table([html.Thead(head), html.Tbody([_row(ns) for ns in rows])], className="md-table"),
        className="md-card md-table-card",
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("ov-table", "children"),
        Output("ov-banner", "children"),
        Input("ov-window", "value"),
        Input("ov-interval", "n_intervals"),
        State("ov-at", "data"),
    )
    def refresh(window, _n, at):
        args = {"window": window, **({"at": at} if at else {})}
        try:
            body = overview_view(services(), parse_window(args))
        except MeshdashError as e:
            return None, error_banner(e)
        labels = {"kubernetes": "namespaces without traffic"}
        return overview_table(body), failure_banners(body["failures"], labels) or None

    register_time(app, "ov")
    register_url_sync(
        app,
        "ov-url-sink",
        [UrlParam("window", "ov-window", how="always"), UrlParam("at", "ov-at", "data")],
    )
