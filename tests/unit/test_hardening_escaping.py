"""Issue 17, finding 8: labels, reasons, user names and span fields never become markup.

Plotly reads <a href>, <b> and <span style> in names, hovers and annotations; Markdown renders
raw HTML and [links](...). What came from outside must show as typed, in both report formats
and in every hover.
"""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboards.trace_search import scatter
from mesh.releases.markers import WeightMarker, markers_json
from presentation import charts
from presentation.markers import add_weight_markers, shade_window
from reports.release_report import report_html, report_markdown
from tests.review_demo import WITHOUT_V3, Clock, demo_services, shift
from views.review import parse_review_params, review_view

T0 = 1_790_000_000.0
LINK = '<a href="javascript:alert(1)">click</a>'
STYLED = '<span style="font-size:40px">BIG</span><b>bold</b>'
MD_LINK = "[open](javascript:alert(1)) ![x](http://evil.example/x.png)"


def _marker(who: str, reason: str) -> dict:
    marker = WeightMarker(T0, who, "set_weights", "", (("v1", 100),), (("v1", 50), ("v2", 50)))
    out = markers_json([marker])
    out[0]["reason"] = reason
    return out[0]


def _fig() -> go.Figure:
    times = (T0 - 60, T0, T0 + 60)
    series = {"v1": [[t, 1.0] for t in times]}
    return charts.version_lines(
        series, times, charts.version_styles(["v1"]), title="t", y_title="y", hover="%{y}",
        uirevision="u",
    )  # fmt: skip


def test_marker_hover_shows_user_and_reason_as_text():
    fig = add_weight_markers(_fig(), [_marker(STYLED, LINK)], start=T0 - 60, end=T0 + 60)
    note = next(a for a in fig.layout.annotations if a.name == "weight-change")
    assert "<a " not in note.hovertext and "<span" not in note.hovertext
    assert '&lt;a href="javascript:alert(1)"&gt;click&lt;/a&gt;' in note.hovertext
    assert "&lt;b&gt;bold&lt;/b&gt;" in note.hovertext
    assert note.hovertext.startswith("<b>weights changed</b>")  # our own markup stays


def test_annotations_and_legend_names_from_labels_are_escaped():
    fig = shade_window(_fig(), T0 - 60, T0, LINK)
    assert all("<a " not in (a.text or "") for a in fig.layout.annotations)
    times = (T0,)
    lines = charts.version_lines(
        {LINK: [[T0, 1.0]]}, times, charts.version_styles([LINK]), title="t", y_title="y", hover="%{y}",
        uirevision="u",
    )  # fmt: skip
    assert lines.data[0].name.startswith("&lt;a href")
    codes = charts.codes_chart(
        {"5xx": {"%{x}" + LINK: [[T0, 1.0]]}}, times, ["%{x}" + LINK], uirevision="u"
    )
    trace = codes.data[0]
    assert "<a " not in trace.hovertemplate and "%{x}" not in trace.hovertemplate


def test_jaeger_operation_names_are_text_in_the_trace_scatter():
    row = {
        "trace_id": "a" * 32,
        "start": T0,
        "duration_ms": 12.0,
        "span_count": 3,
        "root_operation": STYLED,
        "error": False,
    }
    fig = scatter({"traces": [row]})
    shown = fig.data[0].customdata[0][2]
    assert "<span" not in shown and "&lt;span style=" in shown


@pytest.fixture(scope="module")
def hostile_review():
    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    shift(svc, {"v1": 50, "v2": 0, "v3": 50}, reason=f"{LINK} {STYLED} {MD_LINK}")
    clock.now = T0 + 300
    query = {
        "namespace": "bookinfo", "service": "reviews", "baseline": "v1", "canary": "v3",
        "window": "10m",
    }  # fmt: skip
    return review_view(svc, parse_review_params(query))


def test_markdown_report_carries_no_raw_html_or_links_from_a_reason(hostile_review):
    md = report_markdown(hostile_review)
    assert "<a " not in md and "<span" not in md and "<b>" not in md
    assert "&lt;a href=" in md
    assert "[open](" not in md and "![x](" not in md
    assert "\\[open\\](javascript:alert(1))" in md


def test_html_report_shows_the_reason_as_text(hostile_review):
    doc = report_html(hostile_review)
    assert LINK not in doc and "<span style" not in doc
    assert "&lt;a href=&quot;javascript:alert(1)&quot;&gt;" in doc
