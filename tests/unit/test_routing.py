"""The routing model (mesh.routing.state, mesh.routing.plan and the action modules) on Istio's own
Bookinfo manifests (../shared/fixtures/istio, never copied here).

Every action is checked for its output AND for touching nothing else: `changed_paths` lists the
JSON paths that differ between the object before and after, and each test states exactly which
paths it expects to change.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from mesh.errors import BadRequest, Forbidden
from mesh.routing.annotation import LAST_CHANGE_ANNOTATION, annotate, parse_last_change
from mesh.routing.diff import yaml_diff
from mesh.routing.objects import Write
from mesh.routing.plan import Plan, parse_action, plan_change
from mesh.routing.selection import (
    ServiceRoutes,
    pick_virtual_service,
    service_names,
    service_routes,
)
from mesh.routing.state import read_routes

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "istio"
NS = "bookinfo"


def load(name: str) -> list[dict]:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"shared Istio fixture {path} is absent (it lives outside the repo)")
    with path.open() as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        d.setdefault("metadata", {}).setdefault("namespace", NS)
    return docs


def one(name: str, kind: str, obj_name: str) -> dict:
    for d in load(name):
        if d["kind"] == kind and d["metadata"]["name"] == obj_name:
            return d
    raise AssertionError(f"{kind} {obj_name} not in {name}")


def vs(name: str, obj_name: str = "reviews") -> dict:
    return one(name, "VirtualService", obj_name)


def dr(name: str = "destination-rule-reviews.yaml", obj_name: str = "reviews") -> dict:
    return one(name, "DestinationRule", obj_name)


def deployed_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in load("bookinfo.yaml"):
        if d["kind"] == "Deployment":
            labels = d["metadata"]["labels"]
            out.setdefault(labels["app"], []).append(labels["version"])
    return out


def routes(
    virtual_service: dict | None,
    destination_rule: dict | None,
    service: str = "reviews",
    **kw,
) -> ServiceRoutes:
    versions = tuple(deployed_versions().get(service, ()))
    return ServiceRoutes(NS, service, virtual_service, destination_rule, versions, **kw)


def plan(sr: ServiceRoutes, **payload) -> Plan:
    return plan_change(sr, parse_action(payload))


def changed_paths(a, b, path=()) -> set[tuple]:
    """JSON paths whose values differ; a list of different length counts as one changed path."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[tuple] = set()
        for k in a.keys() | b.keys():
            if k not in a or k not in b:
                out.add((*path, k))
            else:
                out |= changed_paths(a[k], b[k], (*path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = set()
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out |= changed_paths(x, y, (*path, i))
        return out
    return set() if a == b and type(a) is type(b) else {path}


def write_of(p: Plan, kind: str) -> Write:
    found = [w for w in p.writes if w.kind == kind]
    assert len(found) == 1, p.writes
    return found[0]


def split(p: Plan) -> dict[str, int]:
    return {d.subset: d.weight for d in p.split_after}


# --------------------------------------------------------------------------------------------
# Reading


def test_lone_destination_without_weight_takes_all_traffic():
    for svc in ("productpage", "reviews", "ratings", "details"):
        state = read_routes(
            routes(
                vs("virtual-service-all-v1.yaml", svc), dr("destination-rule-all.yaml", svc), svc
            )
        )
        assert state.weights == {"v1": 100}
        assert state.default_index == 0
        assert state.problem == ""


def test_weighted_split_and_subsets_are_read():
    state = read_routes(routes(vs("virtual-service-reviews-80-20.yaml"), dr()))
    assert [(d.subset, d.weight) for d in state.split] == [("v1", 80), ("v2", 20)]
    assert state.subsets == ("v1", "v2", "v3")
    assert state.policy == {"loadBalancer": {"simple": "RANDOM"}}
    ratings = read_routes(routes(None, dr("destination-rule-all.yaml", "ratings"), "ratings"))
    assert ratings.subsets == ("v1", "v2", "v2-mysql", "v2-mysql-vm")
    assert ratings.split == ()


def test_missing_weight_beside_weighted_destinations_reads_as_zero():
    obj = vs("virtual-service-reviews-90-10.yaml")
    del obj["spec"]["http"][0]["route"][1]["weight"]  # as Istio's Go types drop `weight: 0`
    obj["spec"]["http"][0]["route"][0]["weight"] = 100
    state = read_routes(routes(obj, dr()))
    assert state.weights == {"v1": 100, "v2": 0}


def test_header_match_route_is_read_and_default_route_is_the_last():
    state = read_routes(routes(vs("virtual-service-reviews-jason-v2-v3.yaml"), dr()))
    assert state.weights == {"v3": 100}
    assert state.default_index == 1
    [m] = state.matches
    assert m.index == 0
    assert m.conditions == ("header end-user exact jason",)
    assert [(d.subset, d.weight) for d in m.destinations] == [("v2", 100)]


def test_gateway_virtual_service_is_not_the_service_route():
    docs = load("bookinfo-gateway.yaml") + load("virtual-service-all-v1.yaml")
    vss = [d for d in docs if d["kind"] == "VirtualService"]
    picked = pick_virtual_service(vss, NS, "productpage")
    assert picked["metadata"]["name"] == "productpage"
    names = service_names(NS, vss, [], deployed_versions())
    assert names == ["details", "productpage", "ratings", "reviews"]


def test_mirror_is_read_with_its_percentage():
    obj = vs("virtual-service-reviews-90-10.yaml")
    obj["spec"]["http"][0]["mirror"] = {"host": "reviews", "subset": "v3"}
    obj["spec"]["http"][0]["mirrorPercentage"] = {"value": 12.5}
    state = read_routes(routes(obj, dr()))
    assert [(m.subset, m.percentage) for m in state.mirrors] == [("v3", 12.5)]


# --------------------------------------------------------------------------------------------
# Actions: output, and nothing else changed


def test_set_weights_changes_only_the_two_weights():
    before = vs("virtual-service-reviews-80-20.yaml")
    p = plan(routes(before, dr()), action="set_weights", weights={"v1": 50, "v2": 50})
    w = write_of(p, "VirtualService")
    assert len(p.writes) == 1 and w.op == "replace"
    assert changed_paths(before, w.after) == {
        ("spec", "http", 0, "route", 0, "weight"),
        ("spec", "http", 0, "route", 1, "weight"),
    }
    assert split(p) == {"v1": 50, "v2": 50}
    assert "-      weight: 80\n" in p.diff and "+      weight: 50\n" in p.diff
    assert p.summary == "reviews set weights: v1 80%→50%, v2 20%→50%"


def test_set_weights_keeps_fault_injection_route_and_adds_a_destination():
    before = vs("virtual-service-ratings-test-delay.yaml", "ratings")
    sr = routes(before, dr("destination-rule-all.yaml", "ratings"), "ratings")
    p = plan(sr, action="set_weights", weights={"v1": 70, "v2": 30})
    after = write_of(p, "VirtualService").after
    assert after["spec"]["http"][0] == before["spec"]["http"][0]  # the fault route, untouched
    assert after["spec"]["http"][1]["route"] == [
        {"destination": {"host": "ratings", "subset": "v1"}, "weight": 70},
        {"destination": {"host": "ratings", "subset": "v2"}, "weight": 30},
    ]
    assert changed_paths(before, after) == {("spec", "http", 1, "route")}
    assert after["apiVersion"] == "networking.istio.io/v1alpha3"  # as read


def test_unknown_keys_retries_timeouts_and_labels_survive_a_shift():
    before = vs("virtual-service-reviews-80-20.yaml")
    default = before["spec"]["http"][0]
    default["retries"] = {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}
    default["timeout"] = "10s"
    default["x-vendor-extension"] = {"keep": [1, 2, 3]}
    default["route"][0]["headers"] = {"request": {"set": {"x-canary": "no"}}}
    before["spec"]["exportTo"] = ["."]
    before["metadata"]["labels"] = {"team": "books"}
    before["metadata"]["annotations"] = {"note": "hand-written"}
    snapshot = copy.deepcopy(before)
    p = plan(routes(before, dr()), action="step_canary", canary="v2", step=10)
    after = write_of(p, "VirtualService").after
    assert before == snapshot  # the input is never mutated
    assert changed_paths(before, after) == {
        ("spec", "http", 0, "route", 0, "weight"),
        ("spec", "http", 0, "route", 1, "weight"),
    }
    assert split(p) == {"v1": 70, "v2": 30}


def test_step_canary_defaults_to_the_last_destination_and_can_step_back():
    sr = routes(vs("virtual-service-reviews-90-10.yaml"), dr())
    assert split(plan(sr, action="step_canary")) == {"v1": 80, "v2": 20}
    assert split(plan(sr, action="step_canary", step=25)) == {"v1": 65, "v2": 35}
    assert split(plan(sr, action="step_canary", step=-10)) == {"v1": 100, "v2": 0}
    assert split(plan(sr, action="step_canary", step=95)) == {"v1": 0, "v2": 100}


def test_step_canary_onto_a_version_not_yet_in_the_route():
    before = vs("virtual-service-reviews-jason-v2-v3.yaml")
    sr = routes(before, dr())
    with pytest.raises(BadRequest, match="name the canary"):
        plan(sr, action="step_canary")
    p = plan(sr, action="step_canary", canary="v2")
    after = write_of(p, "VirtualService").after
    assert after["spec"]["http"][0] == before["spec"]["http"][0]  # jason's route untouched
    assert after["spec"]["http"][1]["route"] == [
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 90},
        {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10},
    ]


def test_even_split_over_the_route_or_named_versions():
    sr = routes(vs("virtual-service-reviews-80-20.yaml"), dr())
    assert split(plan(sr, action="even_split")) == {"v1": 50, "v2": 50}
    assert split(plan(sr, action="even_split", versions=["v1", "v2", "v3"])) == {
        "v1": 33,
        "v2": 33,
        "v3": 34,
    }
    already = plan(routes(vs("virtual-service-reviews-50-v3.yaml"), dr()), action="even_split")
    assert already.writes == () and already.diff == ""


def test_take_over_then_retire_the_old_version():
    dr_before = dr()
    vs_before = vs("virtual-service-reviews-90-10.yaml")
    p = plan(routes(vs_before, dr_before), action="take_over")
    assert [w.kind for w in p.writes] == ["VirtualService"]  # the old subset stays
    assert split(p) == {"v1": 0, "v2": 100}
    assert p.confirm.startswith("all traffic moves to v2")
    vs_taken = write_of(p, "VirtualService").after
    assert vs_taken["spec"]["http"][0]["route"][0] == {
        "destination": {"host": "reviews", "subset": "v1"},
        "weight": 0,
    }

    r = plan(routes(vs_taken, dr_before), action="retire")  # v1 is the version at 0
    # Make before break: the route entry goes first, then the subset.
    assert [w.kind for w in r.writes] == ["VirtualService", "DestinationRule"]
    vs_after = write_of(r, "VirtualService").after
    assert vs_after["spec"]["http"][0]["route"] == [
        {"destination": {"host": "reviews", "subset": "v2"}, "weight": 100}
    ]
    dr_after = write_of(r, "DestinationRule").after
    assert [s["name"] for s in dr_after["spec"]["subsets"]] == ["v2", "v3"]
    assert dr_after["spec"]["trafficPolicy"] == dr_before["spec"]["trafficPolicy"]
    assert changed_paths(dr_before, dr_after) == {("spec", "subsets")}
    assert r.confirm.startswith("v1 is removed")


def test_retire_a_version_that_still_has_traffic_is_refused_and_changes_nothing():
    vs_before, dr_before = vs("virtual-service-reviews-80-20.yaml"), dr()
    snapshot = copy.deepcopy((vs_before, dr_before))
    with pytest.raises(BadRequest, match="v1 still receives 80% of traffic"):
        plan(routes(vs_before, dr_before), action="retire", version="v1")
    assert (vs_before, dr_before) == snapshot


def test_retire_needs_another_version_with_all_traffic():
    obj = vs("virtual-service-reviews-80-20.yaml")
    with pytest.raises(BadRequest, match="needs another version to have taken all traffic"):
        plan(routes(obj, dr()), action="retire", version="v3")
    # With v1 at 100, the unrouted v3 can go: only its subset is removed.
    p = plan(routes(vs("virtual-service-all-v1.yaml"), dr()), action="retire", version="v3")
    assert [w.kind for w in p.writes] == ["DestinationRule"]


def test_retire_refuses_a_version_a_match_route_still_names():
    obj = vs("virtual-service-reviews-jason-v2-v3.yaml")
    with pytest.raises(BadRequest, match=r"v2 is still named by http\[0\]"):
        plan(routes(obj, dr()), action="retire", version="v2")


def test_rollback_gives_the_first_destination_everything():
    p = plan(routes(vs("virtual-service-reviews-80-20.yaml"), dr()), action="rollback")
    assert split(p) == {"v1": 100, "v2": 0}


def test_blue_green_switch_from_a_lone_destination():
    before = vs("virtual-service-reviews-v3.yaml")
    p = plan(routes(before, dr()), action="blue_green", target="v2")
    after = write_of(p, "VirtualService").after
    assert after["spec"]["http"][0]["route"] == [
        {"destination": {"host": "reviews", "subset": "v3"}, "weight": 0},
        {"destination": {"host": "reviews", "subset": "v2"}, "weight": 100},
    ]
    with pytest.raises(BadRequest, match="needs one version with all traffic"):
        plan(routes(vs("virtual-service-reviews-80-20.yaml"), dr()), action="blue_green")


def test_header_canary_goes_before_the_weighted_default():
    before = vs("virtual-service-reviews-80-20.yaml")
    p = plan(
        routes(before, dr()),
        action="match_canary",
        canary="v2",
        kind="header",
        name="end-user",
        match="exact",
        value="jason",
    )
    after = write_of(p, "VirtualService").after
    http = after["spec"]["http"]
    assert http[0] == {
        "match": [{"headers": {"end-user": {"exact": "jason"}}}],
        "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
    }
    assert http[1] == before["spec"]["http"][0]  # everyone else: the same weighted default
    assert after["metadata"] == before["metadata"]


def test_cookie_and_uri_canaries():
    sr = routes(vs("virtual-service-reviews-80-20.yaml"), dr())
    p = plan(sr, action="match_canary", canary="v3", kind="cookie", name="user", value="tester")
    match = write_of(p, "VirtualService").after["spec"]["http"][0]["match"]
    regex = match[0]["headers"]["cookie"]["regex"]
    assert re.match(regex, "session=abc; user=tester; theme=dark")
    assert re.match(regex, "user=tester")
    assert not re.match(regex, "user=tester2")
    assert not re.match(regex, "xuser=tester")
    p = plan(sr, action="match_canary", canary="v3", kind="uri", match="prefix", value="/beta")
    assert write_of(p, "VirtualService").after["spec"]["http"][0]["match"] == [
        {"uri": {"prefix": "/beta"}}
    ]
    # The v3 subset exists; no DestinationRule write is needed.
    assert [w.kind for w in p.writes] == ["VirtualService"]


def test_remove_match_route():
    before = vs("virtual-service-reviews-test-v2.yaml")
    p = plan(routes(before, dr()), action="remove_match", index=0)
    assert write_of(p, "VirtualService").after["spec"]["http"] == [before["spec"]["http"][1]]
    with pytest.raises(BadRequest, match="not a match route"):
        plan(routes(before, dr()), action="remove_match", index=1)


def test_mirroring_to_a_version_without_live_traffic():
    before = vs("virtual-service-reviews-90-10.yaml")
    p = plan(routes(before, dr()), action="mirror", version="v3", percentage=10)
    after = write_of(p, "VirtualService").after
    default = after["spec"]["http"][0]
    assert default["mirror"] == {"host": "reviews", "subset": "v3"}
    assert default["mirrorPercentage"] == {"value": 10}
    assert changed_paths(before, after) == {
        ("spec", "http", 0, "mirror"),
        ("spec", "http", 0, "mirrorPercentage"),
    }
    with pytest.raises(BadRequest, match="v2 already receives 10% of live traffic"):
        plan(routes(before, dr()), action="mirror", version="v2", percentage=10)
    stop = plan(routes(after, dr()), action="mirror", percentage=0)
    assert write_of(stop, "VirtualService").after == before


def test_traffic_policy_on_the_destination_rule_keeps_the_load_balancer():
    before = dr()
    p = plan(
        routes(vs("virtual-service-reviews-80-20.yaml"), before),
        action="traffic_policy",
        connectionPool={
            "maxConnections": 100,
            "http1MaxPendingRequests": 10,
            "maxRequestsPerConnection": 1,
        },
        outlierDetection={
            "consecutive5xxErrors": 5,
            "interval": "10s",
            "baseEjectionTime": "30s",
            "maxEjectionPercent": 50,
        },
    )
    after = write_of(p, "DestinationRule").after
    assert [w.kind for w in p.writes] == ["DestinationRule"]
    assert after["spec"]["trafficPolicy"] == {
        "loadBalancer": {"simple": "RANDOM"},
        "connectionPool": {
            "tcp": {"maxConnections": 100},
            "http": {"http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1},
        },
        "outlierDetection": {
            "consecutive5xxErrors": 5,
            "interval": "10s",
            "baseEjectionTime": "30s",
            "maxEjectionPercent": 50,
        },
    }
    assert changed_paths(before, after) == {
        ("spec", "trafficPolicy", "connectionPool"),
        ("spec", "trafficPolicy", "outlierDetection"),
    }
    # null removes a field and the containers it leaves empty
    unset = plan(
        routes(None, after),
        action="traffic_policy",
        connectionPool={"maxConnections": None},
        outlierDetection={
            "consecutive5xxErrors": None,
            "interval": None,
            "baseEjectionTime": None,
            "maxEjectionPercent": None,
        },
    )
    tp = write_of(unset, "DestinationRule").after["spec"]["trafficPolicy"]
    assert tp == {
        "loadBalancer": {"simple": "RANDOM"},
        "connectionPool": {"http": {"http1MaxPendingRequests": 10, "maxRequestsPerConnection": 1}},
    }


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"connectionPool": {"maxConnections": 0}}, "whole number from 1 to .*; got 0"),
        ({"connectionPool": {"maxConnections": "many"}}, "whole number"),
        ({"connectionPool": {"maxPending": 1}}, "unknown: maxPending"),
        ({"outlierDetection": {"interval": "ten seconds"}}, "duration"),
        ({"outlierDetection": {"baseEjectionTime": "0s"}}, "at least 1ms"),
        ({"outlierDetection": {"maxEjectionPercent": 101}}, "from 0 to 100; got 101"),
        ({}, "at least one"),
    ],
)
def test_invalid_traffic_policy_is_refused(payload, reason):
    with pytest.raises(BadRequest, match=reason):
        parse_action({"action": "traffic_policy", **payload})


# --------------------------------------------------------------------------------------------
# Creating objects the way Kiali's wizard does, and make before break


def test_no_objects_yet_creates_destination_rule_then_virtual_service():
    p = plan(routes(None, None), action="set_weights", weights={"v1": 90, "v2": 10})
    assert [(w.kind, w.op) for w in p.writes] == [
        ("DestinationRule", "create"),
        ("VirtualService", "create"),
    ]
    new_dr, new_vs = p.writes[0].after, p.writes[1].after
    assert new_dr["metadata"] == {
        "name": "reviews",
        "namespace": NS,
        "labels": {"kiali_wizard": "traffic_shifting"},
    }
    assert new_dr["spec"] == {
        "host": "reviews",
        "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2", "v3")],
    }
    assert new_vs["spec"] == {
        "hosts": ["reviews"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10},
                ]
            }
        ],
    }
    assert p.diff.startswith("--- /dev/null\n+++ b/DestinationRule/bookinfo/reviews\n")


def test_header_canary_without_objects_keeps_everyone_else_on_the_whole_service():
    p = plan(
        routes(None, None),
        action="match_canary",
        canary="v3",
        kind="header",
        name="x-beta",
        value="1",
    )
    new_vs = write_of(p, "VirtualService").after
    assert new_vs["metadata"]["labels"] == {"kiali_wizard": "request_routing"}
    assert new_vs["spec"]["http"][1] == {"route": [{"destination": {"host": "reviews"}}]}
    assert [w.kind for w in p.writes] == ["DestinationRule", "VirtualService"]


def test_a_deployed_version_missing_from_the_subsets_is_added_before_the_route_names_it():
    dr_before = dr()
    dr_before["spec"]["subsets"] = dr_before["spec"]["subsets"][:2]  # v1, v2 only
    p = plan(
        routes(vs("virtual-service-reviews-80-20.yaml"), dr_before),
        action="set_weights",
        weights={"v1": 80, "v2": 10, "v3": 10},
    )
    assert [w.kind for w in p.writes] == ["DestinationRule", "VirtualService"]
    assert write_of(p, "DestinationRule").after["spec"]["subsets"][2] == {
        "name": "v3",
        "labels": {"version": "v3"},
    }


# --------------------------------------------------------------------------------------------
# Refusals: the reason is given and nothing changes


@pytest.mark.parametrize(
    ("weights", "reason"),
    [
        ({"v1": -10, "v2": 110}, "weight of v1 must be a whole number from 0 to 100; got -10"),
        ({"v1": None, "v2": 100}, "weight of v1 must be a whole number from 0 to 100; got nothing"),
        ({"v1": 60, "v2": 30}, "must add up to 100; v1 60, v2 30 add up to 90"),
        ({"v1": 50, "v2": 51}, "add up to 101"),
        ({"v1": 50.5, "v2": 49.5}, "whole number"),
        ({"v1": True, "v2": 99}, "whole number"),
        ({"v1": 50, "v9": 50}, "no subset or deployed version 'v9'"),
        ({"v1": 50, "V2;drop": 50}, "not a valid Kubernetes label value"),
    ],
)
def test_invalid_weights_are_refused_with_nothing_changed(weights, reason):
    vs_before, dr_before = vs("virtual-service-reviews-80-20.yaml"), dr()
    snapshot = copy.deepcopy((vs_before, dr_before))
    with pytest.raises(BadRequest, match=reason):
        plan(routes(vs_before, dr_before), action="set_weights", weights=weights)
    assert (vs_before, dr_before) == snapshot


def test_unknown_action_and_unknown_version_are_refused():
    with pytest.raises(BadRequest, match="action must be one of"):
        parse_action({"action": "delete_everything"})
    with pytest.raises(BadRequest, match="no version 'v7'"):
        plan(
            routes(vs("virtual-service-reviews-80-20.yaml"), dr()), action="take_over", canary="v7"
        )


def test_a_route_without_a_default_is_not_shifted():
    gateway_like = vs("virtual-service-reviews-jason-v2-v3.yaml")
    gateway_like["spec"]["http"] = gateway_like["spec"]["http"][:1]  # only the match route
    with pytest.raises(BadRequest, match="no default route"):
        plan(routes(gateway_like, dr()), action="set_weights", weights={"v1": 100})


@pytest.mark.parametrize(
    ("extra", "owner"),
    [
        (
            {
                "ownerReferences": [
                    {"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "name": "reviews"}
                ]
            },
            "Flagger Canary bookinfo/reviews",
        ),
    ],
)
def test_flagger_owned_objects_are_read_only(extra, owner):
    obj = vs("virtual-service-reviews-80-20.yaml")
    obj["metadata"].update(extra)
    sr = service_routes(
        NS,
        "reviews",
        virtual_services=[obj],
        destination_rules=[dr()],
        versions_by_app=deployed_versions(),
    )
    assert sr.owner == owner
    with pytest.raises(Forbidden, match="managed by Flagger Canary bookinfo/reviews"):
        plan(sr, action="set_weights", weights={"v1": 50, "v2": 50})


def test_argo_rollout_and_kubesphere_strategy_make_objects_read_only():
    rollout = {
        "metadata": {"name": "reviews-rollout"},
        "spec": {
            "strategy": {
                "canary": {
                    "trafficRouting": {
                        "istio": {
                            "virtualService": {"name": "reviews", "routes": ["primary"]},
                            "destinationRule": {"name": "reviews", "canarySubsetName": "v2"},
                        }
                    }
                }
            }
        },
    }
    sr = service_routes(
        NS,
        "reviews",
        virtual_services=[vs("virtual-service-reviews-80-20.yaml")],
        destination_rules=[dr()],
        versions_by_app=deployed_versions(),
        rollouts=[rollout],
    )
    assert sr.owner == "Argo Rollouts Rollout bookinfo/reviews-rollout"
    strategy = {"metadata": {"name": "reviews-canary", "labels": {"app": "reviews"}}}
    sr = service_routes(
        NS,
        "reviews",
        virtual_services=[vs("virtual-service-reviews-80-20.yaml")],
        destination_rules=[dr()],
        versions_by_app=deployed_versions(),
        strategies=[strategy],
    )
    assert sr.owner == "KubeSphere Strategy bookinfo/reviews-canary"
    with pytest.raises(Forbidden, match="KubeSphere Strategy"):
        plan(sr, action="rollback")
    unrelated = {"metadata": {"name": "x", "labels": {"app": "ratings"}}}
    assert (
        service_routes(
            NS,
            "reviews",
            virtual_services=[],
            destination_rules=[],
            versions_by_app={},
            strategies=[unrelated],
        ).owner
        is None
    )


def test_annotation_and_diff_exclude_server_metadata():
    obj = vs("virtual-service-reviews-80-20.yaml")
    obj["metadata"]["resourceVersion"] = "41"
    obj["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    marked = annotate(obj, {"who": "alice", "action": "set_weights"})
    assert '"who":"alice"' in marked["metadata"]["annotations"][LAST_CHANGE_ANNOTATION]
    assert "annotations" not in obj["metadata"]
    assert yaml_diff(obj, marked, "x") == ""  # the annotation is not the user's change
    assert "meshdash.io/last-change" in yaml_diff(obj, marked, "x", keep_annotation=True)
    assert parse_last_change(marked) == {"who": "alice", "action": "set_weights"}
