"""Pure helpers of the releases page: what each control sends, and how the page reads the model."""

import pytest

from dashboards.components.release_view import audit_table, diff_view, latest_figures, split_bar
from dashboards.releases.forms import (
    action_payload,
    button_label,
    current_policy,
    policy_values,
    retire_target,
    review_link,
    weight_sum,
)
from dashboards.releases.panels import write_note
from mesh.releases.roles import default_roles

VERSIONS = ["v1", "v2", "v3"]


def payload(button, **kw):
    return action_payload(button, stable="v1", canary="v2", versions=VERSIONS, **kw)


def test_buttons_map_to_routing_actions_on_the_chosen_versions():
    assert payload("step") == {
        "action": "step_canary",
        "canary": "v2",
        "stable": "v1",
        "step": 10,
        "reason": "",
    }
    assert payload("even") == {"action": "even_split", "versions": ["v1", "v2"], "reason": ""}
    assert payload("takeover") == {"action": "take_over", "canary": "v2", "reason": ""}
    assert payload("rollback")["stable"] == "v1"
    assert payload("retire")["version"] == "v1"  # the old version, never the canary
    assert payload("bluegreen")["target"] == "v2"


def test_button_labels_name_the_versions_they_act_on():
    assert button_label("retire", "v1", "v2") == "Retire v1"
    assert button_label("retire", "v2", "v1", retire="v1") == "Retire v1"
    # Retire removes whichever role has no traffic: the old stable after a take-over.
    assert retire_target({"v1": 0, "v2": 100}, "v2", "v1") == "v1"
    assert retire_target({"v1": 100, "v2": 0}, "v1", "v2") == "v2"
    assert retire_target({"v1": 50, "v2": 50}, "v1", "v2") == "v1"
    assert button_label("takeover", "v1", "v2") == "Take over all traffic (v2)"
    assert button_label("step", None, None) == "+10% to canary"


def test_exact_weights_pass_what_was_typed_so_the_model_can_refuse_it():
    body = payload("weights", weights={"v1": 60.0, "v2": 30, "v3": None})
    assert body["weights"] == {"v1": 60, "v2": 30, "v3": None}
    assert payload("weights", weights={"v1": 50.5})["weights"]["v1"] == 50.5


@pytest.mark.parametrize(
    ("values", "total", "problem"),
    [
        ([50, 50, 0], 100, ""),
        ([80, 10, 17], 107, "weights must add up to 100 (+7)"),
        ([50, None], 50, "v2: enter a whole number from 0 to 100"),
        ([50.5, 49.5], 100, "v1 50.5, v2 49.5: weights are whole numbers from 0 to 100"),
        ([120, -20], 100, "v1 120, v2 -20: weights are whole numbers from 0 to 100"),
    ],
)
def test_weight_sum_is_shown_live_with_the_reason_it_cannot_apply(values, total, problem):
    assert weight_sum(values, ["v1", "v2", "v3"]) == (total, problem)


def test_header_match_sends_the_name_the_model_reads_and_uri_sends_none():
    body = payload(
        "match",
        form={"kind": "header", "name": " end-user ", "value": "jason", "version": "v3"},
    )
    assert body == {
        "action": "match_canary",
        "canary": "v3",
        "kind": "header",
        "name": "end-user",
        "match": "exact",
        "value": "jason",
        "reason": "",
    }
    uri = payload("match", form={"kind": "uri", "name": "x", "match": "prefix", "value": "/api"})
    assert "name" not in uri and uri["canary"] == "v2"


def test_mirror_and_stop_mirroring():
    assert payload("mirror", form={"version": "v3", "percentage": 20}) == {
        "action": "mirror",
        "version": "v3",
        "percentage": 20,
        "reason": "",
    }
    assert payload("mirror-stop") == {"action": "mirror", "percentage": 0, "reason": ""}
    assert payload("remove_match", form={"index": 0})["index"] == 0


def test_unknown_control_is_an_error():
    with pytest.raises(ValueError):
        payload("explode")


def test_policy_form_sends_only_filled_fields_with_numbers_as_ints():
    ids = [
        {"section": "outlierDetection", "field": "consecutive5xxErrors"},
        {"section": "outlierDetection", "field": "interval"},
        {"section": "connectionPool", "field": "maxConnections"},
    ]
    values = policy_values([" 5 ", "", None], ids)
    assert values == {"outlierDetection": {"consecutive5xxErrors": 5}}
    assert payload("policy", form={"policy": values}) == {
        "action": "traffic_policy",
        "outlierDetection": {"consecutive5xxErrors": 5},
        "reason": "",
    }


def test_current_policy_reads_nested_fields_for_the_placeholders():
    policy = {
        "connectionPool": {"tcp": {"maxConnections": 100}},
        "outlierDetection": {"interval": "10s"},
    }
    assert current_policy(policy) == {
        ("connectionPool", "maxConnections"): 100,
        ("outlierDetection", "interval"): "10s",
    }
    assert current_policy(None) == {}


def test_default_roles_pick_the_busiest_and_keep_a_valid_choice():
    weights = {"v1": 80, "v2": 10, "v3": 10}
    assert default_roles(weights) == ("v1", "v2")
    assert default_roles(weights, "v1", "v3") == ("v1", "v3")
    assert default_roles({"v2": 100, "v3": 0}, "v1", "v2") == ("v2", "v3")  # v1 retired
    assert default_roles({"v1": 100}) == ("v1", None)
    assert default_roles({}) == (None, None)


def test_review_link_carries_the_pair():
    assert review_link("bookinfo", "reviews", "v1", "v2") == (
        "/review?namespace=bookinfo&service=reviews&baseline=v1&canary=v2"
    )


def test_split_bar_draws_no_segment_for_zero_weight_but_lists_it():
    bar = split_bar({"v1": 100, "v2": 0})
    segments, legend = bar.children[0].children, bar.children[1].children
    assert [s.title for s in segments] == ["v1: 100%"]
    assert [item.children[1] for item in legend] == ["v1 100%", "v2 0%"]


def test_diff_lines_are_coloured_by_sign():
    pre = diff_view("--- a\n+++ b\n@@ -1 +1 @@\n-  weight: 80\n+  weight: 50\n   host: x")
    assert [s.className for s in pre.children] == [
        "rel-diff-file",
        "rel-diff-file",
        "rel-diff-hunk",
        "rel-del",
        "rel-add",
        "rel-ctx",
    ]


def test_audit_rows_are_one_per_action_listing_its_objects_and_any_override():
    common = {"when": 1.7e9, "who": "ann", "reason": "", "summary": "s"}
    objects = [
        {"kind": "VirtualService", "name": "reviews"},
        {"kind": "DestinationRule", "name": "reviews"},
    ]
    verdict = {"verdict": "hold", "canary": "v2", "baseline": "v1", "headline": "Hold: ..."}
    table = audit_table(
        [
            {**common, "action": "retire", "objects": objects, "change_id": "a"},
            {**common, "action": "take_over", "objects": objects[:1], "change_id": "b"}
            | {"verdict": verdict, "override": True, "reason": "known test client"},
        ]
    )
    rows = table.children[1].children
    assert len(rows) == 2
    assert rows[0].children[-1].children == "VirtualService reviews, DestinationRule reviews"
    assert rows[0].children[0].children == "2023-11-14 22:13:20"
    reason = rows[1].children[4].children
    assert reason[0] == "known test client"
    assert reason[-1].children == "override of the Hold verdict on v2"
    assert audit_table([]).id == "rel-audit-empty"


def test_write_note_names_the_owner_or_the_reason_writes_are_off():
    owned = write_note(
        {"writable": False, "owner": "Flagger Canary ns/r", "why_not": "managed by Flagger"}
    )
    assert owned.children[0].children == "Read-only: "
    assert owned.children[1].children == "managed by Flagger"
    off = write_note({"writable": False, "why_not": "route changes are disabled"})
    assert off.children[0].children == "Changes are disabled: "
    assert write_note({"writable": True}) is None


def test_live_figures_are_the_newest_points_with_the_summary_as_fallback():
    metrics = {
        "series": {
            "rps": {"v1": [[1, 16.0], [2, 12.0]], "v2": [[1, 2.0], [2, None]]},
            "success_rate": {"v1": [[2, 0.99]]},
            "p95_ms": {},
        },
        "summary": {"v1": {"p95_ms": 23.0}, "v2": {"rps": 2.5, "success_rate": 1.0}},
    }
    assert latest_figures(metrics) == {
        "v1": {"rps": 12.0, "success_rate": 0.99, "p95_ms": 23.0},
        "v2": {"rps": 2.0, "success_rate": 1.0, "p95_ms": None},
    }
