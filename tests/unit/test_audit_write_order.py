"""Two replicas may append their audit records in the other order than their writes landed: the
history lists the changes of one object in the order of its resourceVersions."""

from __future__ import annotations

from mesh.releases.audit import AuditEntry, AuditObject, in_write_order


def entry(cid: str, rv: str, name: str = "reviews", when: float = 100.0) -> AuditEntry:
    obj = AuditObject("VirtualService", name, None, {}, rv)
    return AuditEntry(when, "alice", "set_weights", "", "bookinfo", name, cid, (obj,))


def ids(entries: list[AuditEntry]) -> list[str]:
    return [e.change_id for e in entries]


def test_records_appended_out_of_write_order_are_listed_in_write_order():
    appended = [entry("a", "1040"), entry("c", "1049"), entry("b", "1048"), entry("d", "1050")]
    assert ids(in_write_order(appended)) == ["a", "b", "c", "d"]


def test_other_objects_keep_their_places_and_versions_compare_as_numbers():
    appended = [
        entry("r2", "999"),
        entry("x", "5", name="ratings"),
        entry("r1", "1000"),
        entry("y", "4", name="ratings"),
    ]
    # reviews' 999 < 1000 as numbers (as text "999" > "1000"); ratings' two swap in place.
    assert ids(in_write_order(appended)) == ["r2", "y", "r1", "x"]


def test_entries_without_a_numeric_version_stay_where_they_were():
    appended = [entry("late", ""), entry("b", "7"), entry("a", "6")]
    assert ids(in_write_order(appended)) == ["late", "a", "b"]
