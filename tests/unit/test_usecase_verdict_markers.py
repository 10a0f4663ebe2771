"""The canary verdict and the weight markers as use cases: plain Python, a fake route store
whose audit trail is written by the release write itself, and a canary source written here."""

from __future__ import annotations

import pytest

from access.security import Identity
from mesh.canary.records import CanaryTelemetry
from mesh.errors import BackendUnavailable, BadRequest, NotFound
from mesh.routing.plan import parse_action
from mesh.validate import TimeWindow
from tests.usecase_fakes import (
    DESTINATION_RULE,
    Counter,
    CountsSource,
    FakeRoutes,
    virtual_service,
)
from usecases.canary_verdict import CanaryVerdict, question
from usecases.markers import markers_between, weight_history
from usecases.release_guard import Guard
from usecases.release_write import ChangeRequest, ReleaseWrite

T0 = 1_790_000_000.0
WINDOW = TimeWindow("10m", 600)


def shifted_store(at: float) -> FakeRoutes:
    """Routes whose audit trail holds one applied 90/10 -> 50/50 shift at `at`."""
    store = FakeRoutes(virtual_service(90, 10), DESTINATION_RULE)
    write = ReleaseWrite(
        routes=lambda: store,
        authorize=lambda identity: identity,
        guard=lambda routes, plan: Guard(None, False),
        clock=lambda: at,
        metrics=Counter(),
    )
    action = parse_action({"action": "set_weights", "weights": {"v1": 50, "v2": 50}})
    request = ChangeRequest("shop", "reviews", action, "halfway", dry_run=False)
    write.change(request, Identity("alice", source="token"))
    return store


def test_the_evidence_starts_at_the_last_weight_change():
    source = CountsSource()
    verdict = CanaryVerdict(lambda: source, shifted_store(T0 - 120), gates={})
    model = verdict.judge(question("shop", "reviews", "v1", "v2", WINDOW), T0)
    assert (source.calls[0].at, source.calls[0].window_s) == (T0, 120)
    assert model.window_s == 120 and model.context.split == {"v1": 50, "v2": 50}
    assert model.source == "counts" and model.routing_error == ""


def test_without_a_change_in_the_window_the_whole_window_counts():
    source = CountsSource()
    verdict = CanaryVerdict(lambda: source, shifted_store(T0 - 3600), gates={})
    assert verdict.judge(question("shop", "reviews", "v1", "v2", WINDOW), T0).window_s == 600


def test_a_failing_canary_is_judged_with_the_service_gates_and_the_request_overrides():
    source = CountsSource(canary_failed=250.0)  # 5 % errors against a clean baseline
    verdict = CanaryVerdict(lambda: source, None, gates={"shop/reviews": {"min_requests": 10}})
    params = question("shop", "reviews", "v1", "v2", WINDOW, {"alpha": "0.01"})
    assert verdict.config(params).min_requests == 10 and verdict.config(params).alpha == 0.01
    assert verdict.judge(params, T0).analysis.verdict.value == "rollback"


def test_unreadable_routing_withholds_promote_and_says_why():
    class Down(FakeRoutes):
        def get_service(self, namespace, service):
            raise BackendUnavailable("kubernetes", "connection refused")

    verdict = CanaryVerdict(lambda: CountsSource(), Down(virtual_service(50, 50)), gates={})
    model = verdict.judge(question("shop", "reviews", "v1", "v2", WINDOW), T0)
    assert "routing could not be read" in model.routing_error
    assert model.analysis.verdict.value != "promote" and model.window_s == 600


def test_a_version_neither_routed_nor_serving_is_a_400_naming_it():
    class Silent(CountsSource):
        def canary_telemetry(self, query):
            self.calls.append(query)
            return CanaryTelemetry(query, (), (), queries_sent=2)

    verdict = CanaryVerdict(lambda: Silent(), shifted_store(T0 - 3600), gates={})
    with pytest.raises(BadRequest) as bad:
        verdict.judge(question("shop", "reviews", "v1", "v9", WINDOW), T0)
    assert bad.value.field == "canary" and "v1, v2" in str(bad.value)


def test_a_question_is_validated_before_any_backend_sees_it():
    with pytest.raises(BadRequest) as same:
        question("shop", "reviews", "v1", "v1", WINDOW)
    assert same.value.field == "canary"
    with pytest.raises(BadRequest) as promql:
        question("shop", "reviews", 'v1"}', "v2", WINDOW)
    assert promql.value.field == "baseline"
    with pytest.raises(BadRequest) as gate:
        question("shop", "reviews", "v1", "v2", WINDOW, {"min_requests": "many"})
    assert gate.value.field == "min_requests"


def test_markers_come_from_the_audit_trail_within_the_range():
    store = shifted_store(T0)
    found = markers_between(lambda: store, "shop", "reviews", T0 - 60, T0 + 60)
    assert [(m.when, m.who, m.before, m.after) for m in found] == [
        (T0, "alice", (("v1", 90), ("v2", 10)), (("v1", 50), ("v2", 50)))
    ]
    assert markers_between(lambda: store, "shop", "reviews", T0 + 1, T0 + 60) == ()
    assert markers_between(lambda: store, "shop", "ratings", T0 - 60, T0 + 60) == ()


def test_no_routing_means_no_markers_never_a_failed_chart():
    def not_configured():
        raise NotFound("routing is not configured")

    assert markers_between(not_configured, "shop", "reviews", T0 - 60, T0 + 60) == ()


def test_the_weight_history_of_a_review_stops_at_its_time():
    store = shifted_store(T0)
    before = weight_history(store, "shop", "reviews", T0 - 1)
    after = weight_history(store, "shop", "reviews", T0)
    assert before.split == after.split == {"v1": 50, "v2": 50}  # the split is the live one
    assert (len(before.markers), len(after.markers), len(after.history)) == (0, 1, 1)
