"""Weight-change markers on any plotly time chart: a dashed vertical line where a service's split
changed, labelled with the split after it (changes close in time share one label, so labels
never overprint), and the who/when/why on hover.

Works on every figure meshdash draws (single plots and subplot grids alike): the line goes on
every x axis of the figure, the label once at the top of the first. Times follow charts.py's
convention: a date axis holding milliseconds since the epoch.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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


# Label widths are estimated, not measured (the figure is built on the server): generous
# enough for Inter, Helvetica and Arial at the labels' 10 px.
CHAR_PX = 6.2
LABEL_PAD_PX = 14.0
LABEL_GAP_PX = 8.0
PLOT_PX = 420.0  # the narrowest plot area a chart gets on a page (a half-width card)


LABEL_ROWS = 2  # labels take a second line before they merge
ROW_PX = 14  # a label line's height


@dataclass(frozen=True, slots=True)
class LabelSpot:
    """One label for one or more markers close in time: anchored at its first marker reading
    rightwards ("left"), or at its last reading leftwards ("right"); [x0, x1] in pixels, on
    line `row` from the top."""

    members: tuple[int, ...]
    side: str
    x0: float
    x1: float
    row: int = 0


def label_width(text: str) -> float:
    return CHAR_PX * len(text) + LABEL_PAD_PX


def place_labels(
    xs: Sequence[float],
    width_of: Callable[[tuple[int, ...]], float],
    axis_px: float,
    rows: int = LABEL_ROWS,
) -> list[LabelSpot]:
    """Labels that never overlap: markers (pixel positions `xs`, ascending) take a label each
    on the first line where it fits beside the labels already there, else join the previous
    label, which then speaks for all of them. Pure, so the rule is tested without a browser."""
    spots: list[LabelSpot] = []
    for i in range(len(xs)):
        members: tuple[int, ...] = (i,)
        while True:
            w = width_of(members)
            spot = None
            for row in range(rows):
                after = max((s.x1 for s in spots if s.row == row), default=-math.inf)
                spot = _fit(members, xs, w, after + LABEL_GAP_PX, axis_px, row)
                if spot is not None:
                    break
            if spot is not None:
                spots.append(spot)
                break
            if not spots:  # alone and wider than the plot: keep it, on the side that fits best
                first, last = xs[members[0]], xs[members[-1]]
                if first + w - axis_px <= w - last:
                    spots.append(LabelSpot(members, "left", first, first + w))
                else:
                    spots.append(LabelSpot(members, "right", last - w, last))
                break
            members = spots.pop().members + members
    return spots


def _fit(
    members: tuple[int, ...], xs: Sequence[float], w: float, after: float, axis_px: float, row: int
) -> LabelSpot | None:
    first, last = xs[members[0]], xs[members[-1]]
    if first >= after and first + w <= axis_px:
        return LabelSpot(members, "left", first, first + w, row)
    if last - w >= max(after, 0.0):
        return LabelSpot(members, "right", last - w, last, row)
    return None


def _label_text(group: Sequence[Mapping[str, Any]]) -> str:
    if len(group) == 1:
        return f"⇄ {group[0]['label']}"
    return f"⇄ {len(group)} changes, then {group[-1]['label']}"


def add_weight_markers(
    fig: go.Figure,
    markers: Iterable[Mapping[str, Any]],
    *,
    start: float | None = None,
    end: float | None = None,
    label: bool = True,
    plot_px: float = PLOT_PX,
) -> go.Figure:
    """Draw each marker (mesh.releases.markers.marker_json) in [start, end] (UNIX seconds) on `fig`.

    Labels of changes close in time merge into one ("3 changes, then v1 0 / v2 100") whose
    hover holds every change in full, so labels never overprint at any width of `plot_px` or
    more."""
    shown = sorted(
        (
            m
            for m in markers
            if (start is None or m["when"] >= start) and (end is None or m["when"] <= end)
        ),
        key=lambda m: float(m["when"]),
    )
    pairs = _axis_pairs(fig)
    times = [float(m["when"]) for m in shown]
    lo = start if start is not None else min(times, default=0.0)
    hi = end if end is not None else max(times, default=0.0)
    span = hi - lo if hi > lo else 1.0
    for when in times:
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
    if not label or not shown:
        return fig
    xref, yref = pairs[0]
    domain = getattr(fig.layout[f"xaxis{xref[1:]}"], "domain", None) or (0.0, 1.0)
    axis_px = plot_px * (domain[1] - domain[0])
    xs = [(t - lo) / span * axis_px for t in times]

    def width_of(members: tuple[int, ...]) -> float:
        return label_width(_label_text([shown[k] for k in members]))

    for spot in place_labels(xs, width_of, axis_px):
        group = [shown[k] for k in spot.members]
        anchor = group[0] if spot.side == "left" else group[-1]
        fig.add_annotation(
            x=to_ms(float(anchor["when"])),
            xref=xref,
            y=1,
            yref=f"{yref} domain",
            yanchor="top",
            yshift=-ROW_PX * spot.row,
            xanchor=spot.side,
            text=plotly_text(_label_text(group)),
            showarrow=False,
            font={"size": 10, "color": MARKER_COLOR},
            bgcolor="rgba(255,255,255,0.85)",
            hovertext="<br><br>".join(_hover(m) for m in group[-MAX_HOVERS:]),
            name="weight-change",
        )
    return fig


MAX_HOVERS = 5  # the hover of a merged label: its last five changes in full


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
