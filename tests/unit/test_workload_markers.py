"""The workload page's charts carry the weight changes of the services that route to the workload
(issue 6): a split changed through /api/routes shows on /workload?workload=reviews-v2 as on
/service?service=reviews, through the page's own callbacks as the browser calls them."""

from __future__ import annotations

from typing import Any

from app import create_app
from tests.dashcalls import DashCalls
from tests.review_demo import WITHOUT_V3, Clock, demo_services

T0 = 1_790_000_000.0
GRAPHS = ("rps", "success", "latency", "codes", "tcp")


def _page_after_a_shift(kind: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the page's data, its figures) 5 minutes after v3 went to half through the API."""
    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    client = create_app(svc.settings, svc).server.test_client()
    client.get("/api/routes/bookinfo/reviews")  # the first visit sets the CSRF cookie
    token = client.get_cookie("_csrf_token").value
    body = {
        "action": "set_weights",
        "weights": {"v1": 50, "v2": 0, "v3": 50},
        "dry_run": False,
        "reason": "v3 to half",
    }
    r = client.post("/api/routes/bookinfo/reviews", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 200 and r.get_json()["applied"] is True, r.get_json()
    clock.now = T0 + 300
    dash = DashCalls(client)
    code, out, raw = dash.call(
        f"{kind}-data.data",
        {
            f"{kind}-namespace.value": "bookinfo",
            f"{kind}-name.value": name,
            f"{kind}-window.value": "30m",
            f"{kind}-interval.n_intervals": 0,
        },
    )
    assert code == 200 and "Traceback" not in raw, raw[:500]
    data = out[f"{kind}-data"]["data"]
    code, drawn, raw = dash.call(f"{kind}-rps-graph.figure", {f"{kind}-data.data": data})
    assert code == 200, raw[:500]
    return data, {g: drawn[f"{kind}-{g}-graph"]["figure"] for g in GRAPHS}


def _marker_labels(fig: dict[str, Any]) -> list[str]:
    return [
        a["text"] for a in fig["layout"].get("annotations", []) if a.get("name") == "weight-change"
    ]


def _marker_lines(fig: dict[str, Any]) -> list[float]:
    return [s["x0"] for s in fig["layout"].get("shapes", []) if s.get("name") == "weight-change"]


def test_a_weight_change_of_reviews_shows_on_the_reviews_v2_workload_charts():
    data, figs = _page_after_a_shift("wl", "reviews-v2")
    assert data["services"] == ["reviews"]  # read from the workload's own series
    [marker] = data["markers"]
    assert marker["when"] == T0 and marker["after"] == {"v1": 50, "v2": 0, "v3": 50}
    assert marker["reason"] == "v3 to half" and marker["service"] == "reviews"
    for name in ("rps", "success", "latency"):
        assert _marker_labels(figs[name]) == ["⇄ v1 50 · v3 50"], name
        panels = 3 if name == "latency" else 1  # latency: a panel per quantile
        assert _marker_lines(figs[name]) == [T0 * 1000] * panels, name


def test_the_workload_shows_the_same_change_as_its_service_page():
    _, workload = _page_after_a_shift("wl", "reviews-v2")
    _, service = _page_after_a_shift("svc", "reviews")
    assert _marker_labels(workload["rps"]) == _marker_labels(service["rps"])
    assert _marker_lines(workload["rps"]) == _marker_lines(service["rps"])


def test_a_workload_of_another_service_gets_no_marker_of_reviews():
    data, figs = _page_after_a_shift("wl", "ratings-v1")
    assert data["services"] == ["ratings"] and data["markers"] == []
    assert _marker_labels(figs["rps"]) == []


def test_with_two_services_each_label_names_its_service_and_a_repeat_is_one_marker():
    from tests.review_demo import shift
    from views.review import workload_markers

    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    shift(svc, {"v1": 50, "v2": 0, "v3": 50})
    clock.now = T0 + 300
    got = workload_markers(svc, "bookinfo", ["reviews", "ratings", "reviews"], T0 - 60, T0 + 300)
    assert [(m["service"], m["label"]) for m in got] == [("reviews", "reviews: v1 50 · v3 50")]
    alone = workload_markers(svc, "bookinfo", ["reviews"], T0 - 60, T0 + 300)
    assert [m["label"] for m in alone] == ["v1 50 · v3 50"]
    assert workload_markers(svc, "bookinfo", [], T0 - 60, T0 + 300) == []
