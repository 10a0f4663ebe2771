"""Weight-change markers: read from audit entries, the canary's start, and drawn on charts."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from mesh.releases.audit import AuditEntry, AuditObject
from mesh.releases.markers import (
    WeightMarker,
    canary_start,
    marker_json,
    markers_json,
    weight_markers,
    weights_of,
)
from presentation import charts
from presentation.markers import add_weight_markers, marker_count
from tests.review_demo import WITHOUT_V3, Clock, demo_services, shift
from views.review import markers_for

T0 = 1_790_000_000.0


def vs(*routes: tuple[str, int | None]) -> dict:
    """A reviews VirtualService whose default route sends to (subset, weight) pairs."""
    entries = []
    for subset, weight in routes:
        e: dict = {"destination": {"host": "reviews", "subset": subset}}
        if weight is not None:
            e["weight"] = weight
        entries.append(e)
    return {
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {"hosts": ["reviews"], "http": [{"route": entries}]},
    }


def entry(when, before, after, *, kind="VirtualService", service="reviews", reason="", cid=""):
    return AuditEntry(
        when=when,
        who="alice",
        action="set_weights",
        reason=reason,
        namespace="bookinfo",
        service=service,
        change_id=cid or f"c{when}",
        objects=(AuditObject(kind, service, before, after, "2"),),
    )


def test_weights_read_as_istio_applies_them():
    assert weights_of(vs(("v1", None)), "bookinfo", "reviews") == (("v1", 100),)
    assert weights_of(vs(("v1", 90), ("v2", 10)), "bookinfo", "reviews") == (
        ("v1", 90),
        ("v2", 10),
    )
    # Beside weighted destinations a missing weight is 0 (Istio drops weight: 0).
    assert weights_of(vs(("v1", 100), ("v2", None)), "bookinfo", "reviews") == (
        ("v1", 100),
        ("v2", 0),
    )
    assert weights_of(None, "bookinfo", "reviews") == ()
    renamed = weights_of(vs(("stable", 70), ("next", 30)), "bookinfo", "reviews", {"next": "v2"})
    assert renamed == (("stable", 70), ("v2", 30))


def test_only_virtual_service_weight_changes_of_the_service_in_range_become_markers():
    entries = [
        entry(T0 + 30, vs(("v1", 90), ("v2", 10)), vs(("v1", 50), ("v2", 50)), reason="halfway"),
        entry(T0 + 10, vs(("v1", None)), vs(("v1", 90), ("v2", 10))),
        entry(
            T0 + 20,
            {"kind": "DestinationRule"},
            {"kind": "DestinationRule"},
            kind="DestinationRule",
        ),
        entry(T0 + 25, vs(("v1", 90), ("v2", 10)), vs(("v1", 90), ("v2", 10))),  # a mirror edit
        entry(T0 + 26, vs(("v1", 100)), vs(("v1", 50), ("v2", 50)), service="ratings"),
        entry(T0 + 90, vs(("v1", 50), ("v2", 50)), vs(("v2", 100))),
    ]
    markers = weight_markers(entries, "bookinfo", "reviews", end=T0 + 60)
    assert [m.when for m in markers] == [T0 + 10, T0 + 30]  # oldest first, in range
    first, second = markers
    assert first.before == (("v1", 100),) and first.after == (("v1", 90), ("v2", 10))
    assert second.label == "v1 50 · v2 50"
    assert second.description.endswith("v1 90% / v2 10% → v1 50% / v2 50% (set_weights): halfway")
    assert "alice" in second.description
    assert weight_markers(entries, "bookinfo", "reviews", start=T0 + 40) == (
        weight_markers(entries, "bookinfo", "reviews")[-1],
    )
    body = markers_json(markers)
    assert body[1]["before"] == {"v1": 90, "v2": 10} and body[1]["after"] == {"v1": 50, "v2": 50}
    assert body[1]["time"] == "2026-09-21T14:13:50Z"


def m(when: float, before: dict[str, int], after: dict[str, int]) -> WeightMarker:
    return WeightMarker(
        when, "alice", "set_weights", "", tuple(before.items()), tuple(after.items())
    )


def test_canary_start_is_the_newest_change_giving_it_weight_from_none():
    runs = [
        m(T0, {"v1": 100}, {"v1": 90, "v2": 10}),  # first run
        m(T0 + 60, {"v1": 90, "v2": 10}, {"v1": 100, "v2": 0}),  # rolled back
        m(T0 + 120, {"v1": 100, "v2": 0}, {"v1": 95, "v2": 5}),  # second run starts
        m(T0 + 180, {"v1": 95, "v2": 5}, {"v1": 50, "v2": 50}),
    ]
    assert canary_start(runs, "v2").when == T0 + 120
    assert canary_start(list(reversed(runs)), "v2").when == T0 + 120  # order does not matter


def test_canary_already_weighted_starts_at_its_first_raise_and_never_without_one():
    seeded = [
        m(T0, {"v1": 80, "v3": 10, "v2": 10}, {"v1": 80, "v3": 20, "v2": 0}),
        m(T0 + 60, {"v1": 80, "v3": 20}, {"v1": 50, "v3": 50}),
    ]
    assert canary_start(seeded, "v3").when == T0
    assert canary_start(seeded, "v2") is None  # v2 only lost weight
    assert canary_start([], "v2") is None


def line(times=(T0, T0 + 60, T0 + 120)) -> go.Figure:
    colors = charts.version_styles(["v1", "v2"])
    series = {"v1": [[t, 1.0] for t in times], "v2": [[t, 2.0] for t in times]}
    return charts.version_lines(
        series, times, colors, title="t", y_title="y", hover="%{y}", uirevision="u"
    )


def test_markers_on_a_single_chart_line_label_and_hover():
    fig = line()
    marks = markers_json([m(T0 + 30, {"v1": 100}, {"v1": 50, "v2": 50})])
    marks[0]["reason"] = "canary to half"
    add_weight_markers(fig, marks, start=T0, end=T0 + 120)
    assert marker_count(fig) == 1
    shape = next(s for s in fig.layout.shapes if s.name == "weight-change")
    assert shape.x0 == shape.x1 == charts.to_ms(T0 + 30)
    assert (shape.y0, shape.y1, shape.yref) == (0, 1, "y domain")
    note = next(a for a in fig.layout.annotations if a.name == "weight-change")
    assert note.text == "⇄ v1 50 · v2 50"
    assert "alice" in note.hovertext and "canary to half" in note.hovertext
    assert "v1 100% → v1 50% / v2 50%" in note.hovertext


def test_markers_outside_the_chart_are_left_out_and_a_late_label_reads_leftwards():
    fig = line()
    marks = markers_json(
        [m(T0 - 30, {"v1": 100}, {"v1": 50, "v2": 50}), m(T0 + 110, {}, {"v1": 100})]
    )
    add_weight_markers(fig, marks, start=T0, end=T0 + 120)
    assert marker_count(fig) == 1
    assert next(a for a in fig.layout.annotations if a.name == "weight-change").xanchor == "right"


def test_markers_go_on_every_panel_of_a_subplot_chart():
    times = [T0, T0 + 60]
    codes = {"2xx": {v: [[t, 1.0] for t in times] for v in ("v1", "v2", "v3")}}
    fig = charts.codes_chart(codes, times, ["v1", "v2", "v3"], uirevision="u")
    add_weight_markers(fig, markers_json([m(T0 + 30, {"v1": 100}, {"v1": 50, "v3": 50})]))
    assert marker_count(fig) == 3
    assert {s.xref for s in fig.layout.shapes if s.name == "weight-change"} == {"x", "x2", "x3"}
    labels = [a for a in fig.layout.annotations if a.name == "weight-change"]
    assert len(labels) == 1  # one label, not one per panel


def test_markers_for_a_demo_service_come_from_its_audit_log():
    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    assert markers_for(svc, "bookinfo", "reviews", T0 - 3600, T0) == []
    clock.now = T0 + 100
    shift(svc, {"v1": 50, "v2": 0, "v3": 50}, reason="v3 to half")
    clock.now = T0 + 200
    got = markers_for(svc, "bookinfo", "reviews", T0, T0 + 200)
    assert [(g["when"], g["after"], g["reason"]) for g in got] == [
        (T0 + 100, {"v1": 50, "v2": 0, "v3": 50}, "v3 to half")
    ]
    assert markers_for(svc, "bookinfo", "ratings", T0, T0 + 200) == []
    assert markers_for(svc, "bookinfo", "reviews", T0 + 150, T0 + 200) == []


def test_service_page_charts_carry_the_markers():
    from app import create_app
    from dashboards.service import figures
    from views.history import metrics_view, parse_metrics_params

    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    app = create_app(svc.settings, svc)
    shift(svc, {"v1": 50, "v2": 0, "v3": 50})
    clock.now = T0 + 300
    with app.server.test_request_context():
        data = metrics_view(
            svc,
            parse_metrics_params({"namespace": "bookinfo", "service": "reviews", "window": "30m"}),
        )
        data["markers"] = markers_for(svc, "bookinfo", "reviews", data["start"], data["end"])
        figs = figures(data)
    assert {name: marker_count(f) for name, f in figs.items()} == {
        "rps": 1,
        "success": 1,
        "latency": 3,  # one per quantile panel
        "codes": 3,  # one per version panel
        "tcp": 1,
    }


@pytest.mark.parametrize("bad", [None, {}, {"spec": {"http": "nope"}}])
def test_odd_objects_give_no_weights_and_no_marker(bad):
    assert weights_of(bad, "bookinfo", "reviews") == ()
    assert weight_markers([entry(T0, bad, bad)], "bookinfo", "reviews") == ()


def test_marker_json_is_plain_data():
    body = marker_json(m(T0, {"v1": 100}, {"v1": 90, "v2": 10}))
    assert body["label"] == "v1 90 · v2 10" and body["who"] == "alice" and body["when"] == T0
