"""Trace page (/traces/view?trace=ID): waterfall with the critical path, span detail, time per
service, raw JSON, and the trace's path on the topology.

The waterfall is drawn in the browser (assets/trace_waterfall.js) from compact columns, only the
rows in view, so a 100,000-span trace stays usable; past views.traces.WATERFALL_MAX_SPANS the page
shows a summary instead. Everything else is plain Dash, from views/traces.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
from dash import ClientsideFunction, Input, Output, State, dcc, html, no_update

from dashboards.components.banner import info_banner
from dashboards.kit import register_url_param
from dashboards.trace_search import trace_banner
from mesh.errors import MeshdashError
from presentation import numbers as fmt
from presentation import palette
from views.params import get_one
from views.trace_links import topology_highlight_link, traces_search_link
from views.trace_waterfall import WATERFALL_MAX_SPANS
from views.traces import (
    parse_trace_id,
    span_detail,
    trace_page_view,
    trace_path_view,
    trace_view,
)
from wiring.services import services

RAW_JSON_MAX_SPANS = 300
MAX_HOPS_SHOWN = 12


def _q(query: dict[str, Any], key: str) -> str:
    try:
        return get_one(query, key, "") or ""
    except MeshdashError:
        return ""


def utc(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def layout(**query: Any) -> html.Div:
    """/traces/view?trace=ID[&namespace=NS&service=SVC&lookback=1h] (the search it came from)."""
    namespace, service, lookback = (
        _q(query, "namespace"),
        _q(query, "service"),
        _q(query, "lookback"),
    )
    back = (
        traces_search_link(namespace, service, lookback or "1h", at=_q(query, "at") or None)
        if namespace and service
        else "/traces"
    )
    head = html.Div(
        [html.A("← Trace search", href=back, className="md-back", id="tv-back")],
        className="md-metrics-head",
    )
    try:
        trace_id = parse_trace_id(_q(query, "trace"))
        view = trace_page_view(services(), trace_id)
    except Exception as exc:  # every failure is a banner, never a traceback
        return html.Div([head, trace_banner(exc)], className="md-page md-page-trace")
    children: list = [
        head,
        _title(view),
        _stats(view),
        html.Div(
            html.Span(
                "Finding the workloads this trace went through…", className="md-hint md-tv-finding"
            ),
            id="tv-links",
            className="md-tv-links",
        ),
    ]
    if view["warnings"]:
        children.append(_warnings(view["warnings"]))
    if view["summary_only"]:  # no waterfall to wait for: the path comes at once
        children += [_summary_only(view), html.Span("summary", id="tv-rendered", hidden=True)]
    else:
        children.append(
            html.Div(
                [
                    html.Div(
                        [
                            html.Div(id="tv-waterfall", className="md-wf"),
                            html.Span(id="tv-rendered", hidden=True),
                        ],
                        className="md-card md-tv-main",
                    ),
                    html.Div(
                        # a large trace is read again for a span's detail: say it is loading
                        dcc.Loading(
                            html.Div(
                                html.P(
                                    "Click a span in the waterfall to see its tags, logs and the"
                                    " pod it ran in.",
                                    className="md-hint",
                                ),
                                id="tv-span",
                                className="md-panel",
                            ),
                            type="dot",
                            delay_show=300,
                        ),
                        className="md-side-panel md-tv-side",
                    ),
                ],
                className="md-tv-body",
            )
        )
    children += [
        html.Div(
            [html.H3("Time per service"), _breakdown(view)], className="md-card", id="tv-breakdown"
        ),
        html.Div(
            [
                html.Div(
                    [
                        html.H3("Raw JSON"),
                        html.Button("Show raw JSON", id="tv-json-show", className="md-button"),
                        html.A(
                            "Open in the API",
                            href=f"/api/traces/{view['trace_id']}",
                            target="_blank",
                        ),
                    ],
                    className="md-tv-json-head",
                ),
                html.Pre(id="tv-json", className="md-tv-json", hidden=True),
            ],
            className="md-card",
        ),
        dcc.Store(id="tv-data", data=_columns_text(view.get("waterfall"))),
        dcc.Store(id="tv-trace-id", data=view["trace_id"]),
        dcc.Store(
            id="tv-link-args",
            data={"namespace": namespace, "at": view["start"] + view["duration_ms"] / 1000},
        ),
        dcc.Store(id="tv-selected", data=_q(query, "span") or None),
        html.Div(id="tv-url-sink", hidden=True),
    ]
    return html.Div(children, className="md-page md-page-trace")


def _columns_text(columns: dict[str, Any] | None) -> str | None:
    """The waterfall's columns as JSON text, which the page's script parses: given the columns
    themselves, Dash (plotly's encoder) would visit each of a 50,000-span trace's ~600,000
    numbers in Python first, 0.3 s before the first row."""
    return None if columns is None else msgspec.json.encode(columns).decode()


def _title(view: dict[str, Any]) -> html.Div:
    return html.Div(
        [
            html.H2(
                [
                    html.Span(view["root_service"] or "trace", className="md-tv-root-svc"),
                    html.Span(": "),
                    html.Span(view["root_operation"], className="md-tv-root-op"),
                ],
                id="tv-title",
            ),
            html.Div(f"Trace {view['trace_id']}", className="md-panel-id", id="tv-trace"),
        ]
    )


def _stat(label: str, value: str, cls: str = "", id: str | None = None) -> html.Div:
    kw = {"id": id} if id else {}
    return html.Div(
        [html.Span(value, className="md-stat-value"), html.Span(label, className="md-stat-label")],
        className=f"md-stat {cls}".strip(),
        **kw,
    )


def _stats(view: dict[str, Any]) -> html.Div:
    errors = view["error_count"]
    return html.Div(
        [
            _stat("Duration", fmt.ms(view["duration_ms"]), id="tv-duration"),
            _stat("Spans", f"{view['span_count']:,}", id="tv-spans"),
            _stat("Services", str(view["service_count"])),
            _stat("Depth", str(view["max_depth"] + 1)),
            _stat("Errors", str(errors), "md-stat-failing" if errors else ""),
            _stat("On critical path", f"{view['critical_count']:,} spans"),
            html.Span(f"Started {utc(view['start'])}", className="md-summary-note"),
        ],
        className="md-summary",
    )


def path_links(path: dict[str, list], namespace: str, at: float) -> list:
    """The link to the topology with the trace's path highlighted, at the trace's end, and the
    workloads it went through; nothing when no span says where it ran."""
    links: list = []
    if path["nodes"]:
        links.append(
            html.A(
                "Show this path on the topology →",
                href=topology_highlight_link(
                    path,
                    [namespace] if namespace else None,
                    at=at,
                ),
                id="tv-topology-link",
                className="md-button md-button-primary md-tv-linkbtn",
            )
        )
        nodes = path["nodes"]
        shown = nodes[:MAX_HOPS_SHOWN]
        more = [html.Span(f"+{len(nodes) - len(shown)} more", className="md-tv-hops-label")]
        hops = html.Span(
            [html.Span(f"Went through {len(nodes)} workloads", className="md-tv-hops-label")]
            + [html.Span(n.split("/", 1)[-1], className="md-tv-hop", title=n) for n in shown]
            + (more if len(nodes) > len(shown) else []),
            className="md-tv-hops",
            title="Workloads this request went through",
        )
        links.append(hops)
    return links


def _warnings(warnings: list[str]) -> html.Div:
    shown = warnings[:8]
    more = len(warnings) - len(shown)
    return html.Div(
        [
            html.Strong(f"{len(warnings)} warning(s) while loading this trace: "),
            html.Ul(
                [html.Li(w) for w in shown] + ([html.Li(f"... and {more} more")] if more else [])
            ),
        ],
        className="md-banner md-banner-warning",
        id="tv-warnings",
    )


def _bar(share: float, color: str) -> html.Div:
    pct = max(0.0, min(1.0, share)) * 100
    return html.Div(
        html.Div(style={"width": f"{pct:.1f}%", "background": color}, className="md-tv-barfill"),
        className="md-tv-bar",
    )


def _breakdown(view: dict[str, Any]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Th("Service"),
                html.Th("Spans"),
                html.Th("Errors"),
                html.Th("Self time · share of all self time", colSpan=2),
                html.Th("On the critical path · share of it", colSpan=2),
            ]
        )
    ]
    for s in view["services"]:
        rows.append(
            html.Tr(
                [
                    html.Td(s["service"], className="md-tv-svc"),
                    html.Td(f"{s['spans']:,}", className="md-num"),
                    html.Td(
                        str(s["errors"]),
                        className="md-num md-tv-errcell" if s["errors"] else "md-num",
                    ),
                    html.Td(
                        f"{fmt.ms(s['self_ms'])} · {fmt.percent(s['self_share'])}",
                        className="md-num",
                    ),
                    html.Td(_bar(s["self_share"], palette.ACCENT), className="md-tv-barcell"),
                    html.Td(
                        f"{fmt.ms(s['critical_ms'])} · {fmt.percent(s['critical_share'])}",
                        className="md-num",
                    ),
                    html.Td(_bar(s["critical_share"], "#17212b"), className="md-tv-barcell"),
                ]
            )
        )
    return html.Table(rows, className="md-table md-tv-breakdown")


def _summary_only(view: dict[str, Any]) -> html.Div:
    n = view["span_count"]
    crit = html.Table(
        [
            html.Tr(
                [
                    html.Th("Service"),
                    html.Th("Operation"),
                    html.Th("From", className="md-num"),
                    html.Th("Time", className="md-num"),
                ]
            )
        ]
        + [
            html.Tr(
                [
                    html.Td(c["service"]),
                    html.Td(c["operation"], className="md-tv-opcell"),
                    html.Td("+" + fmt.ms(c["start_ms"]), className="md-num"),
                    html.Td(fmt.ms(c["end_ms"] - c["start_ms"]), className="md-num"),
                ]
            )
            for c in view["critical_sections"][:50]
        ],
        className="md-table",
    )
    top = html.Table(
        [
            html.Tr(
                [
                    html.Th("Service"),
                    html.Th("Operation"),
                    html.Th("Self time"),
                    html.Th("Duration"),
                ]
            )
        ]
        + [
            html.Tr(
                [
                    html.Td(s["service"]),
                    html.Td(s["operation"], className="md-tv-opcell"),
                    html.Td(fmt.ms(s["self_ms"]), className="md-num"),
                    html.Td(fmt.ms(s["duration_ms"]), className="md-num"),
                ]
            )
            for s in view["top_self"]
        ],
        className="md-table",
    )
    return html.Div(
        [
            info_banner(
                f"This trace has {n:,} spans, more than the {WATERFALL_MAX_SPANS:,} the waterfall"
                " holds, so it is not drawn. Below: where the time"
                " went. The full trace is available from the API link."
            ),
            html.Div(
                [
                    html.Div([html.H3("Critical path (latest first)"), crit], className="md-card"),
                    html.Div([html.H3("Longest self times"), top], className="md-card"),
                ],
                className="md-tv-summary-grid",
                id="tv-summary-only",
            ),
        ]
    )


# --------------------------------------------------------------------------------------------
# The selected span


def span_panel(span: dict[str, Any]) -> list:
    istio = span.get("istio") or {}
    ptags = {t["key"]: t["value"] for t in span["process"]["tags"]}
    where = [
        ("Pod", istio.get("pod") or ptags.get("hostname") or "–"),
        ("Namespace", istio.get("namespace") or "–"),
        ("Workload", istio.get("workload") or "–"),
        ("Version", istio.get("version") or "–"),
        ("Node", ptags.get("k8s.node.name") or ptags.get("node") or "–"),
        ("IP", istio.get("ip") or ptags.get("ip") or "–"),
    ]
    figures = [
        ("Duration", fmt.ms(span["duration_ms"])),
        ("Self time", fmt.ms(span["self_ms"])),
        ("Starts at", "+" + fmt.ms(span["start_ms"])),
        ("Kind", span["kind"] or "–"),
        ("HTTP status", istio.get("status_code") or "–"),
        ("Response flags", istio.get("response_flags") or "–"),
        ("Upstream cluster", istio.get("upstream_cluster") or "–"),
        ("Critical path", "yes" if span["critical"] else "no"),
    ]

    def kv(rows) -> html.Table:
        return html.Table(
            [html.Tr([html.Th(k), html.Td(str(v))]) for k, v in rows], className="md-kv md-tv-kv"
        )

    tags = html.Table(
        [html.Tr([html.Th(t["key"]), html.Td(_value(t["value"]))]) for t in span["tags"]],
        className="md-kv md-tv-tags",
    )
    logs = (
        html.Ul(
            [
                html.Li(
                    [
                        html.Span(utc(lg["timestamp_us"] / 1e6), className="md-tv-logtime"),
                        html.Span(
                            ", ".join(f"{f['key']}={_value(f['value'])}" for f in lg["fields"])
                        ),
                    ]
                )
                for lg in span["logs"]
            ],
            className="md-tv-logs",
        )
        if span["logs"]
        else html.P("No logs.", className="md-hint")
    )
    head = [
        html.Div(
            [
                html.H3(span["service"]),
                html.Span("error", className="md-chip md-chip-failure") if span["error"] else None,
            ],
            className="md-panel-head",
        ),
        html.Div(span["operation"], className="md-tv-span-op"),
        html.Div(f"Span {span['span_id']}", className="md-panel-id"),
    ]
    body = [
        html.H4("Where it ran"),
        kv(where),
        html.H4("Timing and outcome"),
        kv(figures),
        html.H4(f"Tags ({len(span['tags'])})"),
        tags,
        html.H4("Logs"),
        logs,
        html.H4("Process"),
        kv([("Service", span["process"]["service"])] + [(k, v) for k, v in ptags.items()]),
    ]
    if span["warnings"]:
        body += [html.H4("Warnings"), html.Ul([html.Li(w) for w in span["warnings"]])]
    return head + body


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def register_callbacks(app) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="meshdash_traces", function_name="render"),
        Output("tv-rendered", "children"),
        Input("tv-data", "data"),
        State("tv-waterfall", "id"),
    )

    # A span from the URL (`span=`) is selected, unfolded and scrolled to once the waterfall
    # is drawn; a click puts the span in the URL, so a pasted link opens on it.
    app.clientside_callback(
        """
        function(rendered, span) {
            const root = document.getElementById('tv-waterfall');
            const wf = root && root._wf;
            if (!wf || !span || !wf.data || !wf.data.id) { return window.dash_clientside.no_update; }
            const r = wf.data.id.indexOf(span);
            if (r < 0 || wf.selected === r) { return window.dash_clientside.no_update; }
            for (let p = wf.data.parent[r]; p >= 0; p = wf.data.parent[p]) { wf.collapsed[p] = 0; }
            wf.selected = r;
            wf.refresh();
            const k = wf.visible.indexOf(r);
            const vp = wf.viewport;
            const row = wf.visible.length ? vp.scrollHeight / wf.visible.length : 0;
            if (k >= 0 && row > 0) {
                vp.scrollTop = Math.max(0, k * row - vp.clientHeight / 2);
                wf.lastRange = null;
                wf.draw();
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output("tv-waterfall", "title"),
        Input("tv-rendered", "children"),
        State("tv-selected", "data"),
    )
    register_url_param(app, "tv-url-sink", "span", "tv-selected", "data")

    # The path reads Istio's tags on every span: it is found once the first rows are drawn
    # (tv-rendered), so a 50,000-span trace does not wait for it.
    @app.callback(
        Output("tv-links", "children"),
        Input("tv-rendered", "children"),
        State("tv-trace-id", "data"),
        State("tv-link-args", "data"),
    )
    def show_path(rendered, trace_id, args):
        if rendered is None or not trace_id or not args:
            return no_update
        try:
            path = trace_path_view(services(), trace_id)
        except Exception as exc:
            return trace_banner(exc)
        return path_links(path, args.get("namespace") or "", args["at"])

    @app.callback(
        Output("tv-span", "children"),
        Input("tv-selected", "data"),
        State("tv-trace-id", "data"),
        prevent_initial_call=False,
    )
    def show_span(span_id, trace_id):
        if not span_id or not trace_id:
            return no_update
        try:
            return span_panel(span_detail(services(), trace_id, span_id))
        except Exception as exc:
            return trace_banner(exc)

    @app.callback(
        Output("tv-json", "children"),
        Output("tv-json", "hidden"),
        Output("tv-json-show", "children"),
        Input("tv-json-show", "n_clicks"),
        State("tv-trace-id", "data"),
        State("tv-json", "hidden"),
        prevent_initial_call=True,
    )
    def raw_json(_n, trace_id, hidden):
        if not hidden:
            return no_update, True, "Show raw JSON"
        try:
            view = trace_view(services(), trace_id, max_spans=RAW_JSON_MAX_SPANS)
        except Exception as exc:
            return f"Cannot load the trace: {exc}", False, "Hide raw JSON"
        if view["span_count"] > len(view["spans"]):
            view["note"] = (
                f"first {len(view['spans'])} of {view['span_count']} spans; the API link has them"
                " all"
            )
        return json.dumps(view, indent=2, default=str), False, "Hide raw JSON"
