import pytest

from dashboards.releases import action_payload, split_bar

VERSIONS = ["v1", "v2", "v3"]


def payload(button, **kw):
    return action_payload(button, stable="v1", canary="v2", versions=VERSIONS, **kw)


def test_buttons_map_to_routing_actions():
    assert payload("step")["action"] == "step_canary"
    assert payload("step")["step"] == 10
    assert payload("even")["weights"] == {"v1": 50, "v2": 50, "v3": 0}
    assert payload("takeover") == {"action": "take_over", "canary": "v2", "reason": ""}
    assert payload("rollback")["stable"] == "v1"
    assert payload("retire")["version"] == "v1"


def test_exact_weights_keep_what_was_typed_so_the_model_can_refuse_it():
    body = payload("weights", weights={"v1": 60.0, "v2": 30, "v3": None})
    assert body["weights"] == {"v1": 60, "v2": 30, "v3": None}


def test_match_and_mirror_forms():
    body = payload("match", form={"kind": "header", "header": "end-user", "value": "jason"})
    assert body | {"reason": ""} == {
        "action": "match_canary",
        "canary": "v2",
        "kind": "header",
        "header": "end-user",
        "match": "exact",
        "value": "jason",
        "reason": "",
    }
    assert payload("mirror", form={"percentage": 10})["percentage"] == 10


def test_unknown_control_is_an_error():
    with pytest.raises(ValueError):
        payload("explode")


def test_split_bar_draws_no_segment_for_zero_weight():
    bar = split_bar({"v1": 100, "v2": 0})
    segments = bar.children[0].children
    assert [s.title for s in segments] == ["v1: 100%"]


def test_policy_form_sends_only_filled_fields():
    form = {
        "policy": {
            "outlierDetection": {"consecutive5xxErrors": 5, "interval": ""},
            "connectionPool": {},
        }
    }
    assert payload("policy", form=form) == {
        "action": "traffic_policy",
        "outlierDetection": {"consecutive5xxErrors": 5},
        "reason": "",
    }
