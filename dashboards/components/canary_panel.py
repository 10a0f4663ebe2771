"""The release review panel: everything a reviewer needs to let a canary go on, or not.

`render(review)` draws the review JSON (views/review.review_view) as one panel: the verdict with
its reasons and the recommended action first (the answer), then the evidence in the order it
is read: side-by-side figures with the tests and gates, the latency distributions overlaid,
success rate and p99 over time with the weight changes marked, the graph diff, where time goes
by version, and the audit entries. The releases page embeds the same panel; the review page
wraps it with its controls. `review_figures` gives the panel's charts to the HTML report too,
so the page and the report cannot disagree.

Ids are `{prefix}-...` (default "rv"), so two panels can live in one app.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from dash import dcc, html
from plotly.offline import get_plotlyjs

from dashboards.components import charts
from dashboards.components import format as fmt
from dashboards.components.markers import add_weight_markers, shade_window
from dashboards.components.release_view import objects_text, verdict_note
from mesh.canary.worse import worse_than_baseline
from reports import release_report as report

VERDICT_COLORS = report.VERDICT_COLORS
VERDICT_LABELS = report.VERDICT_LABELS
CHART_HEIGHT = 260
STATUS_CLASS = {
    "pass": "rv-pass",
    "fail": "rv-fail",
    "no_data": "rv-muted",
    "not_judged": "rv-muted",
    "inconclusive": "rv-inconclusive",
}


# --------------------------------------------------------------------------------------------
# Figures (plotly only: shared with the HTML report)


def _colors(review: Mapping[str, Any]) -> dict[str, str]:
    return charts.version_colors([review["baseline"], review["canary"]])


def _bucket_label(le: str) -> str:
    if le == "+Inf":
        return "more"
    value = float(le)
    return f"≤{value / 1000:g} s" if value >= 1000 else f"≤{value:g} ms"


def latency_distribution_figure(review: Mapping[str, Any]) -> go.Figure:
    """Both versions' request-duration histograms as shares of their own requests, overlaid,
    with the p99 gate marked at its bucket bound."""
    a = review["analysis"]
    colors = _colors(review)
    sides = [(review["baseline"], a["baseline"]), (review["canary"], a["canary"])]
    shares = []
    for _, f in sides:
        total = sum(b["count"] for b in f["buckets"])
        shares.append({b["le"]: b["count"] / total if total else 0.0 for b in f["buckets"]})
    order = sorted(
        {le for s in shares for le in s}, key=lambda le: math.inf if le == "+Inf" else float(le)
    )
    bounds = report.trim_buckets(order, *shares)
    labels = [_bucket_label(le) for le in bounds]
    fig = go.Figure(
        layout=charts.base_layout(
            "Latency distribution", "% of requests", uirevision="latency-dist", height=CHART_HEIGHT
        )
    )
    fig.update_layout(
        barmode="overlay",
        hovermode="x unified",
        xaxis={"type": "category", "title": {"text": "request duration (bucket upper bound)"}},
        margin={"b": 44},
    )
    for (version, f), share in zip(sides, shares, strict=True):
        y = [100.0 * share.get(le, 0.0) for le in bounds]
        p99 = fmt.ms(f.get("p99_ms"))
        fig.add_trace(
            go.Bar(
                x=labels,
                y=y,
                name=f"{version} (p99 {p99})",
                marker={"color": colors[version], "line": {"width": 0}},
                opacity=0.6,
                hovertemplate="%{y:.1f}%<extra>" + version + "</extra>",
            )
        )
    gate = a["config"]["max_p99_ms"]
    gate_le = next((i for i, le in enumerate(bounds) if le != "+Inf" and float(le) >= gate), None)
    if gate_le is not None:
        fig.add_vline(
            x=gate_le + 0.5,
            line={"color": fmt.HEALTH_COLORS["failure"], "width": 1, "dash": "dot"},
            annotation_text=f"p99 gate {fmt.ms(gate)}",
            annotation_position="top left",
            annotation_font={"size": 10, "color": fmt.HEALTH_COLORS["failure"]},
        )
    return fig


def _times(series: Mapping[str, Any]) -> list[float]:
    step = _step_s(series["step"])
    start, end = float(series["start"]), float(series["end"])
    return [start + k * step for k in range(int((end - start) // step) + 1)]


def _step_s(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return int(text[:-1]) * units[text[-1]]


def _mark(fig: go.Figure, review: Mapping[str, Any], times: Sequence[float]) -> go.Figure:
    """Weight markers, the graph diff's two windows, and the chart's time range, which runs to
    the review's instant: the series end on a whole step, a change just now would fall off."""
    lo, hi = times[0], max(times[-1], float(review["at"]))
    diff = review.get("diff") or {}
    if "before" in diff and "after" in diff:
        shade_window(fig, max(diff["before"]["start"], lo), diff["before"]["end"], "before")
        shade_window(fig, max(diff["after"]["start"], lo), diff["after"]["end"], "now")
    add_weight_markers(fig, review.get("markers") or [], start=lo, end=hi)
    for trace in fig.data:  # a version that just started has a point or two: show them as dots
        if sum(y is not None for y in trace.y or ()) < 3:
            trace.update(mode="lines+markers", marker={"size": 6})
    fig.update_xaxes(
        range=[charts.to_ms(lo), charts.to_ms(hi)], tickformat=charts.time_tickformat(hi - lo)
    )
    fig.update_layout(margin={"t": 44})
    return fig


def success_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """Success rate over time per version, the success gate drawn, weight changes marked."""
    series = review.get("series") or {}
    if "error" in series or not series.get("success_rate"):
        return None
    times = _times(series)
    gate = review["analysis"]["config"]["min_success_rate"]
    values = [v for pts in series["success_rate"].values() for _, v in pts]
    floor = max(0.0, min(gate - 0.01, min(values, default=1.0) - 0.01)) * 100
    fig = charts.version_lines(
        series["success_rate"],
        times,
        _colors(review),
        title="Success rate over time",
        y_title="success %",
        hover="%{y:.2f}%",
        uirevision=f"{review['service']}-success",
        scale=100.0,
        height=CHART_HEIGHT,
        y_range=(floor, 100.4),
    )
    fig.add_hline(
        y=gate * 100,
        line={"color": fmt.HEALTH_COLORS["failure"], "width": 1, "dash": "dot"},
        annotation_text=f"success gate {gate * 100:g}%",
        annotation_position="bottom left",
        annotation_font={"size": 10, "color": fmt.HEALTH_COLORS["failure"]},
    )
    return _mark(fig, review, times)


def p99_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """p99 latency over time per version, the latency gate drawn, weight changes marked."""
    series = review.get("series") or {}
    if "error" in series or not series.get("p99_ms"):
        return None
    times = _times(series)
    gate = review["analysis"]["config"]["max_p99_ms"]
    fig = charts.version_lines(
        series["p99_ms"],
        times,
        _colors(review),
        title="p99 latency over time",
        y_title="p99 ms",
        hover="%{y:.0f} ms",
        uirevision=f"{review['service']}-p99",
        height=CHART_HEIGHT,
    )
    fig.add_hline(
        y=gate,
        line={"color": fmt.HEALTH_COLORS["failure"], "width": 1, "dash": "dot"},
        annotation_text=f"p99 gate {fmt.ms(gate)}",
        annotation_position="top left",
        annotation_font={"size": 10, "color": fmt.HEALTH_COLORS["failure"]},
    )
    return _mark(fig, review, times)


def time_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """Median self time per request by service, one bar per version, biggest service on top
    (medians of the like-for-like sample; report.time_findings says which gaps are real)."""
    tbv = review.get("time_by_version") or {}
    if "error" in tbv or not any(v["traces"] for v in tbv.get("versions", [])):
        return None
    colors = _colors(review)
    services = list(reversed(tbv["services"]))
    fig = go.Figure(
        layout=charts.base_layout(
            "Where time goes", "", uirevision="time-by-version", height=70 + 34 * len(services)
        )
    )
    fig.update_layout(
        barmode="group",
        hovermode="y unified",
        xaxis={"type": "linear", "title": {"text": "median self time per request (ms)"}},
        yaxis={"type": "category", "title": {"text": ""}, "automargin": True},
        margin={"l": 10, "b": 40},
    )
    for row in tbv["versions"]:
        if not row["traces"]:
            continue
        values = row.get("median_ms") or row["self_ms"]
        x = [values.get(name, 0.0) for name in services]
        fig.add_trace(
            go.Bar(
                x=x,
                y=services,
                orientation="h",
                name=f"{row['version']} ({row['traces']} traces)",
                marker={"color": colors.get(row["version"], "#8a939c")},
                text=[fmt.ms(v) if v else "" for v in x],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x:.1f} ms<extra>" + row["version"] + "</extra>",
            )
        )
    return fig


def review_figures(review: Mapping[str, Any]) -> list[tuple[str, str, go.Figure]]:
    """(key, heading, figure) for every chart the panel draws, in panel order."""
    out: list[tuple[str, str, go.Figure]] = [
        ("latency-dist", "Latency distribution", latency_distribution_figure(review))
    ]
    for key, heading, build in (
        ("success", "Success rate over time", success_figure),
        ("p99", "p99 latency over time", p99_figure),
        ("time", "Where time goes by version", time_figure),
    ):
        fig = build(review)
        if fig is not None:
            out.append((key, heading, fig))
    return out


# --------------------------------------------------------------------------------------------
# Components


def _facts(review: Mapping[str, Any], prefix: str) -> list[html.Span]:
    """What the verdict judged: the pair, the window, the split now, when the canary started."""
    a = review["analysis"]
    split = review.get("split") or a.get("split")
    facts = [
        html.Span(
            f"{review['canary']} (canary) vs {review['baseline']} (baseline) · "
            f"{report.window_text(review)} up to {_clock(review['at'])} UTC",
            id=f"{prefix}-window",
        )
    ]
    if split:
        facts.append(
            html.Span(
                "split now: " + " / ".join(f"{v} {w}%" for v, w in split.items() if w),
                id=f"{prefix}-split",
            )
        )
    start = review.get("start")
    if start and a["verdict"] != "nothing_to_judge":
        facts.append(html.Span(f"canary started {_clock(start['when'])} UTC"))
    return facts


def _next_step(review: Mapping[str, Any], prefix: str, on_releases: bool) -> html.Div:
    """The recommended action as a link into the releases page's preview, or why there is none."""
    verdict = review["analysis"]["verdict"]
    action = review.get("action") or {}
    button_class = {
        "rollback": "md-button rv-action rv-action-rollback",
        "promote": "md-button rv-action rv-action-promote",
        "continue": "md-button rv-action rv-action-continue",
    }.get(verdict, "md-button rv-action")
    if action.get("action"):
        return html.Div(
            [
                html.A(
                    action.get("label", "Open releases"),
                    href=action.get("href", "/releases"),
                    className=button_class,
                    id=f"{prefix}-action",
                    title="Opens the releases page with this action's preview: nothing "
                    "changes until you confirm there",
                ),
                html.Span("previews first, then asks to confirm", className="rv-small"),
            ],
            className="rv-verdict-action",
        )
    return html.Div(
        [
            html.Span(action.get("label", ""), className="rv-small", id=f"{prefix}-no-action")
            if verdict == "hold"
            else None,
            None
            if on_releases
            else dcc.Link(
                "Open the releases page",
                href=action.get("href", "/releases"),
                className="rv-small",
                id=f"{prefix}-releases-link",
            ),
        ],
        className="rv-verdict-action rv-verdict-noaction",
    )


def verdict_block(
    review: Mapping[str, Any], prefix: str = "rv", on_releases: bool = False
) -> html.Div:
    """The answer first: the verdict, its headline and reasons in plain words, the evidence
    window, and the next step (none when it would change nothing); the statistics behind the
    reasons one click away."""
    a = review["analysis"]
    verdict = a["verdict"]
    facts = _facts(review, prefix)
    step = _next_step(review, prefix, on_releases)
    # The headline carries the first reason; the list holds the others (none: no list).
    reasons = report.plain_reasons(a)
    headline = a.get("headline") or VERDICT_LABELS.get(verdict, verdict)
    more_reasons = [r for r in reasons if not headline.endswith(r)]
    stats = html.Details(
        [
            html.Summary("Statistics behind this verdict"),
            html.Ul([html.Li(r) for r in a["reasons"]], className="rv-stat-lines"),
        ],
        className="rv-stats",
        id=f"{prefix}-stats",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Div("Verdict", className="rv-verdict-kicker"),
                    html.Div(
                        VERDICT_LABELS.get(verdict, verdict),
                        className="rv-verdict-word",
                        id=f"{prefix}-verdict-word",
                    ),
                ],
                className="rv-verdict-head",
            ),
            html.Div(
                [
                    html.P(headline, className="rv-headline", id=f"{prefix}-headline"),
                    html.Ul(
                        [html.Li(r) for r in more_reasons],
                        className="rv-reasons",
                        id=f"{prefix}-reasons",
                    ),
                    stats if verdict != "nothing_to_judge" else None,
                    html.Div(facts, className="rv-facts"),
                ],
                className="rv-verdict-body",
            ),
            step,
        ],
        className=f"rv-verdict rv-verdict-{verdict}",
        id=f"{prefix}-verdict",
        style={"--rv-color": VERDICT_COLORS.get(verdict, "#8a939c")},
        **{"data-verdict": verdict},
    )


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(float(t), tz=dt.UTC).strftime("%H:%M:%S")


def figures_card(review: Mapping[str, Any], prefix: str = "rv") -> html.Div:
    a = review["analysis"]
    colors = _colors(review)
    b, c = a["baseline"], a["canary"]

    def head(version: str, role: str) -> html.Th:
        return html.Th(
            [html.I(style={"background": colors[version]}), version, html.Small(role)],
            className="md-num rv-version-head",
        )

    rows = []
    for (label, bv, cv), worse in zip(report.figure_rows(a), _worse_flags(b, c), strict=True):
        rows.append(
            html.Tr(
                [
                    html.Th(label),
                    html.Td(bv, className="md-num"),
                    html.Td(cv, className="md-num rv-worse" if worse else "md-num"),
                ]
            )
        )
    gates = [
        html.Li(
            [
                html.Span(
                    report.GATE_MARKS.get(g["status"], g["status"]),
                    className=f"rv-gate-status {STATUS_CLASS.get(g['status'], '')}",
                ),
                html.Span(g["reason"], className="rv-gate-reason"),
            ],
            className="rv-gate",
        )
        for g in a["gates"]
    ]
    return html.Div(
        [
            html.H3("Figures"),
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th(""),
                                head(review["baseline"], "baseline"),
                                head(review["canary"], "canary"),
                            ]
                        )
                    ),
                    html.Tbody(rows),
                ],
                className="md-table rv-figures",
                id=f"{prefix}-figures",
            ),
            html.Details(
                [
                    html.Summary("Tests and gates (p-values, intervals)"),
                    html.Ul([html.Li(t) for t in report.test_lines(a)], className="rv-tests"),
                    html.Ul(gates, className="rv-gates", id=f"{prefix}-gates"),
                ],
                className="rv-stats",
            ),
        ],
        className="md-card rv-card",
    )


def _worse_flags(b: Mapping[str, Any], c: Mapping[str, Any]) -> list[bool]:
    """Which canary figures are worse than the baseline's, to tint them (rows of figure_rows)."""
    return list(worse_than_baseline(b, c).values())


def _graph_card(
    title: str, fig: go.Figure | None, key: str, prefix: str, note: Any = None
) -> html.Div:
    body: Any
    if fig is None:
        body = html.Div(note or "No data for this chart.", className="md-hint")
    else:
        body = dcc.Graph(
            id=f"{prefix}-{key}-graph",
            figure=fig,
            config=charts.png_config(f"meshdash-review-{key}"),
            style={"height": f"{fig.layout.height or CHART_HEIGHT}px"},
        )
    children = [html.H3(title), body]
    if fig is not None and note:
        children.append(html.Div(note, className="md-hint rv-small"))
    return html.Div(children, className="md-card rv-card")


def diff_card(review: Mapping[str, Any], prefix: str = "rv") -> html.Div:
    diff = review.get("diff") or {}
    title = html.H3("Graph diff: before the canary → now")
    if "error" in diff:
        return html.Div(
            [title, html.P(f"Not available: {diff['error']}", className="md-hint")],
            className="md-card rv-card",
            id=f"{prefix}-diff",
        )
    if "note" in diff:
        return html.Div(
            [title, html.P(diff["note"], className="md-hint")],
            className="md-card rv-card",
            id=f"{prefix}-diff",
        )
    t = diff["thresholds"]
    info = html.P(
        f"Workload graph of {review['namespace']}: {_clock(diff['before']['start'])}–"
        f"{_clock(diff['before']['end'])} against {_clock(diff['after']['start'])}–"
        f"{_clock(diff['after']['end'])} UTC. Listed: appeared or gone, or requests/s moved ≥"
        f" {t['rps_ratio'] * 100:g}%, 5xx ≥ {t['error_rate_pts'] * 100:g} pts, p95 ≥"
        f" {t['p95_ratio'] * 100:g}%. Unchanged: {diff['unchanged']['nodes']} nodes,"
        f" {diff['unchanged']['edges']} edges.",
        className="md-hint rv-small",
    )
    notes = [html.P(n, className="md-hint rv-small") for n in diff.get("notes", [])]
    if not diff["elements"]:
        body: Any = html.P(
            "Nothing appeared, disappeared or changed beyond the thresholds.", className="rv-calm"
        )
    else:
        rows = []
        for e in diff["elements"]:
            by = {m["metric"]: m for m in e["metrics"]}
            cells = []
            for k in ("rps", "error_rate", "p95_ms"):
                m = by.get(k)
                if m is None:
                    cells.append(html.Td("–", className="md-num rv-muted"))
                    continue
                cls = "md-num rv-sig" + (" rv-worse" if m["worse"] else "")
                if not m["significant"]:  # within its threshold: the value now, quietly
                    cls = "md-num rv-muted"
                cells.append(html.Td(report.diff_cell(m), className=cls))
            rows.append(
                html.Tr(
                    [
                        html.Td(
                            html.Span(
                                report.CHANGE_LABELS[e["change"]],
                                className=f"rv-change rv-change-{e['change']}",
                            )
                        ),
                        html.Td(
                            [html.Span(e["label"]), html.Small(e["kind"], className="rv-kind")],
                            className="rv-element",
                        ),
                        *cells,
                    ],
                    className=f"rv-diff-row rv-diff-{e['change']}",
                )
            )
        body = html.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("Change"),
                            html.Th("Node or edge"),
                            html.Th("Requests/s", className="md-num"),
                            html.Th("5xx", className="md-num"),
                            html.Th("p95", className="md-num"),
                        ]
                    )
                ),
                html.Tbody(rows),
            ],
            className="md-table rv-diff-table",
        )
    return html.Div([title, body, info, *notes], className="md-card rv-card", id=f"{prefix}-diff")


def audit_card(review: Mapping[str, Any], prefix: str = "rv") -> html.Div:
    audit = review.get("audit") or []
    title = html.H3("Audit entries")
    if review.get("routing_error"):
        return html.Div(
            [title, html.P(f"Not available: {review['routing_error']}", className="md-hint")],
            className="md-card rv-card",
        )
    if not audit:
        return html.Div(
            [title, html.P("No recorded change for this service.", className="md-hint")],
            className="md-card rv-card",
            id=f"{prefix}-audit",
        )
    rows = [
        html.Tr(
            [
                html.Td(e["time"].replace("T", " ").replace("Z", ""), className="rv-nowrap"),
                html.Td(e["who"]),
                html.Td(e["action"]),
                html.Td(e.get("summary", "")),
                html.Td(" · ".join(x for x in (e.get("reason") or "–", verdict_note(e)) if x)),
                html.Td(objects_text(e), className="rv-objects"),
            ],
            className="rv-audit-row",
        )
        for e in audit
    ]
    return html.Div(
        [
            title,
            html.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th(h)
                                for h in (
                                    "Time (UTC)",
                                    "Who",
                                    "Action",
                                    "Change",
                                    "Reason",
                                    "Objects",
                                )
                            ]
                        )
                    ),
                    html.Tbody(rows),
                ],
                className="md-table rv-audit-table",
            ),
        ],
        className="md-card rv-card",
        id=f"{prefix}-audit",
    )


def render(review: Mapping[str, Any], prefix: str = "rv") -> html.Div:
    """The whole panel for one review (see the module docstring)."""
    figs = {key: fig for key, _, fig in review_figures(review)}
    series = review.get("series") or {}
    series_note = f"Not available: {series['error']}" if "error" in series else None
    tbv = review.get("time_by_version") or {}
    time_note: Any = (
        f"Not available: {tbv['error']}"
        if "error" in tbv
        else html.Div(
            [
                html.Span(
                    f"Traces of the last {tbv.get('window', review['window'])}, split by the "
                    f"version of {review['service']} that answered "
                    f"({tbv.get('jaeger_service', '')})."
                ),
                html.Ul(
                    [html.Li(t) for t in report.time_findings(tbv)], id=f"{prefix}-time-findings"
                ),
            ]
        )
    )
    shown = [m for m in review.get("markers") or [] if m["when"] >= series.get("start", 0)]
    marker_note = (
        f"Dashed lines: weight changes from the audit log ({len(shown)} in this time)."
        " Shaded: the graph diff's windows."
        if shown
        else "No weight change recorded in this time."
    )
    return html.Div(
        [
            verdict_block(review, prefix),
            html.Div(
                [
                    figures_card(review, prefix),
                    _graph_card(
                        "Latency distribution",
                        figs.get("latency-dist"),
                        "latency-dist",
                        prefix,
                        "Share of each version's requests per histogram bucket, overlaid.",
                    ),
                ],
                className="rv-row",
            ),
            html.Div(
                [
                    _graph_card(
                        "Success rate over time",
                        figs.get("success"),
                        "success",
                        prefix,
                        series_note or marker_note,
                    ),
                    _graph_card(
                        "p99 latency over time",
                        figs.get("p99"),
                        "p99",
                        prefix,
                        series_note or marker_note,
                    ),
                ],
                className="rv-row",
            ),
            diff_card(review, prefix),
            html.Div(
                [
                    _graph_card(
                        "Where time goes by version", figs.get("time"), "time", prefix, time_note
                    ),
                    audit_card(review, prefix),
                ],
                className="rv-row",
            ),
        ],
        className="rv-panel",
        id=f"{prefix}-panel",
    )


# --------------------------------------------------------------------------------------------
# Report files


def report_filename(review: Mapping[str, Any], ext: str) -> str:
    stamp = dt.datetime.fromtimestamp(float(review["at"]), tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        f"review-{review['namespace']}-{review['service']}-{review['canary']}-vs-"
        f"{review['baseline']}-{stamp}.{ext}"
    )


def report_document(review: Mapping[str, Any], kind: str) -> tuple[str, str, str]:
    """(filename, mimetype, text) of the Markdown ("md") or self-contained HTML ("html") report."""
    if kind == "md":
        return report_filename(review, "md"), "text/markdown", report.report_markdown(review)
    if kind != "html":
        raise ValueError(f"unknown report kind {kind!r}")
    config = {"displaylogo": False, "responsive": True}
    fragments = [
        (heading, pio.to_html(fig, include_plotlyjs=False, full_html=False, config=config))
        for _, heading, fig in review_figures(review)
    ]
    text = report.report_html(review, fragments, plotly_js=get_plotlyjs())
    return report_filename(review, "html"), "text/html", text


def verdict_panel(summary: Mapping[str, Any], full_review_href: str, prefix: str) -> html.Div:
    """The releases page's canary panel: the verdict, its reasons and the figures that decide
    it, one row per version, with the way into the full review."""
    a = summary["analysis"]
    colors = _colors(summary)
    wanted = ("Requests", "Success rate", "p95", "p99")
    every = report.figure_rows(a)
    worse = dict(zip((r[0] for r in every), _worse_flags(a["baseline"], a["canary"]), strict=True))
    rows = [r for r in every if r[0] in wanted]

    def version_row(version: str, role: str, column: int) -> html.Tr:
        cells = [
            html.Td(
                r[column],
                className="md-num rv-worse" if column == 2 and worse[r[0]] else "md-num",
            )
            for r in rows
        ]
        head = html.Th([html.I(style={"background": colors[version]}), version, html.Small(role)])
        return html.Tr([head, *cells], className="rv-version-head")

    table = html.Table(
        [
            html.Thead(html.Tr([html.Th("")] + [html.Th(r[0], className="md-num") for r in rows])),
            html.Tbody(
                [
                    version_row(summary["baseline"], "baseline", 1),
                    version_row(summary["canary"], "canary", 2),
                ]
            ),
        ],
        className="md-table rv-figures",
        id=f"{prefix}-figures",
    )
    more = html.P(
        [
            f"Last {summary['window']}. ",
            dcc.Link(
                "Full review: latency distributions, success over time, graph diff, traces, report",
                href=full_review_href,
                id=f"{prefix}-review-link",
            ),
        ],
        className="md-hint",
    )
    head = verdict_block(summary, prefix, on_releases=True)
    return html.Div([head, table, more], className="rv-compact")
