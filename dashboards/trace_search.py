"""Trace search page (/traces): find requests by service, operation, tags, duration and time.

The search lives in the URL (same keys as GET /api/traces), so a pasted link reruns it. Results
show as a scatter (start time x duration; size by span count, red when a span failed) and a list;
both lead to the trace page.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update

from dashboards.components.banner import error_banner, info_banner
from dashboards.kit import (
    control,
    control_bar,
    past_banner,
    register_time,
    register_url_from_query,
    time_control,
    url_at,
    window_control,
)
from mesh.errors import MeshdashError, NotConfigured
from presentation import numbers as fmt
from presentation import palette
from presentation.charts import plotly_text
from views.params import get_one
from views.trace_links import page_link
from views.traces import (
    DEFAULT_LIMIT,
    DEFAULT_LOOKBACK,
    operations_of,
    parse_search_params,
    search_view,
    service_catalog,
)
from wiring.services import TRACES, services

LOOKBACKS = ("5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "2d", "7d")
ERROR_COLOR = palette.HEALTH_COLORS["failure"]
OK_COLOR = palette.ACCENT
FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"


def trace_banner(exc: Exception):
    """No trace backend is a configuration fact, not a failure: say so, and how to fix it."""
    if isinstance(exc, NotConfigured) and exc.role == "traces":
        return info_banner(
            "Tracing is not configured: start meshdash with --jaeger URL (or set"
            " MESHDASH_JAEGER_URL) to search traces."
        )
    return error_banner(exc)


def _q(query: dict[str, Any], key: str, default: str = "") -> str:
    try:
        return get_one(query, key, default) or default
    except MeshdashError:
        return default


def _filters(query: dict[str, Any], catalog: dict[str, list[str]], namespace: str) -> html.Div:
    """The search form: where, what, how long, how many."""
    service = _q(query, "service")
    lookback = _q(query, "lookback", DEFAULT_LOOKBACK)
    lookbacks = LOOKBACKS if lookback in LOOKBACKS else (*LOOKBACKS, lookback)
    apps = sorted({*catalog.get(namespace, []), *([service] if service else [])})
    operation = _q(query, "operation")
    error = _q(query, "error").lower() in ("true", "1", "on")
    return control_bar(
        [
            control(
                "Namespace",
                dcc.Dropdown(
                    id="ts-namespace",
                    options=sorted({*catalog, *([namespace] if namespace else [])}),
                    value=namespace or None,
                    clearable=False,
                    placeholder="Namespace",
                ),
            ),
            control(
                "Service",
                dcc.Dropdown(
                    id="ts-service",
                    options=apps,
                    value=service or None,
                    clearable=False,
                    placeholder="Choose a service",
                ),
            ),
            control(
                "Operation",
                dcc.Dropdown(
                    id="ts-operation",
                    options=[operation] if operation else [],
                    value=operation or None,
                    placeholder="All operations",
                ),
                wide=True,
            ),
            control(
                "Tags",
                dcc.Input(
                    id="ts-tags",
                    type="text",
                    value=_q(query, "tags"),
                    placeholder="http.status_code=503 response_flags=UF",
                    debounce=True,
                    className="md-input",
                ),
                wide=True,
            ),
            control(
                "Min duration (ms)",
                dcc.Input(
                    id="ts-min",
                    type="number",
                    min=0,
                    value=_num(_q(query, "min_duration_ms")),
                    placeholder="e.g. 100",
                    className="md-input md-input-num",
                ),
            ),
            control(
                "Max duration (ms)",
                dcc.Input(
                    id="ts-max",
                    type="number",
                    min=0,
                    value=_num(_q(query, "max_duration_ms")),
                    placeholder="any",
                    className="md-input md-input-num",
                ),
            ),
            window_control("ts-lookback", lookbacks, lookback, label="Lookback"),
            time_control("ts", url_at(query)),
            control(
                "Limit",
                dcc.Input(
                    id="ts-limit",
                    type="number",
                    min=1,
                    max=1000,
                    step=1,
                    value=_num(_q(query, "limit", str(DEFAULT_LIMIT))),
                    className="md-input md-input-num",
                ),
            ),
            dcc.Checklist(
                id="ts-error",
                options=[{"label": " Errors only", "value": "true"}],
                value=["true"] if error else [],
                className="md-check",
            ),
            html.Button("Find traces", id="ts-find", className="md-button md-button-primary"),
        ]
    )


def layout(**query: Any) -> html.Div:
    """/traces?namespace=NS&service=SVC[&operation=][&tags=][&min_duration_ms=]
    [&max_duration_ms=][&lookback=1h][&limit=20][&error=true]"""
    svc = services()
    catalog: dict[str, list[str]] = {}
    banner = None
    try:
        catalog = service_catalog(svc)
    except Exception as exc:
        banner = trace_banner(exc)
    namespace = _q(query, "namespace") or next(
        (ns for ns in svc.settings.default_namespaces if ns in catalog), next(iter(catalog), "")
    )
    return html.Div(
        [
            html.H2("Traces"),
            _filters(query, catalog, namespace),
            past_banner("ts", url_at(query)),
            html.Div(banner, id="ts-banner"),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id="ts-summary", className="md-summary"),
                        html.Div(
                            dcc.Graph(
                                id="ts-scatter",
                                figure=_empty_figure(),
                                config={"displaylogo": False, "responsive": True},
                                style={"height": "300px"},
                            ),
                            className="md-card md-ts-chart",
                            id="ts-chart-card",
                            hidden=True,
                        ),
                        html.Div(id="ts-results", className="md-ts-results"),
                    ]
                ),
                id="ts-loading",
                type="dot",
                delay_show=300,
                overlay_style={"visibility": "visible", "opacity": 0.6},
            ),
            dcc.Store(id="ts-data"),
            dcc.Store(id="ts-at", data=url_at(query)),
            dcc.Location(id="ts-nav", refresh="callback-nav"),
            html.Div(id="ts-url-sink", hidden=True),
        ],
        className="md-page md-page-traces",
    )


def _num(text: str) -> float | int | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value


def search_args(namespace, service, operation, tags, dmin, dmax, lookback, limit, error) -> dict:
    """The URL/API query of a search, without empty keys."""
    args = {
        "namespace": namespace,
        "service": service,
        "operation": operation,
        "tags": (tags or "").strip(),
        "min_duration_ms": "" if dmin in (None, "") else _fmt_num(dmin),
        "max_duration_ms": "" if dmax in (None, "") else _fmt_num(dmax),
        "lookback": lookback,
        "limit": "" if limit in (None, "") else _fmt_num(limit),
        "error": "true" if error else "",
    }
    return {k: v for k, v in args.items() if v not in (None, "")}


def _fmt_num(v: Any) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else str(f)


def _empty_figure(text: str = "") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        margin={"l": 60, "r": 20, "t": 16, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="#fff",
        font={"family": FONT, "size": 12},
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": text, "showarrow": False, "font": {"size": 14, "color": "#616e7c"}}]
        if text
        else [],
    )
    return fig


def view_link(trace_id: str, data: dict[str, Any]) -> str:
    return page_link(
        "/traces/view",
        trace=trace_id,
        namespace=data["namespace"],
        service=data["service"],
        lookback=data["lookback"],
        at=(data.get("query") or {}).get("at"),
    )


def scatter(data: dict[str, Any]) -> go.Figure:
    rows = data["traces"]
    if not rows:
        return _empty_figure("No traces match this search")
    fig = go.Figure()
    for label, color, subset in (
        ("ok", OK_COLOR, [r for r in rows if not r["error"]]),
        ("with errors", ERROR_COLOR, [r for r in rows if r["error"]]),
    ):
        if not subset:
            continue
        fig.add_trace(
            go.Scatter(
                x=[datetime.fromtimestamp(r["start"], tz=UTC) for r in subset],
                y=[r["duration_ms"] for r in subset],
                mode="markers",
                name=f"{len(subset)} {label}",
                marker={
                    "color": color,
                    "size": [min(34, 7 + 2.2 * r["span_count"] ** 0.5) for r in subset],
                    "opacity": 0.75,
                    "line": {"width": 1, "color": "#ffffff"},
                },
                customdata=[
                    [r["trace_id"], r["span_count"], plotly_text(r["root_operation"])]
                    for r in subset
                ],
                hovertemplate=(
                    "%{customdata[2]}<br>%{y:.1f} ms · %{customdata[1]} spans"
                    "<br>%{x|%H:%M:%S} UTC<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        margin={"l": 60, "r": 20, "t": 16, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="#fff",
        font={"family": FONT, "size": 12},
        legend={"orientation": "h", "y": 1.08, "x": 1, "xanchor": "right"},
        xaxis={"title": None, "gridcolor": "#eef1f4", "tickformat": "%H:%M:%S"},
        yaxis={"title": "duration (ms)", "gridcolor": "#eef1f4", "rangemode": "tozero"},
        hovermode="closest",
        clickmode="event",
    )
    return fig


def result_list(data: dict[str, Any]) -> html.Div:
    rows = data["traces"]
    if not rows:
        return html.Div(
            [
                html.Strong("No traces found. "),
                html.Span(
                    f"Nothing from {data['service']} in {data['namespace']} matched during the"
                    f" last {data['lookback']}. Widen the lookback, remove filters, or check that"
                    " the service is traced (Istio samples 1% of requests by default)."
                ),
            ],
            className="md-empty",
            id="ts-no-results",
        )
    longest = max(r["duration_ms"] for r in rows) or 1
    items = []
    for r in rows:
        when = datetime.fromtimestamp(r["start"], tz=UTC)
        versions = [v for v in r["versions"] if not v.startswith("istio-")]
        items.append(
            dcc.Link(
                [
                    html.Div(
                        [
                            html.Span(r["root_service"].split(".")[0], className="md-ts-root"),
                            html.Span(r["root_operation"], className="md-ts-op"),
                            html.Span(
                                f"{r['error_count']} error{'s' if r['error_count'] != 1 else ''}",
                                className="md-chip md-chip-failure",
                            )
                            if r["error"]
                            else None,
                        ],
                        className="md-ts-row-title",
                    ),
                    html.Div(
                        [
                            html.Span(f"{r['span_count']} spans", className="md-ts-meta"),
                            html.Span(when.strftime("%H:%M:%S UTC"), className="md-ts-meta"),
                            html.Span(
                                [html.Span(v, className="md-ts-version") for v in versions],
                                className="md-ts-versions",
                            ),
                        ],
                        className="md-ts-row-meta",
                    ),
                    html.Div(
                        [
                            html.Div(
                                html.Div(
                                    style={"width": f"{100 * r['duration_ms'] / longest:.1f}%"},
                                    className="md-ts-durfill"
                                    + (" md-ts-durfill-err" if r["error"] else ""),
                                ),
                                className="md-ts-dur",
                            ),
                            html.Span(fmt.ms(r["duration_ms"]), className="md-ts-durtext"),
                        ],
                        className="md-ts-row-dur",
                    ),
                ],
                href=view_link(r["trace_id"], data),
                className="md-ts-row" + (" md-ts-row-err" if r["error"] else ""),
                id={"type": "ts-row", "index": r["trace_id"]},
            )
        )
    return html.Div(items, className="md-ts-list", id="ts-list")


def summary(data: dict[str, Any]) -> list:
    rows = data["traces"]
    errors = sum(1 for r in rows if r["error"])
    out = [
        html.Div(
            [
                html.Span(str(len(rows)), className="md-stat-value"),
                html.Span("traces", className="md-stat-label"),
            ],
            className="md-stat",
        ),
        html.Div(
            [
                html.Span(str(errors), className="md-stat-value"),
                html.Span("with errors", className="md-stat-label"),
            ],
            className="md-stat" + (" md-stat-failing" if errors else ""),
        ),
    ]
    if rows:
        durations = sorted(r["duration_ms"] for r in rows)
        out += [
            html.Div(
                [html.Span(fmt.ms(durations[len(durations) // 2]), className="md-stat-value"),
                 html.Span("median", className="md-stat-label")],
                className="md-stat",
            ),
            html.Div(
                [html.Span(fmt.ms(durations[-1]), className="md-stat-value"),
                 html.Span("slowest", className="md-stat-label")],
                className="md-stat",
            ),
        ]  # fmt: skip
    out.append(
        html.Span(
            f"{data['jaeger_service']} · last {data['lookback']} · newest first"
            + (f" · limit {data['limit']} reached" if len(rows) >= data["limit"] else ""),
            className="md-summary-note",
        )
    )
    return out


def register_callbacks(app) -> None:
    @app.callback(
        Output("ts-service", "options"),
        Input("ts-namespace", "value"),
        State("ts-service", "value"),
    )
    def service_options(namespace, current):
        apps: list[str] = []
        with contextlib.suppress(Exception):  # the search callback shows the banner
            apps = service_catalog(services()).get(namespace or "", [])
        return sorted({*apps, *([current] if current else [])})

    @app.callback(
        Output("ts-operation", "options"),
        Input("ts-namespace", "value"),
        Input("ts-service", "value"),
        State("ts-operation", "value"),
    )
    def operation_options(namespace, service, current):
        ops: list[str] = []
        if namespace and service:
            with contextlib.suppress(Exception):
                ops = operations_of(services(), namespace, service)
        return sorted({*ops, *([current] if current else [])})

    @app.callback(
        Output("ts-data", "data"),
        Output("ts-banner", "children"),
        Input("ts-find", "n_clicks"),
        Input("ts-tags", "value"),
        State("ts-namespace", "value"),
        State("ts-service", "value"),
        State("ts-operation", "value"),
        State("ts-min", "value"),
        State("ts-max", "value"),
        State("ts-lookback", "value"),
        State("ts-limit", "value"),
        State("ts-error", "value"),
        State("ts-at", "data"),
    )
    def search(_n, tags, namespace, service, operation, dmin, dmax, lookback, limit, error, at):
        if not service and services().find(TRACES) is None:  # nothing to choose: say why
            return None, trace_banner(NotConfigured("traces"))
        if not service:
            return None, info_banner(
                "Choose a service and press Find traces. Tip: from the topology, a node's"
                " panel links straight to its traces."
            )
        args = search_args(
            namespace, service, operation, tags, dmin, dmax, lookback, limit, bool(error)
        )
        try:
            # the page's `at` is the search's end (the API's `end=`)
            data = search_view(services(), parse_search_params({**args, "end": at or ""}))
        except Exception as exc:  # every failure is a banner, never a traceback
            return None, trace_banner(exc)
        data["query"] = {**args, **({"at": at} if at else {})}
        return data, None

    @app.callback(
        Output("ts-scatter", "figure"),
        Output("ts-results", "children"),
        Output("ts-summary", "children"),
        Output("ts-chart-card", "hidden"),
        Input("ts-data", "data"),
    )
    def draw(data):
        if not data:
            return _empty_figure(), [], [], True
        return scatter(data), result_list(data), summary(data), not data["traces"]

    @app.callback(
        Output("ts-nav", "href"),
        Input("ts-scatter", "clickData"),
        State("ts-data", "data"),
        prevent_initial_call=True,
    )
    def open_clicked(click, data):
        if not click or not data or not click.get("points"):
            return no_update
        trace_id = click["points"][0]["customdata"][0]
        return view_link(trace_id, data)

    register_url_from_query(app, "ts-url-sink", "ts-data")
    register_time(app, "ts")
