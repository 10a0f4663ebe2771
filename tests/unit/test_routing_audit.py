"""The JSON Lines audit log: newest first, filters, concurrent appends, a torn last line."""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest

from collectors.audit_log import AuditLog
from mesh.errors import BadRequest
from mesh.releases.audit import (
    AuditEntry,
    AuditObject,
    change_annotation,
    clean_reason,
    merge_entries,
)


def entry(i: int, service: str = "reviews", namespace: str = "bookinfo") -> AuditEntry:
    return AuditEntry(
        when=1_790_000_000.0 + i,
        who=f"user{i}",
        action="set_weights",
        reason=f"step {i}",
        namespace=namespace,
        service=service,
        objects=(
            AuditObject(
                "VirtualService",
                service,
                {"metadata": {"resourceVersion": str(i)}},
                {"metadata": {"resourceVersion": str(i + 1)}},
                str(i + 1),
            ),
        ),
        change_id=f"c{i}",
        summary=f"reviews set weights {i}",
    )


def test_entries_come_back_newest_first_with_filters(tmp_path):
    log = AuditLog(tmp_path / "sub" / "audit.jsonl")
    assert log.history() == []  # no file yet
    log.record([entry(1), entry(2, "ratings"), entry(3, namespace="shop")])
    log.record([entry(4)])
    assert [e.change_id for e in log.history()] == ["c4", "c3", "c2", "c1"]
    assert [e.change_id for e in log.history(service="reviews")] == ["c4", "c3", "c1"]
    assert [e.change_id for e in log.history(namespace="bookinfo", service="reviews")] == [
        "c4",
        "c1",
    ]
    assert [e.change_id for e in log.history(limit=2)] == ["c4", "c3"]
    assert log.history()[0] == entry(4)  # round trip
    lines = (tmp_path / "sub" / "audit.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert first["who"] == "user1" and first["time"] == "2026-09-21T14:13:21Z"
    assert first["objects"][0]["before"] == {"metadata": {"resourceVersion": "1"}}


def old_line(i: int, kind: str, change_id: str) -> dict:
    """A line of the one-object shape written before one entry listed every object."""
    return {
        "when": 1_790_000_000.0 + i,
        "who": "bob",
        "action": "retire",
        "reason": "v1 is gone",
        "kind": kind,
        "namespace": "bookinfo",
        "name": "reviews",
        "service": "reviews",
        "before": {"metadata": {"resourceVersion": str(i)}},
        "after": None if kind == "DestinationRule" else {"metadata": {"resourceVersion": "9"}},
        "resource_version": str(i + 1),
        "change_id": change_id,
        "summary": "reviews retire: v1 removed from the route",
    }


def test_old_one_object_lines_are_read_and_one_change_is_one_entry(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = [old_line(1, "VirtualService", "r1"), old_line(1, "DestinationRule", "r1")]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    log = AuditLog(path)
    log.record([entry(5)])  # a new-shape line after the old ones
    raw = log.history()
    assert [len(e.objects) for e in raw] == [1, 1, 1]
    merged = merge_entries(raw)
    assert [e.change_id for e in merged] == ["c5", "r1"]
    retire = merged[1]
    assert sorted(o.kind for o in retire.objects) == ["DestinationRule", "VirtualService"]
    assert retire.object_of("VirtualService").after == {"metadata": {"resourceVersion": "9"}}
    summary = retire.summary_json()
    assert "before" not in summary["objects"][0] and summary["action"] == "retire"
    assert summary["verdict"] is None and summary["override"] is False


def test_verdict_and_override_round_trip(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    verdict = {
        "verdict": "hold",
        "headline": "Hold: v2 fails 2 %",
        "baseline": "v1",
        "canary": "v2",
    }
    e = replace(entry(1), action="take_over", verdict=verdict, override=True)
    log.record([e])
    assert log.history() == [e]
    with pytest.raises(ValueError):
        AuditEntry.from_json({**e.to_json(), "override": "yes"})


def test_reading_backwards_across_blocks(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    big = [entry(i) for i in range(400)]  # ~100 KB: more than one 64 KiB block
    log.record(big)
    got = log.history(limit=1000)
    assert [e.change_id for e in got] == [f"c{i}" for i in reversed(range(400))]


def test_concurrent_appends_never_interleave(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")

    def write(t: int) -> None:
        for i in range(25):
            log.record([entry(t * 100 + i), entry(t * 100 + 50 + i)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = log.history(limit=1000)
    assert len(got) == 400
    assert len({e.change_id for e in got}) == 400
    for line in (tmp_path / "audit.jsonl").read_text().splitlines():
        json.loads(line)


def test_a_torn_last_line_is_skipped_and_does_not_swallow_the_next(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record([entry(1)])
    with path.open("a") as f:
        f.write('{"when": 1790000002, "who": "crash')  # a write cut short
    log.record([entry(3)])
    assert [e.change_id for e in log.history()] == ["c3", "c1"]


def test_annotation_and_reason():
    note = change_annotation(
        who="alice", when=1_790_000_000.0, action="retire", reason="done", change_id="x"
    )
    assert note == {
        "who": "alice",
        "when": "2026-09-21T14:13:20Z",
        "action": "retire",
        "reason": "done",
        "change_id": "x",
    }
    assert clean_reason("  two\n lines ") == "two lines"
    assert clean_reason(None) == ""
    with pytest.raises(BadRequest):
        clean_reason("x" * 501)
    with pytest.raises(BadRequest):
        clean_reason(42)
    with pytest.raises(ValueError):
        AuditEntry.from_json({"when": "yesterday"})
