"""Guided rollout plans: a bad plan is a 400 naming the field; a good one round-trips."""

from __future__ import annotations

import pytest

from mesh.errors import BadRequest
from mesh.releases.rollout_plan import RolloutPlan, parse_plan

VERSIONS = ("v1", "v2", "v3")


def plan(**changes):
    payload = {"canary": "v2", "baseline": "v1", "bake_s": 60, **changes}
    return parse_plan(
        payload,
        namespace="bookinfo",
        service="reviews",
        versions=VERSIONS,
        started_by="ann",
        now=5.0,
    )


def test_defaults_are_the_issue_steps_and_rollback():
    p = plan()
    assert p.steps == (10, 25, 50, 100)
    assert p.on_failure == "rollback"
    assert p.weights(1) == {"v1": 75, "v2": 25}
    assert RolloutPlan.from_json(p.to_json()) == p


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"steps": [10, 50, 25, 100]}, "steps"),
        ({"steps": [10, 10, 100]}, "steps"),
        ({"steps": [10, 150]}, "steps"),
        ({"steps": [10, 50]}, "steps"),
        ({"steps": []}, "steps"),
        ({"steps": "10,20"}, "steps"),
        ({"bake_s": 0}, "bake_s"),
        ({"bake_s": "60"}, "bake_s"),
        ({"canary": "v9"}, "canary"),
        ({"baseline": "v7"}, "baseline"),
        ({"canary": "v1"}, "canary"),
        ({"canary": None}, "canary"),
        ({"on_failure": "explode"}, "on_failure"),
        ({"min_requests": 0}, "min_requests"),
        ({"reason": 5}, "reason"),
    ],
)
def test_bad_plans_name_the_field(changes, field):
    with pytest.raises(BadRequest) as err:
        plan(**changes)
    assert err.value.field == field
