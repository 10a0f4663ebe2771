"""The release review panel: everything a reviewer needs to let a canary go on, or not.

`render(review)` draws the review JSON (views/review.review_view) as one panel: the verdict with
its reasons and the recommended action first (the answer), then the evidence in the order it
is read: side-by-side figures with the tests and gates, the latency distributions overlaid,
success rate and p99 over time with the weight changes marked, the graph diff, where time goes
by version, and the audit entries. The releases page embeds the same panel; the review page
wraps it with its controls. The charts are reports/review_charts.py's, the same figures the HTML
report embeds, so the page and the report cannot disagree.

Ids are `{prefix}-...` (default "rv"), so two panels can live in one app.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboards.components.release_view import objects_text, verdict_note
from mesh.canary.worse import worse_than_baseline
from presentation import charts
from presentation.palette import HEALTH_COLORS, VERDICT_COLORS
from reports import release_report as report
from reports.review_charts import CHART_HEIGHT, review_colors, review_figures

VERDICT_LABELS = report.VERDICT_LABELS
STATUS_CLASS = {
    "pass": "rv-pass",
    "fail": "rv-fail",
    "no_data": "rv-muted",
    "not_judged": "rv-muted",
    "inconclusive": "rv-inconclusive",
}


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
            id=f"{prefix}-window-facts",  # not "-window": the page's window dropdown has that id
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
        style={"--rv-color": VERDICT_COLORS.get(verdict, HEALTH_COLORS["idle"])},
        **{"data-verdict": verdict},
    )


def _clock(t: float) -> str:
    return dt.datetime.fromtimestamp(float(t), tz=dt.UTC).strftime("%H:%M:%S")


def figures_card(review: Mapping[str, Any], prefix: str = "rv") -> html.Div:
    a = review["analysis"]
    colors = review_colors(review)
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
            html.P(
                # Not "now": every figure is a total, rate or quantile over the judged window.
                f"Window figures: totals and quantiles over {report.window_text(review)}.",
                className="md-hint rv-small",
                id=f"{prefix}-figures-when",
            ),
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
    title: str,
    fig: go.Figure | None,
    key: str,
    prefix: str,
    note: Any = None,
    *,
    wide: bool = False,
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
    return html.Div(children, className="md-card rv-card" + (" rv-wide" if wide else ""))


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
                        "Latency over time: p50, p95, p99",
                        figs.get("latency"),
                        "latency",
                        prefix,
                        series_note or marker_note,
                        wide=True,
                    ),
                    _graph_card(
                        "Success rate over time",
                        figs.get("success"),
                        "success",
                        prefix,
                        series_note or marker_note,
                    ),
                    _graph_card(
                        "Where time goes by version", figs.get("time"), "time", prefix, time_note
                    ),
                ],
                className="rv-row",
            ),
            diff_card(review, prefix),
            audit_card(review, prefix),
        ],
        className="rv-panel",
        id=f"{prefix}-panel",
    )


def verdict_panel(summary: Mapping[str, Any], full_review_href: str, prefix: str) -> html.Div:
    """The releases page's canary panel: the verdict, its reasons and the figures that decide
    it, one row per version, with the way into the full review."""
    a = summary["analysis"]
    colors = review_colors(summary)
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
            f"Window figures over {report.window_text(summary)}. ",
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
