"""Plotly figures shared by every page that draws time series.

One look everywhere: health colours as the topology (palette.HEALTH_COLORS), one colour per
version that stays the same on every chart of a page, time in UTC, gaps where data is missing
(never zeros), hover values, legend toggles, and plotly's own PNG download.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from presentation.palette import (
    CODE_COLORS,
    GRPC_ERROR_COLORS,
    HEALTH_COLORS,
    TEXT,
    VERSION_PALETTE,
)

PointsJson = Sequence[Sequence[float]]  # [[t, v], ...] as the API returns them


def plotly_text(value: Any) -> str:
    """Text from outside (a label, a user name, a reason, a span's operation) as Plotly shows
    it literally: Plotly reads <a href>, <b>, <span style> and entities in names, hovers,
    annotations and tick labels. Quotes stay: outside a tag they are text, and Plotly would
    show &quot; as typed (it decodes only a few named entities)."""
    return html.escape(str(value), quote=False)


def template_text(value: Any) -> str:
    """plotly_text for a piece of a hover template, where `%{...}` would also be read."""
    return plotly_text(value).replace("%", "&#37;")


SeriesJson = Mapping[str, PointsJson]

FONT = "Inter, Segoe UI, Helvetica, Arial, sans-serif"
GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
SPARK_CONFIG: dict[str, Any] = {"displayModeBar": False, "responsive": False}


def png_config(filename: str) -> dict[str, Any]:
    """Graph config whose PNG download (plotly's camera button) is named after the view."""
    return {
        **GRAPH_CONFIG,
        "toImageButtonOptions": {**GRAPH_CONFIG["toImageButtonOptions"], "filename": filename},
    }


def time_tickformat(window_s: float) -> str:
    """Clock times for a day or less; dates beyond (hover always shows the full time)."""
    return "%H:%M" if window_s <= 86400 else "%b %d %H:%M"


_NUMBERED = re.compile(r"^v(\d+)$")


def version_colors(versions: Sequence[str]) -> dict[str, str]:
    """A colour per version, distinct within a page while the palette lasts.

    "vN" takes the N-th colour wherever it is free, so v2 is orange on the reviews page and on
    the reviews-v2 workload page alike; other names take the free colours in page order.
    """
    out: dict[str, str] = {}
    taken: set[int] = set()
    n = len(VERSION_PALETTE)
    for v in versions:
        m = _NUMBERED.match(v)
        if m and int(m.group(1)) >= 1 and (int(m.group(1)) - 1) % n not in taken:
            idx = (int(m.group(1)) - 1) % n
            out[v] = VERSION_PALETTE[idx]
            taken.add(idx)
    free = [i for i in range(n) if i not in taken] or list(range(n))
    k = 0
    for v in versions:
        if v not in out:
            out[v] = VERSION_PALETTE[free[k % len(free)]]
            k += 1
    return {v: out[v] for v in versions}


def code_color(code_class: str) -> str:
    if code_class in CODE_COLORS:
        return CODE_COLORS[code_class]
    if code_class.startswith("grpc:"):
        return GRPC_ERROR_COLORS[sum(map(ord, code_class)) % len(GRPC_ERROR_COLORS)]
    return HEALTH_COLORS["idle"]


def to_ms(t: float) -> float:
    """Plotly reads numbers on a date axis as milliseconds since the epoch, shown in UTC."""
    return t * 1000.0


def _xy(points: PointsJson, times: Sequence[float], scale: float = 1.0):
    """Values on the page's shared time axis, None (a gap) where a timestamp has no point."""
    by_t = {round(float(t), 3): v for t, v in points}
    return [to_ms(t) for t in times], [
        None if (v := by_t.get(round(t, 3))) is None else v * scale for t in times
    ]


def base_layout(title: str, y_title: str, *, uirevision: str, height: int = 300) -> dict[str, Any]:
    return {
        # The card around the chart carries the visible heading (`title` is for the page's
        # card); the plot spends no room on one, and png_config names the PNG file instead.
        "template": "plotly_white",
        "height": height,
        "margin": {"l": 56, "r": 14, "t": 34, "b": 26},
        "font": {"family": FONT, "size": 12, "color": TEXT},
        "hovermode": "x unified",
        "hoverlabel": {"namelength": -1},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.02,
            "xanchor": "left",
            "x": 0.0,
            "title": {"text": ""},
        },
        "showlegend": True,  # name the version even when there is only one
        "xaxis": {
            "type": "date",
            "title": {"text": ""},
            "showgrid": True,
            "hoverformat": "%H:%M:%S UTC",
            "ticks": "outside",
            "ticklen": 6,
            "tickcolor": "rgba(0,0,0,0)",
        },
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "zeroline": True},
        "uirevision": uirevision,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
    }


def version_lines(
    series: SeriesJson,
    times: Sequence[float],
    colors: Mapping[str, str],
    *,
    title: str,
    y_title: str,
    hover: str,
    uirevision: str,
    scale: float = 1.0,
    height: int = 300,
    y_range: Sequence[float] | None = None,
) -> go.Figure:
    """One line per version on shared axes; `hover` is a d3 format for the value ("%{y:.2f} rps")."""
    fig = go.Figure(layout=base_layout(title, y_title, uirevision=uirevision, height=height))
    for version, color in colors.items():
        if version not in series:
            continue
        x, y = _xy(series[version], times, scale)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                name=plotly_text(version),
                mode="lines",
                line={"color": color, "width": 2},
                connectgaps=False,
                hovertemplate=hover + "<extra>%{fullData.name}</extra>",
                legendgroup=version,
            )
        )
    if y_range is not None:
        fig.update_yaxes(range=list(y_range), rangemode="normal")
    return fig


def success_chart(
    series: SeriesJson,
    times: Sequence[float],
    colors: Mapping[str, str],
    *,
    failure_below: float,
    uirevision: str,
    height: int = 300,
) -> go.Figure:
    """Success % per version, with the failure zone (5xx ratio at or above the threshold) shaded."""
    lowest = min((v for pts in series.values() for _, v in pts), default=1.0)
    floor = min(failure_below - 0.05, lowest - 0.02)
    floor = max(0.0, floor) * 100
    fig = version_lines(
        series,
        times,
        colors,
        title="Success rate by version",
        y_title="success %",
        hover="%{y:.2f}%",
        uirevision=uirevision,
        scale=100.0,
        height=height,
        y_range=(floor, 100.8),
    )
    fig.add_hrect(
        y0=floor,
        y1=failure_below * 100,
        fillcolor=HEALTH_COLORS["failure"],
        opacity=0.07,
        line_width=0,
        layer="below",
    )
    fig.add_hline(
        y=failure_below * 100,
        line={"color": HEALTH_COLORS["failure"], "width": 1, "dash": "dot"},
        annotation_text=f"failure < {failure_below * 100:g}%",
        annotation_position="bottom left",
        annotation_font={"size": 10, "color": HEALTH_COLORS["failure"]},
    )
    return fig


def codes_chart(
    codes: Mapping[str, SeriesJson],
    times: Sequence[float],
    versions: Sequence[str],
    *,
    uirevision: str,
    height: int = 300,
) -> go.Figure:
    """Requests/s by response class, stacked, one small panel per version on a shared y axis.

    A panel per version (instead of one stack of class x version) keeps the stack readable and
    shows at a glance which version an error burst belongs to.
    """
    shown = [v for v in versions if any(v in by_v for by_v in codes.values())] or list(versions)
    cols = max(1, len(shown))
    fig = make_subplots(
        rows=1,
        cols=cols,
        shared_yaxes=True,
        shared_xaxes=True,
        subplot_titles=[plotly_text(v) for v in shown],
        horizontal_spacing=0.04 if cols > 1 else 0.0,
    )
    fig.update_layout(
        base_layout(
            "Response codes by version (stacked)", "rps", uirevision=uirevision, height=height
        )
    )
    for cls, by_version in codes.items():
        color = code_color(cls)
        for col, version in enumerate(shown, start=1):
            if version not in by_version:
                continue
            x, y = _xy(by_version[version], times)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=plotly_text(cls),
                    legendgroup=cls,
                    showlegend=col == 1
                    or not any(version in codes[cls] for version in shown[: col - 1]),
                    mode="lines",
                    stackgroup=f"stack-{version}",
                    line={"color": color, "width": 0.5},
                    fillcolor=color,
                    connectgaps=False,
                    hovertemplate=f"{template_text(version)} "
                    + "%{y:.2f} rps<extra>"
                    + template_text(cls)
                    + "</extra>",
                ),
                row=1,
                col=col,
            )
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="rps", row=1, col=1)
    # Narrow panels side by side: fewer ticks, and none spilling into the next panel.
    fig.update_xaxes(type="date", nticks=4, ticklabeloverflow="hide past domain")
    # Legend above the panel titles, which name the versions in their colours.
    fig.update_layout(legend={"y": 1.09}, margin={"t": 48})
    colors = {plotly_text(v): c for v, c in version_colors(versions).items()}
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 12, "color": colors.get(annotation.text, "#52606d")}
    return fig


def sparkline(points: PointsJson, times: Sequence[float], color: str, *, unit: str) -> go.Figure:
    """A tiny line with hover, no axes: the shape of the last window at a glance."""
    x, y = _xy(points, times)
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            line={"color": color, "width": 1.5},
            fill="tozeroy",
            fillcolor=_transparent(color, 0.12),
            connectgaps=False,
            hovertemplate="%{x|%H:%M:%S} %{y:.3g} " + unit + "<extra></extra>",
        )
    )
    fig.update_layout(
        height=34,
        width=170,
        margin={"l": 0, "r": 0, "t": 2, "b": 2},
        xaxis={"visible": False, "type": "date"},
        yaxis={"visible": False, "rangemode": "tozero"},
        showlegend=False,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hoverlabel={"font": {"size": 11}},
    )
    return fig


def _transparent(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def tcp_chart(
    bytes_in: SeriesJson,
    bytes_out: SeriesJson,
    times: Sequence[float],
    colors: Mapping[str, str],
    *,
    uirevision: str,
    height: int = 300,
) -> go.Figure:
    """TCP bytes/s per version: solid into the target, dashed out of it."""
    fig = go.Figure(
        layout=base_layout(
            "TCP bytes per second by version", "bytes/s", uirevision=uirevision, height=height
        )
    )
    for direction, series, dash in (("in", bytes_in, "solid"), ("out", bytes_out, "dash")):
        for version, color in colors.items():
            if version not in series:
                continue
            x, y = _xy(series[version], times)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=plotly_text(f"{version} {direction}"),
                    legendgroup=version,
                    mode="lines",
                    line={"color": color, "width": 2, "dash": dash},
                    connectgaps=False,
                    hovertemplate="%{y:.3s}B/s<extra>%{fullData.name}</extra>",
                )
            )
    return fig


def empty_figure() -> go.Figure:
    """A figure with nothing on it and no axes: what a chart shows before (or without) data."""
    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        xaxis={"visible": False},
        yaxis={"visible": False},
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        height=60,
    )
    return fig
