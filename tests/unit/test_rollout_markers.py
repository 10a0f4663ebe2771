"""A guided rollout's steps on the charts: each step's weight change is a marker that says which
step it was and who started the rollout, read from the audit entry's fields, not its reason."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from mesh.releases.audit import AuditEntry, AuditObject
from mesh.releases.markers import marker_json, weight_markers
from mesh.releases.rollout_step import RolloutStep
from presentation import charts
from presentation.markers import add_weight_markers
from tests.unit.test_markers import vs
from tests.unit.test_usecase_guided_rollout import (  # noqa: F401  (the fixture)
    ALICE,
    ME,
    PLAN,
    T0,
    rig,
)
from usecases.markers import markers_between

STEP_2 = RolloutStep(
    step=2, steps=3, canary="canary", baseline="stable", started_by="alice", verdict="promote"
)


def rollout_entry(when, before, after, step: RolloutStep | None, reason="") -> AuditEntry:
    return AuditEntry(
        when=when,
        who="alice (by rollout)",
        action="set_weights",
        reason=reason,
        namespace="bookinfo",
        service="reviews",
        change_id=f"c{when}",
        objects=(AuditObject("VirtualService", "reviews", before, after, "2"),),
        rollout=step,
    )


def test_the_step_is_stored_with_the_entry_and_read_back():
    entry = rollout_entry(
        T0, vs(("stable", 90), ("canary", 10)), vs(("stable", 50), ("canary", 50)), STEP_2
    )
    stored = json.loads(json.dumps(entry.to_json()))
    assert stored["rollout"]["step"] == 2 and stored["rollout"]["started_by"] == "alice"
    assert AuditEntry.from_json(stored) == entry
    older = {k: v for k, v in stored.items() if k != "rollout"}  # lines written before the field
    assert AuditEntry.from_json(older).rollout is None
    for bad in ({"step": "2", "steps": 3}, {"step": 4, "steps": 3}, {"step": 1, "steps": 0}, []):
        with pytest.raises(ValueError):
            AuditEntry.from_json({**stored, "rollout": bad})


def test_a_rollout_step_marker_says_which_step_and_who_started_it():
    entries = [
        rollout_entry(
            T0, vs(("stable", 90), ("canary", 10)), vs(("stable", 50), ("canary", 50)), STEP_2
        ),
        rollout_entry(
            T0 + 60,
            vs(("stable", 50), ("canary", 50)),
            vs(("stable", 100), ("canary", 0)),
            RolloutStep(0, 3, "canary", "stable", "alice", "rollback"),
        ),
        # A person's own change that happens to read like one: no fields, no rollout marker.
        rollout_entry(
            T0 + 90,
            vs(("stable", 100), ("canary", 0)),
            vs(("stable", 75), ("canary", 25)),
            None,
            reason="by rollout: step 2 of 3",
        ),
    ]
    names = {"stable": "v1", "canary": "v2"}  # the DestinationRule's subsets -> versions
    step, back, manual = weight_markers(entries, "bookinfo", "reviews", subset_versions=names)
    assert step.label == "rollout step 2/3: v2 50%"  # in versions, as the charts speak
    assert back.label == "rollout rolled back: v1 100%"
    assert manual.label == "v1 75 · v2 25" and manual.rollout is None
    assert "(rollout step 2/3, started by alice)" in step.description
    body = marker_json(step)
    assert body["rollout"]["canary"] == "v2" and body["label"] == step.label
    skipped = RolloutStep(3, 3, "v2", "v1", "alice", "skipped", by="bob")
    assert skipped.credit == "started by alice; this step by bob"
    assert RolloutStep(0, 3, "v2", "v1", "alice", "aborted", by="bob").title == "rollout aborted"


def test_the_chart_marker_labels_the_step_and_its_hover_names_the_starter_escaped():
    step = RolloutStep(2, 3, "v2", "v1", "<b>mallory</b>", "promote")
    entry = rollout_entry(T0, vs(("v1", 90), ("v2", 10)), vs(("v1", 50), ("v2", 50)), step)
    [marker] = weight_markers([entry], "bookinfo", "reviews")
    fig = go.Figure(go.Scatter(x=[charts.to_ms(T0 - 60), charts.to_ms(T0 + 60)], y=[1, 1]))
    add_weight_markers(fig, [marker_json(marker)])
    [note] = [a for a in fig.layout.annotations if a.name == "weight-change"]
    assert note.text == "⇄ rollout step 2/3: v2 50%"
    assert "rollout step 2/3, started by &lt;b&gt;mallory&lt;/b&gt;; verdict promote" in (
        note.hovertext
    )
    assert "<b>mallory" not in note.hovertext


def test_a_driven_rollout_marks_every_step_it_wrote(rig):  # noqa: F811
    driver, routes, clock, _, _ = rig
    driver.start("shop", "reviews", PLAN, ALICE)
    clock.now += 121
    assert driver.tick("shop", "reviews", ME) == "set step 2"
    driver.control("shop", "reviews", "skip", False, ALICE)
    markers = markers_between(lambda: routes, "shop", "reviews", T0 - 1, clock.now + 1)
    assert [m.label for m in markers] == [
        "rollout step 1/3: v2 10%",
        "rollout step 2/3: v2 50%",
        "rollout step 3/3: v2 100%",
    ]
    assert [m.rollout.verdict for m in markers] == ["started", "promote", "skipped"]
    assert markers[-1].rollout.credit == "started by alice; this step by alice"
    assert all(m.who == "alice (by rollout)" for m in markers)
