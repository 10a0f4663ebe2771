"""The review view's parameters, recommendation and chart span, and the page's pickers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import create_app
from dashboards import review as page
from mesh.errors import BadRequest
from mesh.validate import TimeWindow
from tests.review_demo import Clock, demo_services
from views.review import (
    chart_window_s,
    parse_review_params,
    recommended_action,
    review_query,
)
from wiring.settings import Settings

BASE = {"namespace": "bookinfo", "service": "reviews", "baseline": "v1", "canary": "v2"}


def test_parameters_are_the_canary_analysis_ones_plus_before():
    p = parse_review_params({**BASE, "window": "300s", "before": "1790000000", "alpha": "0.01"})
    assert (p.namespace, p.service, p.canary.window, p.before) == (
        "bookinfo",
        "reviews",
        TimeWindow("5m", 300),
        1_790_000_000.0,
    )
    assert review_query(p) == {**BASE, "window": "5m", "before": "1790000000", "alpha": "0.01"}
    with pytest.raises(BadRequest) as bad:
        parse_review_params({**BASE, "before": "soon"})
    assert bad.value.field == "before"
    with pytest.raises(BadRequest) as late:
        parse_review_params({**BASE, "at": "1790000000", "before": "1790000001"})
    assert late.value.field == "before"


@pytest.mark.parametrize(
    ("verdict", "action", "label"),
    [
        ("promote", "promote", "Promote v2: take over all traffic"),
        ("continue", "step", "Continue: +10% to v2"),
        ("rollback", "rollback", "Roll back to v1"),
        ("hold", None, "Hold the split and investigate"),
        ("insufficient_traffic", None, "Wait for more traffic"),
    ],
)
def test_each_verdict_recommends_one_step_into_the_releases_flow(verdict, action, label):
    got = recommended_action(verdict, parse_review_params(BASE))
    assert (got["action"], got["label"]) == (action, label)
    assert got["href"].startswith("/releases?namespace=bookinfo&service=reviews")
    assert ("action=" in got["href"]) == (action is not None)
    assert got["href"].endswith("baseline=v1&canary=v2")


def test_the_chart_spans_the_canary_run_and_a_window_before_it():
    at = 1_790_000_000.0
    assert chart_window_s(at, 600, None) == 1800  # three windows, at least 30 minutes
    assert chart_window_s(at, 600, at - 3600) == 3600 + 1200
    assert chart_window_s(at, 600, at - 7 * 86400) == 86400  # never more than a day
    assert chart_window_s(at, 7200, None) == 21600


def test_versions_come_from_routes_or_else_from_traffic():
    svc = demo_services(clock=Clock(1_790_000_000.0))
    app = create_app(svc.settings, svc)
    with app.server.test_request_context():
        assert page.versions_of("bookinfo", "reviews") == (
            ["v1", "v2", "v3"],
            {"v1": 80, "v2": 10, "v3": 10},
        )
        assert page.service_options("bookinfo") == ["reviews"]
    blind = replace(svc, routes=None)
    app = create_app(blind.settings, blind)
    with app.server.test_request_context():
        versions, weights = page.versions_of("bookinfo", "reviews")
        assert versions == ["v1", "v2", "v3"] and weights == {"v1": 80, "v2": 10, "v3": 10}
        assert "reviews" in page.service_options("bookinfo")


def test_the_simulate_card_is_demo_only():
    demo = demo_services(clock=Clock(1_790_000_000.0))
    with create_app(demo.settings, demo).server.test_request_context():
        assert "rv-sim-slow" in str(page.layout(**BASE))
        assert page.fault_text("bookinfo", "reviews", "v3") == "reviews-v3: healthy"
        demo.demo.state.set_fault("bookinfo", "reviews-v3", latency_factor=10.0, error_rate=0.05)
        assert page.fault_text("bookinfo", "reviews", "v3") == (
            "reviews-v3: 10× slower and 5% extra 5xx"
        )
    live = replace(demo, demo=None, settings=Settings(prometheus_url="http://127.0.0.1:1"))
    with create_app(live.settings, live).server.test_request_context():
        assert "rv-sim-slow" not in str(page.layout(**BASE))


@pytest.fixture(scope="module")
def demo_client():
    svc = demo_services(clock=Clock(1_790_000_000.0))
    return create_app(svc.settings, svc).server.test_client()


_ODD = st.one_of(
    st.sampled_from(["v1", "v2", "v3", "", "10m", "1790000000", "-1", "nan", "1e999", "0x10"]),
    st.text(max_size=12),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    baseline=_ODD,
    canary=_ODD,
    window=_ODD,
    before=_ODD,
    at=_ODD,
    suffix=st.sampled_from(["", "/report.md", "/report.html"]),
)
def test_any_query_answers_json_or_a_report_never_a_5xx(
    demo_client, baseline, canary, window, before, at, suffix
):
    query = {"baseline": baseline, "canary": canary, "window": window, "before": before, "at": at}
    r = demo_client.get(f"/api/review/bookinfo/reviews{suffix}", query_string=query)
    assert r.status_code in (200, 400), r.get_data(as_text=True)[:300]
    if r.status_code == 400 or not suffix:
        assert r.is_json
    else:
        assert "attachment" in r.headers["Content-Disposition"]


def test_no_trace_backend_is_a_calm_note_not_a_failure_banner():
    """Without --jaeger the review leaves out self time by version and says why, in an info
    note; a trace backend that fails is still an error banner."""
    from dashboards.components.banner import failure_banners
    from mesh.errors import NotConfigured
    from views.review import _failures, _section

    def not_configured():
        raise NotConfigured("traces")

    section = _section(not_configured)
    assert section["configured"] is False and section["status"] == 503
    [failure] = _failures({"time_by_version": section})
    [note] = failure_banners([failure], {"time_by_version": "where time goes by version"})
    assert "md-banner-info" in note.className
    assert note.children == (
        "Not shown: where time goes by version: no trace backend is configured "
        "(start meshdash with --jaeger URL)."
    )

    failing = {**failure, "configured": True, "status": 502, "cause": "HTTP 500"}
    [alarm] = failure_banners([failing], {"time_by_version": "where time goes by version"})
    assert "md-banner-info" not in alarm.className
