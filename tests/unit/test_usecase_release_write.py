"""The release write as a use case: plain Python with fakes for the route store (and its audit
trail), the clock, the identity check, the verdict guard and the metrics. No Flask, no server."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from access.security import Identity
from mesh.errors import BadRequest, Conflict, Forbidden
from mesh.routing.annotation import parse_last_change
from mesh.routing.plan import parse_action
from tests.usecase_fakes import DESTINATION_RULE, Counter, FakeRoutes, virtual_service
from usecases.release_guard import AgainstVerdict, Guard
from usecases.release_write import ChangeRequest, ReleaseWrite

T0 = 1_790_000_000.0
ALICE = Identity("alice", source="token")
HOLD = {"verdict": "hold", "headline": "v2 is slower", "reasons": ["slower"], "canary": "v2"}


def writers_only(identity: Identity | None) -> Identity:
    if identity is None or identity.user != "alice":
        raise Forbidden("only alice may write here")
    return identity


NO_VERDICT = Guard(None, False)


def build(store: FakeRoutes, guard: Guard = NO_VERDICT) -> tuple[ReleaseWrite, Counter]:
    counter = Counter()
    use_case = ReleaseWrite(
        routes=lambda: store,
        authorize=writers_only,
        guard=lambda routes, plan: guard,
        clock=lambda: T0,
        metrics=counter,
        new_id=lambda: "c0ffee000001",
    )
    return use_case, counter


def request(payload: dict, **kw) -> ChangeRequest:
    return ChangeRequest("shop", "reviews", parse_action(payload), **kw)


SHIFT = {"action": "set_weights", "weights": {"v1": 50, "v2": 50}}
RETIRE = {"action": "retire", "version": "v1"}


def test_a_preview_dry_runs_every_write_and_changes_nothing():
    store = FakeRoutes(virtual_service(90, 10), DESTINATION_RULE)
    before = copy.deepcopy(store.objects)
    write, counter = build(store)
    out = write.change(request(SHIFT), ALICE)
    assert store.writes == [("VirtualService", True)]
    assert store.objects == before and store.recorded == []
    assert out.applied == () and out.base == {"VirtualService": "10", "DestinationRule": "20"}
    assert out.user == "alice" and counter.counts == []  # previews are not counted


def test_a_dry_run_refused_by_the_server_writes_nothing_at_all():
    store = FakeRoutes(virtual_service(0, 100), DESTINATION_RULE)
    store.reject_dry_run = "DestinationRule"  # the second of the two writes
    before = copy.deepcopy(store.objects)
    write, counter = build(store)
    with pytest.raises(BadRequest, match="admission webhook"):
        write.counted("retire", lambda: write.change(request(RETIRE, dry_run=False), ALICE))
    assert store.writes == [("VirtualService", True), ("DestinationRule", True)]
    assert store.objects == before and store.recorded == []
    assert counter.counts == [("retire", "invalid")]


def test_an_applied_change_is_one_audit_entry_listing_every_object():
    store = FakeRoutes(virtual_service(0, 100), DESTINATION_RULE)
    write, counter = build(store)
    out = write.counted(
        "retire", lambda: write.change(request(RETIRE, dry_run=False, reason="v2 won"), ALICE)
    )
    assert store.writes == [
        ("VirtualService", True),
        ("DestinationRule", True),
        ("VirtualService", False),
        ("DestinationRule", False),
    ]
    assert store.record_calls == 1 and len(store.recorded) == 1
    entry = store.recorded[0]
    assert (entry.who, entry.action, entry.reason, entry.when) == ("alice", "retire", "v2 won", T0)
    assert entry.change_id == out.change_id == "c0ffee000001"
    assert [(o.kind, o.resource_version) for o in entry.objects] == [
        ("VirtualService", "101"),
        ("DestinationRule", "102"),
    ]
    dr = entry.objects[1]
    assert "managedFields" not in dr.before["metadata"]  # the audit keeps the objects, not noise
    assert [s["name"] for s in dr.after["spec"]["subsets"]] == ["v2"]
    # the object itself says who changed it and why, with the same change id
    note = parse_last_change(store.objects["VirtualService"])
    assert (note["who"], note["change_id"]) == ("alice", "c0ffee000001")
    assert store.objects["VirtualService"]["spec"]["http"][0]["retries"] == {"attempts": 3}
    assert out.audit_message == "" and counter.counts == [("retire", "ok")]


def test_a_confirmation_against_a_changed_route_is_a_409_and_writes_nothing():
    store = FakeRoutes(virtual_service(90, 10), DESTINATION_RULE)
    write, counter = build(store)
    preview = write.change(request(SHIFT), ALICE)
    store.objects["VirtualService"] = virtual_service(80, 20, rv="11")  # someone else's edit
    store.writes.clear()
    confirm = request(SHIFT, dry_run=False, base=preview.base)
    with pytest.raises(Conflict):
        write.counted("set_weights", lambda: write.change(confirm, ALICE))
    assert store.writes == [] and store.recorded == []
    assert store.objects["VirtualService"]["spec"]["http"][0]["route"][1]["weight"] == 20
    assert counter.counts == [("set_weights", "conflict")]


def test_a_conflict_after_a_first_write_keeps_that_write_in_the_audit():
    store = FakeRoutes(virtual_service(0, 100), DESTINATION_RULE)
    original = store.write

    def racing_write(w, *, dry_run):
        out = original(w, dry_run=dry_run)
        if w.kind == "VirtualService" and not dry_run:  # someone edits the rule meanwhile
            store.objects["DestinationRule"] = replace_rv(store.objects["DestinationRule"], "99")
        return out

    store.write = racing_write
    write, counter = build(store)
    with pytest.raises(Conflict, match="VirtualService reviews was already applied"):
        write.counted("retire", lambda: write.change(request(RETIRE, dry_run=False), ALICE))
    assert [o.kind for o in store.recorded[0].objects] == ["VirtualService"]
    assert counter.counts == [("retire", "conflict")]


def replace_rv(obj: dict, rv: str) -> dict:
    out = copy.deepcopy(obj)
    out["metadata"]["resourceVersion"] = rv
    return out


def test_no_write_access_is_refused_before_the_routes_are_read():
    def no_store():
        raise AssertionError("the store must not be asked before the identity is checked")

    write, counter = build(FakeRoutes(virtual_service(90, 10)))
    write = replace(write, routes=no_store)
    with pytest.raises(Forbidden):
        write.counted("set_weights", lambda: write.change(request(SHIFT, dry_run=False), None))
    assert counter.counts == [("set_weights", "forbidden")]


def test_a_write_against_a_hold_verdict_needs_an_override_with_a_reason():
    store = FakeRoutes(virtual_service(90, 10), DESTINATION_RULE)
    write, _ = build(store, Guard(HOLD, needs_override=True))
    take_over = {"action": "take_over", "version": "v2"}
    with pytest.raises(AgainstVerdict) as refused:
        write.change(request(take_over, dry_run=False), ALICE)
    assert refused.value.verdict["verdict"] == "hold"
    with pytest.raises(BadRequest) as no_reason:
        write.change(request(take_over, dry_run=False, override=True), ALICE)
    assert no_reason.value.field == "reason"
    assert [k for k, dry in store.writes if not dry] == [] and store.recorded == []
    out = write.change(
        request(take_over, dry_run=False, override=True, reason="hotfix, slower is fine"), ALICE
    )
    entry = store.recorded[0]
    assert (entry.verdict, entry.override) == (HOLD, True)
    assert out.guard.needs_override and out.applied


def test_an_audit_trail_that_is_down_does_not_undo_the_change_but_says_so():
    store = FakeRoutes(virtual_service(90, 10), DESTINATION_RULE)
    store.audit_down = True
    write, counter = build(store)
    out = write.counted("set_weights", lambda: write.change(request(SHIFT, dry_run=False), ALICE))
    assert out.applied and "could not be written to the shared audit trail" in out.audit_message
    assert counter.counts == [("set_weights", "ok")]


def test_nothing_to_change_asks_no_guard_and_writes_nothing():
    store = FakeRoutes(virtual_service(50, 50), DESTINATION_RULE)

    def guard(routes, plan):
        raise AssertionError("no verdict is needed for a change that writes nothing")

    write, _ = build(store)
    out = replace(write, guard=guard).change(request(SHIFT, dry_run=False), ALICE)
    assert out.plan.writes == () and out.guard is None and store.writes == []
