"""Service page: request rate, success rate, latency and response codes over time, by version.

The same page shape serves one workload (dashboards/workload.py): `metrics_page(kind)` builds
the layout and callbacks for either, with ids prefixed per kind so both live in one app.
All state (namespace, name, window, refresh, at) is in the URL query string. Latency shows p50,
p95 and p99 together, so there is no quantile to choose.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.components.banner import error_banner, info_banner
from dashboards.components.links import page_link, topology_link
from dashboards.components.namespace_options import namespace_options
from dashboards.kit import (
    HISTORY_WINDOWS,
    REFRESH,
    UrlParam,
    control,
    control_bar,
    past_banner,
    refresh_control,
    refresh_now,
    refresh_timer,
    register_refresh,
    register_time,
    register_url_sync,
    time_control,
    url_window,
    window_control,
)
from mesh import validate
from mesh.errors import MeshdashError
from mesh.series import TOTAL, Target, csv_table
from mesh.window_health import failing_success_below, success_health, window_health
from presentation import charts, palette
from presentation import numbers as fmt
from presentation.markers import add_weight_markers
from views.graph import thresholds_of
from views.history import DEFAULT_WINDOW, list_targets, metrics_view, parse_metrics_params
from views.params import get_one
from views.review import markers_for, workload_markers
from wiring.services import services

QUANTILES: tuple[str, ...] = charts.QUANTILE_PANELS  # all three, always shown together
CHARTS: tuple[str, ...] = ("rps", "success", "latency", "codes", "tcp", "outbound")
GRAPHS: tuple[str, ...] = ("rps", "success", "latency", "codes", "tcp")
CHART_HEIGHT = 280


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between the service page and the workload page."""

    target: Target
    prefix: str  # id prefix, so both pages' callbacks coexist in one app
    path: str
    noun: str

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"


SERVICE = Kind(Target.SERVICE, "svc", "/service", "service")
WORKLOAD = Kind(Target.WORKLOAD, "wl", "/workload", "workload")


def _opt(query: Mapping[str, Any], key: str, allowed: Sequence[str], default: str) -> str:
    try:
        value = get_one(query, key, default)
    except MeshdashError:
        return default
    return value if value in allowed else default


def _first(query: Mapping[str, Any], key: str) -> str:
    try:
        return get_one(query, key) or ""
    except MeshdashError:
        return ""


def page_layout(kind: Kind, query: Mapping[str, Any]) -> html.Div:
    svc = services()
    namespace = _first(query, "namespace") or svc.settings.default_namespaces[0]
    name = _first(query, kind.noun)
    window = url_window(query, DEFAULT_WINDOW)  # the topology's 1m too
    windows = (
        HISTORY_WINDOWS
        if window in HISTORY_WINDOWS
        else tuple(sorted({*HISTORY_WINDOWS, window}, key=_seconds))
    )
    refresh = _opt(query, "refresh", tuple(REFRESH), "30s")
    at = _first(query, "at") or None
    namespaces = namespace_options(svc, [namespace])
    i = kind.id
    return html.Div(
        [
            html.Div(
                [
                    html.A(
                        "← Topology",
                        id=i("back"),
                        href=topology_link([namespace], window, at=at),
                        className="md-back",
                    ),
                    html.H2(_title(kind, namespace, name), id=i("title")),
                ],
                className="md-metrics-head",
            ),
            control_bar(
                [
                    control(
                        "Namespace",
                        dcc.Dropdown(
                            id=i("namespace"), options=namespaces, value=namespace, clearable=False
                        ),
                    ),
                    control(
                        kind.noun.capitalize(),
                        dcc.Dropdown(
                            id=i("name"),
                            options=[name] if name else [],
                            value=name or None,
                            clearable=False,
                            placeholder=f"Choose a {kind.noun}",
                        ),
                        wide=True,
                    ),
                    window_control(i("window"), windows, window),
                    time_control(kind.prefix, at),
                    refresh_control(i("refresh"), REFRESH, refresh, at),
                    refresh_now(i("refresh-now")),
                ]
            ),
            past_banner(kind.prefix, at),
            html.Div(id=i("banner")),
            dcc.Loading(
                html.Div(
                    [
                        html.Div(id=i("summary"), className="md-summary"),
                        html.Div(id=i("empty"), className="md-empty-window"),
                        html.Div(_cards(kind), id=i("charts"), className="md-charts"),
                    ]
                ),
                id=i("loading"),
                type="dot",
                delay_show=400,
                overlay_style={"visibility": "visible", "opacity": 0.6},
            ),
            dcc.Store(id=i("data")),
            dcc.Store(id=i("at"), data=at),
            dcc.Download(id=i("download")),
            refresh_timer(i("interval"), REFRESH, refresh, at),
            html.Div(id=i("url-sink"), hidden=True),
        ],
        className=f"md-page md-page-metrics md-page-{kind.noun}",
    )


def _seconds(window: str) -> int:
    return validate.duration_seconds(window)


def _title(kind: Kind, namespace: str, name: str) -> list:
    if not name:
        return [f"Choose a {kind.noun}"]
    return [
        html.Span(name, className="md-title-name"),
        html.Span(f"{kind.noun} in {namespace}", className="md-title-sub"),
    ]


def _csv_button(kind: Kind, chart: str) -> html.Button:
    return html.Button(
        "CSV",
        id={"type": kind.id("csv"), "chart": chart},
        className="md-button md-button-small",
        title="Download the data behind this chart as CSV",
    )


def _card(kind: Kind, chart: str, title: str, body) -> html.Div:
    return html.Div(
        [
            html.Div(
                [html.H3(title, id=kind.id(f"{chart}-heading")), _csv_button(kind, chart)],
                className="md-card-head",
            ),
            body,
        ],
        id=kind.id(f"{chart}-card"),
        # Latency's three quantile panels need the whole row.
        className=f"md-card md-chart-card md-chart-{chart}"
        + (" md-chart-wide" if chart == "latency" else ""),
    )


def _graph(kind: Kind, chart: str) -> dcc.Graph:
    return dcc.Graph(
        id=kind.id(f"{chart}-graph"),
        figure=charts.empty_figure(),
        config=charts.png_config(f"meshdash-{chart}"),
        style={"height": f"{CHART_HEIGHT}px"},
    )


def _cards(kind: Kind) -> list:
    return [
        _card(kind, "rps", "Requests per second by version", _graph(kind, "rps")),
        _card(kind, "success", "Success rate by version", _graph(kind, "success")),
        _card(kind, "latency", "Latency by version: p50, p95, p99", _graph(kind, "latency")),
        _card(kind, "codes", "Response codes by version (stacked)", _graph(kind, "codes")),
        _card(
            kind,
            "tcp",
            "TCP bytes per second by version (in solid, out dashed)",
            _graph(kind, "tcp"),
        ),
        _card(
            kind,
            "outbound",
            "Outbound calls",
            html.Div(id=kind.id("outbound"), className="md-outbound"),
        ),
    ]


# --- drawing -----------------------------------------------------------------------------------


def _times(data: Mapping[str, Any]) -> list[float]:
    step = validate.duration_seconds(data["step"])
    start, end = float(data["start"]), float(data["end"])
    n = int((end - start) // step)
    return [start + k * step for k in range(n + 1)]


def _uirevision(data: Mapping[str, Any]) -> str:
    """Keep legend toggles and zoom across refreshes of the same view, not across views."""
    return f"{data['namespace']}/{data.get(data['target'])}/{data['window']}"


def _failure_below() -> float:
    return failing_success_below(thresholds_of(services()))


def figures(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every chart of the page from the view's JSON; pure apart from the health threshold."""
    times = _times(data)
    styles = charts.version_styles(data["versions"])
    rev = _uirevision(data)
    s = data["series"]
    out = {
        "rps": charts.version_lines(
            s["rps"],
            times,
            styles,
            title="Requests per second by version",
            y_title="rps",
            hover="%{y:.3f} rps",
            uirevision=rev,
            height=CHART_HEIGHT,
        ),
        "success": charts.success_chart(
            s["success_rate"],
            times,
            styles,
            failure_below=_failure_below(),
            uirevision=rev,
            height=CHART_HEIGHT,
        ),
        "latency": charts.latency_chart(
            {q: s[f"{q}_ms"] for q in QUANTILES},
            times,
            styles,
            uirevision=rev,
            height=CHART_HEIGHT,
        ),
        "codes": charts.codes_chart(
            s["codes"], times, data["versions"], uirevision=rev, height=CHART_HEIGHT
        ),
        "tcp": charts.tcp_chart(
            s["tcp_in_bps"], s["tcp_out_bps"], times, styles, uirevision=rev, height=CHART_HEIGHT
        ),
    }
    window_s = times[-1] - times[0]
    for fig in out.values():
        # Weight changes of the service (audit log), or of the services routing to the workload,
        # on every chart: a step is read against its cause.
        add_weight_markers(fig, data.get("markers") or [], start=times[0], end=times[-1])
        fig.update_xaxes(
            range=[charts.to_ms(times[0]), charts.to_ms(times[-1])],
            tickformat=charts.time_tickformat(window_s),
        )
    return out


def png_name(data: Mapping[str, Any], chart: str) -> str:
    return f"meshdash-{data['namespace']}-{data.get(data['target'], '')}-{chart}-{data['window']}"


def _stat(label: str, value: str, cls: str = "") -> html.Div:
    return html.Div(
        [html.Span(value, className="md-stat-value"), html.Span(label, className="md-stat-label")],
        className=f"md-stat {cls}".strip(),
    )


def _last(points: Sequence[Sequence[float]] | None) -> float | None:
    """The series' value at its last step, or None when that step has no point: "now" is never
    an older value passed off as current."""
    return float(points[-1][1]) if points else None


def now_figures(data: Mapping[str, Any], version: str) -> dict[str, float | None]:
    """A version's figures at the window's last step (rate over the last rate interval)."""
    s = data["series"]
    end = float(data["end"])
    step = validate.duration_seconds(data["step"])

    def at_end(points: Sequence[Sequence[float]] | None) -> float | None:
        value = _last(points)
        return value if points and float(points[-1][0]) > end - step else None

    out: dict[str, float | None] = {
        "rps": at_end(s["rps"].get(version)),
        "success_rate": at_end(s["success_rate"].get(version)),
    }
    for q in QUANTILES:
        out[f"{q}_ms"] = at_end(s[f"{q}_ms"].get(version))
    return out


def _quantiles_text(f: Mapping[str, Any]) -> str:
    return " · ".join(f"{q} {fmt.ms(f.get(f'{q}_ms'))}" for q in QUANTILES)


def _figures_line(label: str, f: Mapping[str, Any], cls: str) -> html.Div:
    return html.Div(
        [
            html.Span(label, className="md-version-when"),
            f"{fmt.rps(f.get('rps'))} · {fmt.percent(f.get('success_rate'), 2)} ok · "
            + _quantiles_text(f),
        ],
        className=f"md-version-figures {cls}",
    )


def summary(data: Mapping[str, Any]) -> list:
    """Whole-window figures, then one chip per version with its share of the traffic and its
    figures twice, each line saying what it is: now (the last step) and the window average."""
    if not data["series"]["rps"]:
        return tcp_summary(data)
    total = data["summary"].get(TOTAL, {})
    success = total.get("success_rate")
    state = success_health(
        total.get("rps"), success, total.get("client_error_rate"), thresholds_of(services())
    )
    window = data["window"]
    stats = [
        _stat(f"Requests, {window} average", fmt.rps(total.get("rps"))),
        _stat(f"Success, {window} average", fmt.percent(success, 2), f"md-stat-{state}"),
        _stat(
            f"p50 · p95 · p99 over {window}",
            " · ".join(fmt.ms(total.get(f"{q}_ms")) for q in QUANTILES),
        ),
        _stat("Versions", str(len(data["versions"]))),
    ]
    colors = charts.version_colors(data["versions"])
    chips = []
    for version in data["versions"]:
        f = data["summary"].get(version, {})
        share = f.get("share")
        chips.append(
            html.Div(
                [
                    html.I(style={"background": colors[version]}),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Strong(version),
                                    html.Span(
                                        f"{fmt.percent(share, 0)} of requests over {window}"
                                        if share is not None
                                        else "no requests",
                                        className="md-version-share",
                                    ),
                                ]
                            ),
                            _figures_line("now", now_figures(data, version), "md-version-now"),
                            _figures_line("window average", f, "md-version-window"),
                        ]
                    ),
                ],
                className="md-version-chip",
                id={"type": "version-chip", "version": version},
            )
        )
    note = data_note(data)
    return [*stats, html.Div(chips, className="md-version-chips"), note]


def data_note(data: Mapping[str, Any]) -> html.Div:
    """What the figures are, in words; the query count only for whoever hovers."""
    source = "simulated data" if data["source"] == "demo" else "Prometheus"
    return html.Div(
        f"last {data['window']} · rates over {data['rate_interval']}, a point every "
        f"{data['step']} · {source} · times in UTC",
        className="md-summary-note",
        title=f"{data['queries']} queries to {data['source']}",
    )


def _mean(points: Sequence[Sequence[float]]) -> float | None:
    return sum(v for _, v in points) / len(points) if points else None


def tcp_summary(data: Mapping[str, Any]) -> list:
    """For a TCP-only target: bytes per second each way, per version; no request figures."""
    s = data["series"]
    colors = charts.version_colors(data["versions"])
    mean_in = {v: _mean(p) for v, p in s["tcp_in_bps"].items()}
    mean_out = {v: _mean(p) for v, p in s["tcp_out_bps"].items()}
    stats = [
        _stat("Bytes in", fmt.bytes_per_s(sum(x for x in mean_in.values() if x) or None)),
        _stat("Bytes out", fmt.bytes_per_s(sum(x for x in mean_out.values() if x) or None)),
        _stat("Versions", str(len(data["versions"]))),
    ]
    chips = [
        html.Div(
            [
                html.I(style={"background": colors[v]}),
                html.Div(
                    [
                        html.Div([html.Strong(v), html.Span("TCP", className="md-version-share")]),
                        html.Div(
                            f"in {fmt.bytes_per_s(mean_in.get(v))} · "
                            f"out {fmt.bytes_per_s(mean_out.get(v))}",
                            className="md-version-figures",
                        ),
                    ]
                ),
            ],
            className="md-version-chip",
            id={"type": "version-chip", "version": v},
        )
        for v in data["versions"]
    ]
    note = data_note(data)
    return [*stats, html.Div(chips, className="md-version-chips"), note]


def outbound_table(kind: Kind, data: Mapping[str, Any]) -> html.Table | html.Div:
    rows = data["outbound"]
    if not rows:
        return html.Div(f"This {kind.noun} called nothing in this window.", className="md-hint")
    times = _times(data)
    window = data["window"]
    numeric = {"Requests", "Errors", "p95", "Bytes/s"}
    head = html.Thead(
        html.Tr(
            [
                html.Th(h, className="md-num" if h in numeric else None)
                for h in (
                    "",
                    "Destination",
                    "Protocol",
                    "Requests",
                    "Errors",
                    "p95",
                    "Bytes/s",
                    "From version",
                    f"Requests, last {window}",
                )
            ]
        )
    )
    body = []
    for row in rows:
        state = window_health(
            row["rps"] or row["bps"],
            row["error_rate"],
            row["client_error_rate"],
            thresholds_of(services()),
        )
        spark_points = row["series"]["rps"]
        unit = "rps"
        if row["rps"] is None:  # TCP only: bytes are what there is to show
            spark_points, unit = row["series"]["bps"], "B/s"
        by_version = " · ".join(f"{v} {fmt.rps(r)}" for v, r in row["rps_by_version"].items())
        href = page_link(
            "/service", namespace=row["namespace"], service=row["service"], window=window
        )
        body.append(
            html.Tr(
                [
                    html.Td(
                        html.I(className=f"md-dot md-dot-{state}", title=state),
                        className="md-cell-dot",
                    ),
                    html.Td(
                        [
                            html.A(row["service"], href=href),
                            html.Span(row["namespace"], className="md-cell-sub"),
                        ]
                    ),
                    html.Td(row["protocol"]),
                    html.Td(fmt.rps(row["rps"]), className="md-num"),
                    html.Td(fmt.percent(row["error_rate"], 2), className="md-num"),
                    html.Td(fmt.ms(row["p95_ms"]), className="md-num"),
                    html.Td(fmt.bytes_per_s(row["bps"]), className="md-num"),
                    html.Td(by_version or "–", className="md-cell-versions"),
                    html.Td(
                        dcc.Graph(
                            figure=charts.sparkline(
                                spark_points, times, palette.HEALTH_COLORS[state], unit=unit
                            ),
                            config=charts.SPARK_CONFIG,
                            className="md-sparkline",
                        )
                        if spark_points
                        else "–"
                    ),
                ],
                className="md-outbound-row",
            )
        )
    return html.Table([head, html.Tbody(body)], className="md-table md-outbound-table")


# --- CSV ---------------------------------------------------------------------------------------


def chart_csv(data: Mapping[str, Any], chart: str) -> tuple[str, str]:
    """(filename, CSV text) with exactly the series the chart draws, in its units."""
    s = data["series"]

    def pts(points) -> tuple[tuple[float, float], ...]:
        return tuple((float(t), float(v)) for t, v in points)

    if chart == "rps":
        table = {f"{v} rps": pts(p) for v, p in s["rps"].items()}
    elif chart == "success":
        table = {
            f"{v} success %": tuple((t, v2 * 100) for t, v2 in pts(p))
            for v, p in s["success_rate"].items()
        }
    elif chart == "latency":
        table = {f"{v} {q} ms": pts(p) for q in QUANTILES for v, p in s[f"{q}_ms"].items()}
    elif chart == "codes":
        table = {
            f"{v} {cls} rps": pts(p) for cls, by_v in s["codes"].items() for v, p in by_v.items()
        }
    elif chart == "tcp":
        table = {
            **{f"{v} in B/s": pts(p) for v, p in s["tcp_in_bps"].items()},
            **{f"{v} out B/s": pts(p) for v, p in s["tcp_out_bps"].items()},
        }
    elif chart == "outbound":
        table = {}
        for row in data["outbound"]:
            name = f"{row['namespace']}/{row['service']}"
            table[f"{name} rps"] = pts(row["series"]["rps"])
            table[f"{name} error %"] = tuple(
                (t, v * 100) for t, v in pts(row["series"]["error_rate"])
            )
            if row["series"]["bps"]:
                table[f"{name} B/s"] = pts(row["series"]["bps"])
    else:
        raise ValueError(f"unknown chart {chart!r}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(csv_table(table))
    name = data.get(data["target"], "")
    filename = f"{data['namespace']}-{name}-{chart}-{data['window']}-{int(data['end'])}.csv"
    return filename, buf.getvalue()


def _no_traffic(kind: Kind, data: Mapping[str, Any]) -> html.Div:
    return html.Div(
        [
            html.Strong("No traffic in this window."),
            html.Span(
                f" Nothing reached or left {data.get(data['target'])} in {data['namespace']}"
                f" during the last {data['window']}. Choose a longer window or another"
                f" {kind.noun}."
            ),
        ],
        className="md-empty",
        id=kind.id("no-traffic"),
    )


def page_outputs(kind: Kind, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Everything the draw callback sets, by name. Charts without data are hidden, not drawn
    empty: a TCP-only service shows its bytes, an idle window says so."""
    out: dict[str, Any] = {
        **{f"fig_{c}": charts.empty_figure() for c in GRAPHS},
        **{f"config_{c}": no_update for c in GRAPHS},
        **{f"hide_{c}": True for c in GRAPHS},
        "tcp_class": "md-card md-chart-card md-chart-tcp",
        "outbound": [],
        "summary": [],
        "empty": "",
        "charts_class": "md-charts md-hidden",
    }
    if not data:
        return out
    if not data["has_traffic"]:
        out["empty"] = _no_traffic(kind, data)
        return out
    figs = figures(data)
    s = data["series"]
    has_requests = bool(s["rps"])
    has_tcp = bool(s["tcp_in_bps"] or s["tcp_out_bps"])
    for c in GRAPHS:
        out[f"fig_{c}"] = figs[c]
        out[f"config_{c}"] = charts.png_config(png_name(data, c))
        out[f"hide_{c}"] = not (has_tcp if c == "tcp" else has_requests)
    if not has_requests:
        out["tcp_class"] += " md-chart-wide"
    out["outbound"] = outbound_table(kind, data)
    out["summary"] = summary(data)
    out["charts_class"] = "md-charts"
    return out


# --- callbacks ---------------------------------------------------------------------------------


def page_callbacks(app, kind: Kind) -> None:
    _load_callbacks(app, kind)
    _draw_callbacks(app, kind)


def _load_callbacks(app, kind: Kind) -> None:
    """Load the view on every change and refresh; the pickers offer what has traffic."""
    i = kind.id

    @app.callback(
        Output(i("data"), "data"),
        Output(i("banner"), "children"),
        Input(i("namespace"), "value"),
        Input(i("name"), "value"),
        Input(i("window"), "value"),
        Input(i("interval"), "n_intervals"),
        Input(i("refresh-now"), "n_clicks"),
        State(i("at"), "data"),
    )
    def load(namespace, name, window, _n, _clicks, at):
        if not name:
            return None, info_banner(f"Choose a {kind.noun} to see its traffic over time.")
        args = {"namespace": namespace, kind.noun: name, "window": window}
        if at:
            args["at"] = at
        try:
            view = metrics_view(services(), parse_metrics_params(args))
            if kind.target is Target.SERVICE:
                view["markers"] = markers_for(
                    services(), view["namespace"], name, view["start"], view["end"]
                )
            else:  # the services its own series were addressed to (views.history)
                view["markers"] = workload_markers(
                    services(), view["namespace"], view["services"], view["start"], view["end"]
                )
            return view, None
        except Exception as exc:  # every failure becomes a banner, never a traceback
            keep = no_update if ctx.triggered_id == i("interval") else None
            return keep, error_banner(exc)

    @app.callback(
        Output(i("name"), "options"),
        Input(i("namespace"), "value"),
        Input(i("window"), "value"),
        State(i("name"), "value"),
    )
    def names(namespace, window, current):
        found: list[str] = []
        # On failure the picker keeps what it has; the data callback shows the banner.
        with contextlib.suppress(MeshdashError):
            found = list_targets(
                services(), namespace, kind.target, validate.duration_seconds(window)
            )
        return sorted({*found, *([current] if current else [])})


def _draw_callbacks(app, kind: Kind) -> None:
    """Draw the charts, download their CSV, keep the heading and the refresh in step."""
    i = kind.id
    outputs: dict[str, Output] = {
        **{f"fig_{c}": Output(i(f"{c}-graph"), "figure") for c in GRAPHS},
        **{f"config_{c}": Output(i(f"{c}-graph"), "config") for c in GRAPHS},
        **{f"hide_{c}": Output(i(f"{c}-card"), "hidden") for c in GRAPHS},
        "tcp_class": Output(i("tcp-card"), "className"),
        "outbound": Output(i("outbound"), "children"),
        "summary": Output(i("summary"), "children"),
        "empty": Output(i("empty"), "children"),
        "charts_class": Output(i("charts"), "className"),
    }

    @app.callback(
        output=outputs,
        inputs={"data": Input(i("data"), "data")},
    )
    def draw(data):
        return page_outputs(kind, data)

    @app.callback(
        Output(i("download"), "data"),
        Input({"type": i("csv"), "chart": "rps"}, "n_clicks"),
        Input({"type": i("csv"), "chart": "success"}, "n_clicks"),
        Input({"type": i("csv"), "chart": "latency"}, "n_clicks"),
        Input({"type": i("csv"), "chart": "codes"}, "n_clicks"),
        Input({"type": i("csv"), "chart": "tcp"}, "n_clicks"),
        Input({"type": i("csv"), "chart": "outbound"}, "n_clicks"),
        State(i("data"), "data"),
        prevent_initial_call=True,
    )
    def download(*args):
        data = args[-1]
        trigger = ctx.triggered_id
        if not data or not isinstance(trigger, Mapping) or not ctx.triggered[0]["value"]:
            return no_update
        filename, text = chart_csv(data, trigger["chart"])
        return {"content": text, "filename": filename, "type": "text/csv", "base64": False}

    @app.callback(
        Output(i("back"), "href"),
        Output(i("title"), "children"),
        Input(i("namespace"), "value"),
        Input(i("name"), "value"),
        Input(i("window"), "value"),
        State(i("at"), "data"),
    )
    def heading(namespace, name, window, at):
        return topology_link([namespace], window, at=at), _title(kind, namespace, name or "")

    register_refresh(app, i("interval"), i("refresh"), REFRESH, at_store=i("at"))
    register_time(app, kind.prefix)

    register_url_sync(
        app,
        i("url-sink"),
        [
            UrlParam("namespace", i("namespace")),
            UrlParam(kind.noun, i("name")),
            UrlParam("window", i("window"), how="always"),
            UrlParam("refresh", i("refresh"), how="always"),
            UrlParam("at", i("at"), "data"),
        ],
    )


# --- the service page --------------------------------------------------------------------------


def layout(**query: Any) -> html.Div:
    """/service?namespace=NS&service=SVC&window=W[&refresh=30s][&at=UNIX]"""
    return page_layout(SERVICE, query)


def register_callbacks(app) -> None:
    page_callbacks(app, SERVICE)
