"""Plotly figures shared by every page that draws time series.

One look everywhere: health colours as the topology (palette.HEALTH_COLORS), one colour per
version that stays the same on every chart of a page, time in UTC, gaps where data is missing
(never zeros), hover values, legend toggles, and plotly's own PNG download.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# A version's line pattern and marker go with its colour (the n-th colour takes the n-th
# pattern), so two versions with equal values still show both lines: the later one is drawn
# dashed over the earlier, and their markers differ. Colour alone would hide one of them.
VERSION_DASHES: tuple[str, ...] = (
    "solid",
    "dash",
    "dot",
    "dashdot",
    "longdash",
    "longdashdot",
    "8px,3px,2px,3px,2px,3px",
    "2px,6px",
)
VERSION_SYMBOLS: tuple[str, ...] = (
    "circle",
    "square",
    "diamond",
    "triangle-up",
    "x",
    "star",
    "cross",
    "triangle-down",
)
MARKERS_PER_LINE = 12  # enough to tell the lines apart, few enough to keep them lines


@dataclass(frozen=True, slots=True)
class SeriesStyle:
    """How one version is drawn on every chart: colour, line pattern and marker symbol."""

    color: str
    dash: str
    symbol: str

    def line(self, width: float = 2.0) -> dict[str, Any]:
        return {"color": self.color, "width": width, "dash": self.dash}

    def marker(self, size: int = 6) -> dict[str, Any]:
        return {
            "color": self.color,
            "symbol": self.symbol,
            "size": size,
            "maxdisplayed": MARKERS_PER_LINE,
            "line": {"color": self.color, "width": 1},
        }


def version_styles(versions: Sequence[str]) -> dict[str, SeriesStyle]:
    """Colour, dash and marker per version; the dash and marker follow the colour's place in the
    palette, so a version looks the same on the service, workload and review pages."""
    out = {}
    for version, color in version_colors(versions).items():
        idx = VERSION_PALETTE.index(color)
        out[version] = SeriesStyle(
            color,
            VERSION_DASHES[idx % len(VERSION_DASHES)],
            VERSION_SYMBOLS[idx % len(VERSION_SYMBOLS)],
        )
    return out


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
    styles: Mapping[str, SeriesStyle],
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
    for version, style in styles.items():
        if version not in series:
            continue
        fig.add_trace(_version_trace(version, style, series[version], times, hover, scale))
    if y_range is not None:
        fig.update_yaxes(range=list(y_range), rangemode="normal")
    return fig


def _version_trace(
    version: str,
    style: SeriesStyle,
    points: PointsJson,
    times: Sequence[float],
    hover: str,
    scale: float = 1.0,
    *,
    name: str | None = None,
    showlegend: bool = True,
) -> go.Scatter:
    x, y = _xy(points, times, scale)
    return go.Scatter(
        x=x,
        y=y,
        name=plotly_text(name or version),
        mode="lines+markers",
        line=style.line(),
        marker=style.marker(),
        connectgaps=False,
        hovertemplate=hover + "<extra>%{fullData.name}</extra>",
        legendgroup=version,
        showlegend=showlegend,
    )


def _values(series: Mapping[str, PointsJson], scale: float = 1.0) -> list[float]:
    return [float(v) * scale for pts in series.values() for _, v in pts if v is not None]


def success_range(values_pct: Sequence[float]) -> tuple[float, float]:
    """The success axis fits the data: from a little under the lowest value to just above 100%,
    so 99.2% and 99.9% stay apart whatever the failure threshold is."""
    lowest = min(values_pct, default=100.0)
    pad = max(0.2, (100.0 - lowest) * 0.25)
    return max(0.0, lowest - pad), 100.0 + max(0.1, pad * 0.4)


def add_gate(
    fig: go.Figure,
    value: float,
    text: str,
    shown: tuple[float, float],
    *,
    axis: tuple[str, str] = ("x", "y"),
) -> None:
    """A threshold as a dotted line when it falls inside the range the data takes (`shown`),
    else as a note at the chart's edge: a gate never stretches the axis away from the data."""
    xref, yref = axis
    color = HEALTH_COLORS["failure"]
    font = {"size": 10, "color": color}
    lo, hi = shown
    if lo <= value <= hi:
        fig.add_shape(
            type="line",
            xref=f"{xref} domain",
            x0=0,
            x1=1,
            yref=yref,
            y0=value,
            y1=value,
            line={"color": color, "width": 1.2, "dash": "dot"},
            name="gate",
        )
        fig.add_annotation(
            xref=f"{xref} domain",
            x=1,
            xanchor="right",
            yref=yref,
            y=value,
            yanchor="bottom",
            text=plotly_text(text),
            showarrow=False,
            font=font,
            name="gate",
        )
        return
    above = value > hi
    fig.add_annotation(
        xref=f"{xref} domain",
        x=1,
        xanchor="right",
        yref=f"{yref} domain",
        # Above: in the margin over the plot, clear of the lines near the top.
        y=1.0 if above else 0.02,
        yanchor="bottom",
        text=plotly_text(f"{text} ({'above' if above else 'below'} the chart)"),
        showarrow=False,
        font=font,
        bgcolor="rgba(255,255,255,0.85)",
        name="gate",
    )


def success_chart(
    series: SeriesJson,
    times: Sequence[float],
    styles: Mapping[str, SeriesStyle],
    *,
    failure_below: float,
    uirevision: str,
    height: int = 300,
    title: str = "Success rate by version",
    gate_text: str | None = None,
) -> go.Figure:
    """Success % per version on an axis that fits the data; the failure threshold (5xx ratio at
    or above it) drawn, and shaded below, only where it falls inside that range."""
    floor, top = success_range(_values(series, 100.0))
    fig = version_lines(
        series,
        times,
        styles,
        title=title,
        y_title="success %",
        hover="%{y:.2f}%",
        uirevision=uirevision,
        scale=100.0,
        height=height,
        y_range=(floor, top),
    )
    threshold = failure_below * 100
    if threshold >= floor:
        fig.add_hrect(
            y0=floor,
            y1=min(threshold, top),
            fillcolor=HEALTH_COLORS["failure"],
            opacity=0.07,
            line_width=0,
            layer="below",
        )
    add_gate(fig, threshold, gate_text or f"failure < {threshold:g}%", (floor, top))
    return fig


QUANTILE_PANELS: tuple[str, ...] = ("p50", "p95", "p99")
GATE_ROOM = 1.15  # a gate up to 15% above the highest value is drawn as a line


def _axis_names(col: int) -> tuple[str, str]:
    suffix = "" if col == 1 else str(col)
    return f"x{suffix}", f"y{suffix}"


def latency_chart(
    latency: Mapping[str, SeriesJson],
    times: Sequence[float],
    styles: Mapping[str, SeriesStyle],
    *,
    uirevision: str,
    height: int = 300,
    gates: Mapping[str, float] | None = None,
) -> go.Figure:
    """p50, p95 and p99 side by side, one panel each with its own axis fitted to its data, one
    line per version in that version's colour, dash and marker. A gate (`gates`: quantile ->
    ms) is a line where the data reaches near it, else a note: it never pins the axis."""
    fig = make_subplots(rows=1, cols=len(QUANTILE_PANELS), horizontal_spacing=0.07)
    fig.update_layout(base_layout("Latency by version", "ms", uirevision=uirevision, height=height))
    in_legend: set[str] = set()
    for col, q in enumerate(QUANTILE_PANELS, start=1):
        series = latency.get(q) or {}
        for version, style in styles.items():
            if version not in series:
                continue
            fig.add_trace(
                _version_trace(
                    version,
                    style,
                    series[version],
                    times,
                    f"{q} " + "%{y:.1f} ms",
                    showlegend=version not in in_legend,
                ),
                row=1,
                col=col,
            )
            in_legend.add(version)
        values = _values(series)
        gate = (gates or {}).get(q)
        if gate is not None and values:
            add_gate(
                fig,
                gate,
                f"{q} gate {gate:g} ms",
                (0.0, max(values) * GATE_ROOM),
                axis=_axis_names(col),
            )
        fig.update_yaxes(title_text=f"{q} ms", rangemode="tozero", row=1, col=col)
    fig.update_xaxes(type="date", nticks=4, ticklabeloverflow="hide past domain")
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
    colors = {plotly_text(v): c for v, c in version_colors(versions).items()}  # panel titles
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
    styles: Mapping[str, SeriesStyle],
    *,
    uirevision: str,
    height: int = 300,
) -> go.Figure:
    """TCP bytes/s per version: solid into the target, dashed out of it; the version's marker
    tells versions with equal bytes apart."""
    fig = go.Figure(
        layout=base_layout(
            "TCP bytes per second by version", "bytes/s", uirevision=uirevision, height=height
        )
    )
    for direction, series, dash in (("in", bytes_in, "solid"), ("out", bytes_out, "dash")):
        for version, style in styles.items():
            if version not in series:
                continue
            x, y = _xy(series[version], times)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    name=plotly_text(f"{version} {direction}"),
                    legendgroup=version,
                    mode="lines+markers",
                    line={"color": style.color, "width": 2, "dash": dash},
                    marker=style.marker(),
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
