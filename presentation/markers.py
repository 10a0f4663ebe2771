"""Weight-change markers on any plotly time chart: a dashed vertical line where a service's split
changed, labelled with the split after it, and the who/when/why on hover.

Works on every figure meshdash draws (single plots and subplot grids alike): the line goes on
every x axis of the figure, the label once at the top of the first. Times follow charts.py's
convention: a date axis holding milliseconds since the epoch.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go

from mesh.releases.rollout_step import RolloutStep
from presentation.charts import plotly_text, to_ms

MARKER_COLOR = "#3e4c59"  # neither a health colour nor a version colour
WINDOW_FILL = "rgba(62, 76, 89, 0.07)"


def _axis_pairs(fig: go.Figure) -> list[tuple[str, str]]:
    """(xref, yref) of every subplot: ("x", "y"), ("x2", "y2"), ..."""
    pairs = []
    for name in sorted(
        (k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")),
        key=lambda k: int(k[5:] or 1),
    ):
        suffix = name[5:]
        anchor = getattr(fig.layout[name], "anchor", None)
        yref = anchor if anchor and anchor.startswith("y") else f"y{suffix}"
        pairs.append((f"x{suffix}", yref))
    return pairs or [("x", "y")]


def add_weight_markers(
    fig: go.Figure,
    markers: Iterable[Mapping[str, Any]],
    *,
    start: float | None = None,
    end: float | None = None,
    label: bool = True,
) -> go.Figure:
    """Draw each marker (mesh.releases.markers.marker_json) in [start, end] (UNIX seconds) on `fig`."""
    shown = [
        m
        for m in markers
        if (start is None or m["when"] >= start) and (end is None or m["when"] <= end)
    ]
    pairs = _axis_pairs(fig)
    times = [float(m["when"]) for m in shown]
    lo = start if start is not None else min(times, default=0.0)
    hi = end if end is not None else max(times, default=0.0)
    span = hi - lo if hi > lo else 1.0
    last_label: float | None = None
    level = 0
    for m, when in sorted(zip(shown, times, strict=True), key=lambda p: p[1]):
        x = to_ms(when)
        for xref, yref in pairs:
            fig.add_shape(
                type="line",
                x0=x,
                x1=x,
                xref=xref,
                y0=0,
                y1=1,
                yref=f"{yref} domain",
                line={"color": MARKER_COLOR, "width": 1.5, "dash": "dash"},
                layer="above",
                name="weight-change",
            )
        if not label:
            continue
        # Labels of changes close together step down a line each, so they never overprint.
        close = last_label is not None and (when - last_label) < 0.15 * span
        level = (level + 1) % 3 if close else 0
        last_label = when
        xref, yref = pairs[0]
        # Near the right edge the label reads leftwards, so it is never cut off.
        late = (when - lo) / span > 0.7
        fig.add_annotation(
            x=x,
            xref=xref,
            y=1,
            yref=f"{yref} domain",
            yanchor="bottom",
            xanchor="right" if late else "left",
            yshift=-15 * level,
            text=f"⇄ {plotly_text(m['label'])}",
            showarrow=False,
            font={"size": 10, "color": MARKER_COLOR},
            bgcolor="rgba(255,255,255,0.85)",
            hovertext=_hover(m),
            name="weight-change",
        )
    return fig


def _hover(m: Mapping[str, Any]) -> str:
    """Who, when, the split and why; every part escaped (plotly_text), only our markup kept."""
    who = plotly_text(m.get("who") or "someone")
    when = plotly_text(m.get("time", ""))
    lines = [f"<b>weights changed</b> {when}", f"by {who}"]
    step = m.get("rollout")
    if step:
        lines.append(plotly_text(_rollout_line(step)))
    before = " / ".join(f"{v} {w}%" for v, w in (m.get("before") or {}).items() if w) or "none"
    after = " / ".join(f"{v} {w}%" for v, w in (m.get("after") or {}).items() if w) or "none"
    lines.append(plotly_text(f"{before} → {after}"))
    if m.get("reason"):
        # Wrapped: one long line would push the hover box off the chart's left edge.
        wrapped = textwrap.wrap(f"reason: {m['reason']}", 70)[:4]
        lines += [plotly_text(line) for line in wrapped]
    return "<br>".join(lines)


def _rollout_line(raw: Mapping[str, Any]) -> str:
    """The guided rollout step a marker was, who started it and the verdict behind it."""
    try:
        step = RolloutStep.from_json(raw)
    except ValueError:
        return "a guided rollout step"
    if step is None:
        return ""
    return f"{step.title}, {step.credit}; verdict {step.verdict or 'none'}"


def shade_window(fig: go.Figure, start: float, end: float, text: str) -> go.Figure:
    """A light band over [start, end] (UNIX seconds), e.g. the window the graph diff compares."""
    xref, yref = _axis_pairs(fig)[0]
    fig.add_shape(
        type="rect",
        x0=to_ms(start),
        x1=to_ms(end),
        xref=xref,
        y0=0,
        y1=1,
        yref=f"{yref} domain",
        fillcolor=WINDOW_FILL,
        line_width=0,
        layer="below",
        name="window",
    )
    fig.add_annotation(
        x=to_ms((start + end) / 2),
        xref=xref,
        y=0,
        yref=f"{yref} domain",
        yanchor="bottom",
        text=plotly_text(text),
        showarrow=False,
        font={"size": 10, "color": "#616e7c"},
    )
    return fig


def marker_count(fig: go.Figure) -> int:
    """How many weight-change lines a figure carries (each marker draws one per x axis)."""
    return sum(1 for s in fig.layout.shapes if s.name == "weight-change")
