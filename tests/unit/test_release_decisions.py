"""Release decisions you can trust (issue 13): no evidence never means promote, the verdict
follows the live split, promotion against a bad verdict needs an explicit override, and one
user action is one audit entry. Over the demo mesh through the real API, and the pure rules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import api
from access import security
from mesh.canary.records import BucketCount, CanaryQuery, CanaryTelemetry, OutcomeCount
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets
from mesh.releases.audit import iso_time
from mesh.releases.markers import WeightMarker
from mesh.releases.state import last_change, nothing_to_judge, release_pair, window_since
from mesh.routing.annotation import LAST_CHANGE_ANNOTATION
from tests.review_demo import Clock, demo_services
from wiring.services import Services
from wiring.settings import Settings

T0 = 1_790_000_000.0


def client_for(svc: Services):
    app = Flask("test_release_decisions")
    api.register(app, svc)
    client = app.test_client()
    client.get("/api/routes")
    client.headers = {security.CSRF_HEADER: client.get_cookie(security.CSRF_COOKIE).value}
    return client


@pytest.fixture
def demo():
    clock = Clock(T0)
    svc = demo_services(clock=clock)
    return client_for(svc), svc, clock


def post(client, body):
    return client.post("/api/routes/bookinfo/reviews", json=body, headers=client.headers)


def canary(client, baseline, canary_, **extra):
    query = "&".join(
        f"{k}={v}" for k, v in {"baseline": baseline, "canary": canary_, **extra}.items()
    )
    return client.get(f"/api/canary/bookinfo/reviews?{query}")


def fail(svc, version: str, rate: float) -> None:
    sim = svc.demo
    w = next(w for w in sim.spec.workloads if w.app == "reviews" and w.version == version)
    sim.state.set_fault("bookinfo", w.name, 1.0, rate)


# --- the pure rules -------------------------------------------------------------------------


def marker(when, before, after, action="set_weights"):
    return WeightMarker(when, "alice", action, "", tuple(before.items()), tuple(after.items()))


def test_the_last_change_comes_from_the_audit_the_annotation_or_the_object_itself():
    m = marker(T0, {"v1": 100}, {"v1": 50, "v2": 50})
    assert last_change([m], None, T0 + 60).when == T0
    assert last_change([m], None, T0 - 1) is None  # a change after `at` is not the past
    note = {"when": iso_time(T0 + 30), "action": "take_over", "who": "bob", "change_id": "x"}
    vs = {"metadata": {"annotations": {LAST_CHANGE_ANNOTATION: json.dumps(note)}}}
    got = last_change([m], vs, T0 + 60)
    assert (got.when, got.source, got.action) == (T0 + 30, "annotation", "take_over")
    # The same change already in the audit log is not counted twice.
    assert last_change([m], vs, T0 + 60, frozenset({"x"})).source == "audit"
    # A later write by someone else (kubectl, GitOps): its managedFields time counts.
    vs["metadata"]["managedFields"] = [{"manager": "kubectl", "time": iso_time(T0 + 50)}]
    assert last_change([m], vs, T0 + 60).source == "virtualservice"


def test_the_window_starts_no_earlier_than_the_last_change():
    m = marker(T0, {"v1": 100}, {"v1": 50, "v2": 50})
    change = last_change([m], None, T0 + 120)
    assert window_since(T0 + 120, 600, change) == 120
    assert window_since(T0 + 900, 600, change) == 600
    assert window_since(T0 + 120, 600, None) == 600


def test_the_canary_is_the_version_the_split_moves_traffic_to():
    assert release_pair(
        {"v1": 50, "v2": 50}, [marker(T0, {"v1": 90, "v2": 10}, {"v1": 50, "v2": 50})]
    ) == ("v1", "v2")
    # v2 grew past v1: still the canary, v1 the baseline.
    assert release_pair(
        {"v1": 30, "v2": 70, "v3": 0}, [marker(T0, {"v1": 50, "v2": 50}, {"v1": 30, "v2": 70})]
    ) == ("v1", "v2")
    # A version at 0 % is never the canary; one live version: nothing is being released.
    assert release_pair({"v2": 100, "v3": 0}, []) == ("v2", None)
    assert release_pair({"v1": 80, "v2": 10, "v3": 10}, []) == ("v1", "v2")


def test_nothing_to_judge_says_what_state_the_release_is_in():
    back = last_change(
        [marker(T0, {"v1": 50, "v2": 50}, {"v1": 100, "v2": 0}, "rollback")], None, T0 + 1
    )
    assert nothing_to_judge({"v1": 100, "v2": 0}, "v1", "v2", back) == (
        "Rolled back to v1 at 14:13 UTC; nothing to judge: v2 gets no traffic."
    )
    assert nothing_to_judge({"v1": 0, "v2": 100}, "v1", "v2", None).startswith(
        "v2 took over all traffic"
    )
    assert nothing_to_judge({"v1": 50, "v2": 50}, "v1", "v2", None) is None
    assert nothing_to_judge({}, "v1", "v2", None) is None  # no routing: judged on traffic


# --- no evidence, no promote ---------------------------------------------------------------


def test_a_version_in_neither_routing_nor_traffic_is_a_400_naming_it(demo):
    client, _, _ = demo
    for url in ("/api/canary/bookinfo/reviews", "/api/review/bookinfo/reviews"):
        r = client.get(f"{url}?baseline=v9&canary=v2")
        assert r.status_code == 400
        assert r.json["field"] == "baseline"
        assert r.json["error"].startswith("baseline v9 is not a version of reviews")
        assert "v1, v2, v3" in r.json["error"]
        r = client.get(f"{url}?baseline=v2&canary=v2")
        assert (r.status_code, r.json["field"]) == (400, "canary")


@dataclass
class TrafficSource:
    """A canary source serving exactly the given requests per version: fast and error-free,
    so only the amount of evidence decides."""

    served: dict[str, float]
    name: str = "test"
    calls: list[CanaryQuery] = field(default_factory=list)

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        self.calls.append(query)
        outcomes, buckets = [], []
        for v in (query.baseline, query.canary):
            n = self.served.get(v, 0.0)
            if n <= 0:
                continue
            outcomes.append(OutcomeCount(v, "200", "", n))
            per = [n / 2 if b in (10, 25) else 0.0 for b in ISTIO_BUCKETS_MS] + [0.0]
            buckets += [
                BucketCount(v, le, c) for le, c in cumulative_buckets(ISTIO_BUCKETS_MS, per)
            ]
        return CanaryTelemetry(query, tuple(outcomes), tuple(buckets), queries_sent=2)


_APP: dict[str, object] = {}


def _property_app():
    """One app for every example (building one per example would dominate the run)."""
    if not _APP:
        source = TrafficSource({})
        svc = Services(settings=Settings(), telemetry=None, canary=source, clock=lambda: T0)
        _APP.update(source=source, client=client_for(svc))
    return _APP["source"], _APP["client"]


NAMES = st.builds(str.__add__, st.sampled_from("abvxz"), st.text("abv0123456789", max_size=5))


LEVELS = st.sampled_from([0.0, 1.0, 50.0, 99.0, 99.5, 100.0, 5000.0, 5000.0])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    versions=st.lists(NAMES, min_size=2, max_size=4, unique=True),
    levels=st.lists(LEVELS, min_size=4, max_size=4),
    data=st.data(),
    endpoint=st.sampled_from(["canary", "review"]),
)
def test_never_promote_when_a_side_lacks_traffic_or_does_not_exist(
    versions, levels, data, endpoint
):
    served = dict(zip(versions, levels, strict=False))

    # Either side: a version with some traffic level, or a name nobody serves.
    def side(names: list[str]) -> st.SearchStrategy[str]:
        known = st.sampled_from(names)
        return st.one_of(known, known, known, NAMES)  # a quarter: a name nobody serves

    baseline = data.draw(side(versions), label="baseline")
    canary_ = data.draw(side([v for v in versions if v != baseline] or versions), label="canary")
    source, client = _property_app()
    source.served = served
    r = client.get(f"/api/{endpoint}/shop/cart?baseline={baseline}&canary={canary_}")
    body = r.get_json()
    short = [v for v in (baseline, canary_) if served.get(v, 0.0) < 100]
    missing = [v for v in (baseline, canary_) if served.get(v, 0.0) <= 0]
    verdict = body.get("verdict") or (body.get("analysis") or {}).get("verdict")
    event("400" if baseline == canary_ or missing else "short" if short else "judged")
    if baseline == canary_ or missing:
        assert r.status_code == 400, body
        assert body["field"] in ("baseline", "canary")
        return
    assert r.status_code == 200, body
    if short:
        assert verdict == "insufficient_traffic"
        reasons = body.get("reasons") or body["analysis"]["reasons"]
        assert any(f" {short[0]} served" in line for line in reasons)  # names the side
    elif min(served[baseline], served[canary_]) >= 5000:
        assert verdict == "promote"  # the control: equal, plentiful evidence does promote
    else:
        assert verdict in ("continue", "promote")  # enough to judge, maybe not to decide


# --- the verdict follows the live split ----------------------------------------------------


def test_the_verdict_is_judged_on_the_part_after_the_last_weight_change(demo):
    client, svc, clock = demo
    fail(svc, "v2", 0.05)  # bad before the change ...
    clock.now += 600
    assert canary(client, "v1", "v2").json["verdict"] == "rollback"
    clock.now += 1
    r = post(client, {"action": "even_split", "versions": ["v1", "v2"], "dry_run": False})
    assert r.status_code == 200, r.json
    fail(svc, "v2", 0.0)  # ... healthy after it
    clock.now += 300
    body = canary(client, "v1", "v2").json
    assert body["analysis_window"]["since_change"] is True
    assert body["analysis_window"]["seconds"] == 300
    assert body["canary"]["errors"] == 0  # none of the errors before the change counted
    assert body["verdict"] != "rollback"


def test_after_a_rollback_nothing_to_judge_and_no_action_offered(demo):
    client, svc, clock = demo
    post(client, {"action": "even_split", "versions": ["v1", "v2"], "dry_run": False})
    fail(svc, "v2", 0.05)
    clock.now += 300
    review = client.get("/api/review/bookinfo/reviews?baseline=v1&canary=v2").json
    assert review["analysis"]["verdict"] == "rollback"
    assert review["action"]["action"] == "rollback"
    assert post(client, {"action": "rollback", "stable": "v1", "dry_run": False}).status_code == 200
    clock.now += 120
    review = client.get("/api/review/bookinfo/reviews?baseline=v1&canary=v2").json
    assert review["analysis"]["verdict"] == "nothing_to_judge"
    assert review["analysis"]["headline"].startswith("Rolled back to v1 at ")
    assert review["action"]["action"] is None
    assert "action=" not in review["action"]["href"]


def test_after_take_over_and_retire_a_zero_weight_version_is_not_judged(demo):
    client, _, clock = demo
    clock.now += 600
    steps = [
        {"action": "take_over", "canary": "v2", "override": True, "reason": "slower is fine"},
        {"action": "retire", "version": "v1"},
    ]
    for step in steps:
        clock.now += 60
        assert post(client, {**step, "dry_run": False}).status_code == 200
    clock.now += 120
    body = canary(client, "v2", "v3").json
    assert body["verdict"] == "nothing_to_judge"
    assert body["headline"].startswith("v2 took over all traffic at ")
    assert body["headline"].endswith("nothing to judge: v3 gets none.")
    # The retire moved no weight: the window starts at the take-over, and v3's traffic from
    # before it (10 % of the seeded split) is not counted.
    assert body["analysis_window"]["seconds"] == 180
    assert body["canary"]["requests"] == 0
    audit = client.get("/api/audit?service=reviews").json["entries"]
    assert [e["action"] for e in audit] == ["retire", "take_over"]
    assert [o["kind"] for o in audit[0]["objects"]] == ["VirtualService", "DestinationRule"]
    review = client.get("/api/review/bookinfo/reviews?baseline=v2&canary=v3").json
    assert [e["change_id"] for e in review["audit"]] == [e["change_id"] for e in audit]


# --- promotion against the evidence is explicit -------------------------------------------


def test_take_over_against_a_bad_verdict_needs_an_override_with_a_reason(demo):
    client, svc, clock = demo
    post(client, {"action": "even_split", "versions": ["v1", "v2"], "dry_run": False})
    fail(svc, "v2", 0.05)
    clock.now += 300
    before = client.get("/api/routes/bookinfo/reviews").json["split"]
    preview = post(client, {"action": "take_over", "canary": "v2"}).json
    assert preview["override_needed"] is True and preview["verdict"]["verdict"] == "rollback"
    r = post(client, {"action": "take_over", "canary": "v2", "dry_run": False})
    assert r.status_code == 409
    assert r.json["verdict"]["verdict"] == "rollback"
    assert "override: true" in r.json["error"]
    r = post(client, {"action": "step_canary", "canary": "v2", "dry_run": False})
    assert r.status_code == 409
    r = post(client, {"action": "take_over", "canary": "v2", "dry_run": False, "override": True})
    assert (r.status_code, r.json["field"]) == (400, "reason")
    r = post(client, {"action": "take_over", "canary": "v2", "override": "yes", "dry_run": False})
    assert (r.status_code, r.json["field"]) == (400, "override")
    assert client.get("/api/routes/bookinfo/reviews").json["split"] == before  # nothing written
    r = post(
        client,
        {
            "action": "take_over",
            "canary": "v2",
            "dry_run": False,
            "override": True,
            "reason": "hotfix",
        },
    )
    assert r.status_code == 200, r.json
    entry = client.get("/api/audit?service=reviews").json["entries"][0]
    assert entry["action"] == "take_over" and entry["override"] is True
    assert entry["verdict"]["verdict"] == "rollback" and entry["verdict"]["canary"] == "v2"
    assert entry["reason"] == "hotfix"


class FailingRoutes:
    """A RouteStore whose Kubernetes API refuses connections."""

    name = "kubernetes"

    def get_service(self, namespace, service):
        from mesh.errors import BackendUnavailable

        raise BackendUnavailable("kubernetes", "connection refused")


def test_without_the_split_the_verdict_stands_but_never_promotes():
    source = TrafficSource({"v1": 5000.0, "v2": 5000.0})
    svc = Services(
        settings=Settings(), telemetry=None, canary=source, routes=FailingRoutes(), clock=lambda: T0
    )
    r = client_for(svc).get("/api/canary/shop/cart?baseline=v1&canary=v2")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["verdict"] == "continue"  # equal, plentiful evidence: promote without the fault
    assert body["withheld"].startswith("The routing could not be read (kubernetes: connection")
    assert body["headline"].startswith("Continue: the routing could not be read")
    assert body["analysis_window"]["routing_error"]
