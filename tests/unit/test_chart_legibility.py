"""Charts that hide nothing: equal series stay visible, the three quantiles show together, axes
fit the data rather than a gate, marker labels never overprint, and version cards say whether a
figure is "now" or the window's average."""

from __future__ import annotations

import itertools
import random

import pytest

from dashboards.service import now_figures
from mesh.releases.markers import WeightMarker, markers_json
from presentation import charts
from presentation.markers import add_weight_markers, label_width, place_labels

T0 = 1_790_000_000.0
TIMES = [T0 + 10 * k for k in range(31)]


def flat(value: float) -> list[list[float]]:
    return [[t, value] for t in TIMES]


def test_versions_with_equal_values_differ_in_dash_and_marker_and_keep_them_everywhere():
    styles = charts.version_styles(["v1", "v2", "v3"])
    fig = charts.version_lines(
        {v: flat(25.0) for v in styles},
        TIMES,
        styles,
        title="t",
        y_title="ms",
        hover="%{y}",
        uirevision="u",
    )
    dashes = [t.line.dash for t in fig.data]
    symbols = [t.marker.symbol for t in fig.data]
    assert len(set(dashes)) == 3 and len(set(symbols)) == 3
    assert dashes[0] == "solid"  # the first version underneath; the others dashed over it
    assert all("markers" in t.mode and t.marker.maxdisplayed for t in fig.data)
    # v2 alone (its workload page) looks as it does beside v1 and v3.
    assert charts.version_styles(["v2"])["v2"] == styles["v2"]


def test_latency_shows_p50_p95_p99_together_each_axis_fitted():
    styles = charts.version_styles(["v1", "v2"])
    latency = {
        "p50": {"v1": flat(10.0), "v2": flat(10.0)},
        "p95": {"v1": flat(25.0), "v2": flat(30.0)},
        "p99": {"v1": flat(25.0), "v2": flat(57.0)},
    }
    fig = charts.latency_chart(latency, TIMES, styles, uirevision="u", gates={"p99": 500.0})
    by_axis = {(t.yaxis, t.name) for t in fig.data}
    assert by_axis == {(y, v) for y in ("y", "y2", "y3") for v in ("v1", "v2")}
    titles = [fig.layout[f"yaxis{s}"].title.text for s in ("", "2", "3")]
    assert titles == ["p50 ms", "p95 ms", "p99 ms"]
    assert sum(t.showlegend for t in fig.data) == 2  # one legend entry per version
    # A 500 ms gate against 25 and 57 ms is a note, not a line that would stretch the axis.
    assert not [s for s in fig.layout.shapes if s.name == "gate"]
    [note] = [a for a in fig.layout.annotations if a.name == "gate"]
    assert "500 ms" in note.text and "above the chart" in note.text
    assert all(fig.layout[f"yaxis{s}"].range is None for s in ("", "2", "3"))  # autorange


def test_a_gate_the_data_comes_near_is_drawn_as_a_line():
    styles = charts.version_styles(["v1"])
    fig = charts.latency_chart(
        {"p99": {"v1": flat(480.0)}}, TIMES, styles, uirevision="u", gates={"p99": 500.0}
    )
    [line] = [s for s in fig.layout.shapes if s.name == "gate"]
    assert (line.y0, line.y1, line.yref) == (500.0, 500.0, "y3")


def test_success_axis_fits_the_data_not_the_failure_threshold():
    styles = charts.version_styles(["v1", "v2"])
    fig = charts.success_chart(
        {"v1": flat(0.999), "v2": flat(0.992)}, TIMES, styles, failure_below=0.9, uirevision="u"
    )
    lo, hi = fig.layout.yaxis.range
    assert 98.5 < lo < 99.2 and 100.0 < hi < 100.5  # 99.2 and 99.9 far apart
    assert not [s for s in fig.layout.shapes if s.name == "gate"]
    [note] = [a for a in fig.layout.annotations if a.name == "gate"]
    assert "below the chart" in note.text
    near = charts.success_chart(
        {"v1": flat(0.91)}, TIMES, styles, failure_below=0.9, uirevision="u"
    )
    assert [s.y0 for s in near.layout.shapes if s.name == "gate"] == [90.0]


def _overlaps(spots) -> list:
    return [
        (a, b)
        for a, b in itertools.combinations(spots, 2)
        if a.row == b.row and a.x0 < b.x1 + 1e-9 and b.x0 < a.x1 - 1e-9
    ]


@pytest.mark.parametrize("seed", range(40))
def test_labels_never_overlap_and_every_marker_has_one(seed):
    rng = random.Random(seed)
    axis_px = rng.choice([140.0, 300.0, 420.0, 900.0])
    xs = sorted(rng.uniform(0, axis_px) for _ in range(rng.randint(1, 14)))
    widths = [rng.uniform(40, 130) for _ in xs]
    spots = place_labels(xs, lambda members: max(widths[k] for k in members) + 20, axis_px)
    assert not _overlaps(spots)
    assert [k for s in spots for k in s.members] == list(range(len(xs)))
    for s in spots:
        if s.x1 - s.x0 <= axis_px:  # a label that fits the plot stays inside it
            assert s.x0 >= -1e-9 and s.x1 <= axis_px + 1e-9


def marker(when: float, who: str, after: dict[str, int]) -> WeightMarker:
    return WeightMarker(when, who, "set_weights", "", (("v1", 100),), tuple(after.items()))


def test_changes_close_in_time_share_one_label_with_every_change_in_its_hover():
    fig = charts.version_lines(
        {"v1": flat(1.0)}, TIMES, charts.version_styles(["v1"]),
        title="t", y_title="y", hover="%{y}", uirevision="u",
    )  # fmt: skip
    steps = [
        marker(T0 + 100 + 5 * k, who, {"v1": 100 - 10 * k, "v2": 10 * k})
        for k, who in enumerate(["alice", "bob", "carol", "erin"], start=1)
    ]
    add_weight_markers(fig, markers_json([*steps, marker(T0 + 290, "dave", {"v1": 100})]))
    labels = [a for a in fig.layout.annotations if a.name == "weight-change"]
    assert len([s for s in fig.layout.shapes if s.name == "weight-change"]) == 5
    # The first takes the top line, the next the second line, the rest join that label.
    assert [(a.text, a.yshift) for a in labels] == [
        ("⇄ v1 90 · v2 10", 0),
        ("⇄ 3 changes, then v1 60 · v2 40", -14),
        ("⇄ v1 100", 0),
    ]
    assert all(who in labels[1].hovertext for who in ("bob", "carol", "erin"))
    assert labels[2].xanchor == "right"  # near the right edge it reads leftwards
    assert label_width(labels[0].text) < 420


def test_version_card_now_is_the_last_step_and_never_an_older_value():
    data = {
        "end": T0 + 300,
        "step": "10s",
        "series": {
            "rps": {"v1": [*flat(2.0)[:-1], [T0 + 300, 3.5]], "v2": flat(1.0)[:-3]},
            "success_rate": {"v1": flat(0.99)},
            "p50_ms": {"v1": flat(10.0)},
            "p95_ms": {"v1": flat(25.0)},
            "p99_ms": {"v1": flat(57.0)},
        },
    }
    assert now_figures(data, "v1") == {
        "rps": 3.5,
        "success_rate": 0.99,
        "p50_ms": 10.0,
        "p95_ms": 25.0,
        "p99_ms": 57.0,
    }
    assert now_figures(data, "v2")["rps"] is None  # its last point is 20 s old: not "now"
