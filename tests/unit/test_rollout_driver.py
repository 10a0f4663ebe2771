"""The driver's rules, one test each: advance on promote/continue, wait while baking or holding,
pause on a foreign write or a long hold, roll back or pause on rollback as the plan says."""

from __future__ import annotations

from dataclasses import replace

from mesh.releases.rollout_driver import Evidence, Idle, Pause, RollBack, SetStep, Wait, decide
from mesh.releases.rollout_plan import Progress, parse_plan, start_progress

PLAN = parse_plan(
    {"canary": "v2", "baseline": "v1", "bake_s": 60, "max_hold_s": 300},
    namespace="bookinfo",
    service="reviews",
    versions=("v1", "v2"),
    started_by="ann",
    now=0.0,
)
AT_STEP_1 = Progress(state="running", step=1, step_started=100.0, resource_version="7")


def test_first_tick_writes_the_first_step():
    assert decide(PLAN, start_progress(0.0), None, 0.0, "3") == SetStep(0, "rollout started")


def test_waits_while_the_step_bakes_without_reading_a_verdict():
    d = decide(PLAN, AT_STEP_1, Evidence("rollback"), 159.0, "7")
    assert isinstance(d, Wait) and d.until == 160.0


def test_promote_or_continue_moves_to_the_next_step():
    assert decide(PLAN, AT_STEP_1, Evidence("promote"), 160.0, "7") == SetStep(2, "verdict promote")
    assert decide(PLAN, AT_STEP_1, Evidence("continue"), 170.0, "7").step == 2


def test_nothing_after_the_last_step():
    done = replace(AT_STEP_1, step=3)
    assert decide(PLAN, done, Evidence("promote"), 500.0, "7") == Idle()


def test_rollback_verdict_rolls_back_or_pauses_as_planned():
    assert isinstance(decide(PLAN, AT_STEP_1, Evidence("rollback"), 200.0, "7"), RollBack)
    pausing = replace(PLAN, on_failure="pause")
    assert isinstance(decide(pausing, AT_STEP_1, Evidence("rollback"), 200.0, "7"), Pause)


def test_hold_and_missing_evidence_wait_then_pause_after_max_hold():
    for evidence in (Evidence("hold"), Evidence("insufficient_traffic"), None):
        assert isinstance(decide(PLAN, AT_STEP_1, evidence, 200.0, "7"), Wait)
        held = replace(AT_STEP_1, hold_since=200.0)
        assert isinstance(decide(PLAN, held, evidence, 499.0, "7"), Wait)
        d = decide(PLAN, held, evidence, 500.0, "7")
        assert isinstance(d, Pause) and "300 s" in d.why


def test_a_write_by_someone_else_pauses():
    d = decide(PLAN, AT_STEP_1, Evidence("promote"), 500.0, "9")
    assert isinstance(d, Pause) and "someone else" in d.why and "9" in d.why


def test_paused_or_finished_does_nothing():
    for state in ("paused", "promoted", "rolled_back", "aborted"):
        assert (
            decide(PLAN, replace(AT_STEP_1, state=state), Evidence("promote"), 900.0, "9") == Idle()
        )
