"""The release review's charts: both versions' latency distributions, success rate and
p50/p95/p99 over time with the gates drawn and the weight changes marked, and where time goes by version.

Plotly only, from the review JSON (views/review.review_view): the review page draws these
figures and the HTML report embeds the same ones, so the page and the report cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from presentation import charts
from presentation.markers import add_weight_markers, shade_window
from presentation.numbers import ms
from presentation.palette import HEALTH_COLORS
from reports.release_report import trim_buckets

CHART_HEIGHT = 260


def review_colors(review: Mapping[str, Any]) -> dict[str, str]:
    return charts.version_colors([review["baseline"], review["canary"]])


def review_styles(review: Mapping[str, Any]) -> dict[str, charts.SeriesStyle]:
    """The versions' colour, dash and marker, as on the service page."""
    return charts.version_styles([review["baseline"], review["canary"]])


def _bucket_label(le: str) -> str:
    if le == "+Inf":
        return "more"
    value = float(le)
    return f"≤{value / 1000:g} s" if value >= 1000 else f"≤{value:g} ms"


def latency_distribution_figure(review: Mapping[str, Any]) -> go.Figure:
    """Both versions' request-duration histograms as shares of their own requests, overlaid,
    with the p99 gate marked at its bucket bound."""
    a = review["analysis"]
    colors = review_colors(review)
    sides = [(review["baseline"], a["baseline"]), (review["canary"], a["canary"])]
    shares = []
    for _, f in sides:
        total = sum(b["count"] for b in f["buckets"])
        shares.append({b["le"]: b["count"] / total if total else 0.0 for b in f["buckets"]})
    order = sorted(
        {le for s in shares for le in s}, key=lambda le: math.inf if le == "+Inf" else float(le)
    )
    bounds = trim_buckets(order, *shares)
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
        p99 = ms(f.get("p99_ms"))
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
            line={"color": HEALTH_COLORS["failure"], "width": 1, "dash": "dot"},
            annotation_text=f"p99 gate {ms(gate)}",
            annotation_position="top left",
            annotation_font={"size": 10, "color": HEALTH_COLORS["failure"]},
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
    for trace in fig.data:  # a version that just started has a point or two: show them all
        if sum(y is not None for y in trace.y or ()) < 3:
            trace.update(marker={"maxdisplayed": 0})
    fig.update_xaxes(
        range=[charts.to_ms(lo), charts.to_ms(hi)], tickformat=charts.time_tickformat(hi - lo)
    )
    fig.update_layout(margin={"t": 44})
    return fig


def success_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """Success rate over time per version on an axis fitted to the data, the success gate drawn
    where it falls inside it (else named at the edge), weight changes marked."""
    series = review.get("series") or {}
    if "error" in series or not series.get("success_rate"):
        return None
    times = _times(series)
    gate = review["analysis"]["config"]["min_success_rate"]
    fig = charts.success_chart(
        series["success_rate"],
        times,
        review_styles(review),
        failure_below=gate,
        uirevision=f"{review['service']}-success",
        height=CHART_HEIGHT,
        title="Success rate over time",
        gate_text=f"success gate {gate * 100:g}%",
    )
    return _mark(fig, review, times)


def latency_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """p50, p95 and p99 over time per version, each on an axis fitted to its data; the p99 gate
    a line only when the data comes near it, so 25 and 57 ms stay far apart under a 500 ms gate."""
    series = review.get("series") or {}
    if "error" in series or not series.get("p99_ms"):
        return None
    times = _times(series)
    fig = charts.latency_chart(
        {q: series.get(f"{q}_ms") or {} for q in charts.QUANTILE_PANELS},
        times,
        review_styles(review),
        uirevision=f"{review['service']}-latency",
        height=CHART_HEIGHT,
        gates={"p99": review["analysis"]["config"]["max_p99_ms"]},
    )
    return _mark(fig, review, times)


def time_figure(review: Mapping[str, Any]) -> go.Figure | None:
    """Median self time per request by service, one bar per version, biggest service on top
    (medians of the like-for-like sample; report.time_findings says which gaps are real)."""
    tbv = review.get("time_by_version") or {}
    if "error" in tbv or not any(v["traces"] for v in tbv.get("versions", [])):
        return None
    colors = review_colors(review)
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
                marker={"color": colors.get(row["version"], HEALTH_COLORS["idle"])},
                text=[ms(v) if v else "" for v in x],
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
        ("latency", "Latency over time: p50, p95, p99", latency_figure),
        ("time", "Where time goes by version", time_figure),
    ):
        fig = build(review)
        if fig is not None:
            out.append((key, heading, fig))
    return out
