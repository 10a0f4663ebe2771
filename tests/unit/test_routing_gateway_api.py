"""Gateway API routing in the model: Istio's own Bookinfo HTTPRoutes and per-version Services
(../shared/fixtures/istio/gateway-api) read as a split by version, shifted by the same weight
actions as a VirtualService, ownership respected, and a service routed by both APIs refused."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import yaml

from mesh.errors import BadRequest, Conflict, Forbidden
from mesh.routing.gateway_api import HTTP_ROUTE, parent_services
from mesh.routing.objects import resource_version
from mesh.routing.plan import parse_action, plan_change
from mesh.routing.selection import service_names, service_routes
from mesh.routing.state import read_routes, state_json
from tests.conftest import shared_path

NS = "bookinfo"


def fixture(name: str) -> list[dict]:
    path = shared_path("fixtures", "istio", "gateway-api", name)
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def stored(obj: dict, rv: str = "7") -> dict:
    out = copy.deepcopy(obj)
    out["metadata"].update(namespace=NS, resourceVersion=rv)
    return out


def routes_for(route_file: str, **extra):
    route = stored(fixture(route_file)[0])
    services = [stored(s) for s in fixture("bookinfo-versions.yaml")]
    return service_routes(
        NS,
        "reviews",
        virtual_services=extra.pop("virtual_services", ()),
        destination_rules=(),
        versions_by_app={"reviews": ("v1", "v2", "v3")},
        http_routes=[route],
        backend_services=services,
        **extra,
    )


def test_route_attaches_to_service_with_or_without_the_core_group():
    for name in ("route-reviews-90-10.yaml", "route-reviews-50-v3.yaml"):
        assert parent_services(fixture(name)[0], NS) == ["reviews"]
    gateway_parent = {"spec": {"parentRefs": [{"name": "bookinfo-gateway"}]}}
    assert parent_services(gateway_parent, NS) == []
    other_ns = {"spec": {"parentRefs": [{"kind": "Service", "name": "reviews", "namespace": "x"}]}}
    assert parent_services(other_ns, NS) == []


def test_split_reads_versions_from_the_backend_services_selectors():
    state = read_routes(routes_for("route-reviews-90-10.yaml"))
    assert state.api == HTTP_ROUTE
    assert state.http_route == "reviews"
    assert state.weights == {"v1": 90, "v2": 10}
    assert [d.host for d in state.split] == ["reviews-v1", "reviews-v2"]
    assert state.subsets == ("v1", "v2", "v3")
    assert state.problem == ""
    assert state.resource_versions == {HTTP_ROUTE: "7"}
    body = state_json(state)
    assert body["api"] == "HTTPRoute" and body["virtual_service"] is None


def test_services_attached_by_an_httproute_are_listed():
    route = stored(fixture("route-reviews-50-v3.yaml")[0])
    assert service_names(NS, [], [], {}, [route]) == ["reviews"]


def test_set_weights_writes_only_the_default_rule_with_the_resource_version():
    routes = routes_for("route-reviews-90-10.yaml")
    plan = plan_change(
        routes, parse_action({"action": "set_weights", "weights": {"v1": 60, "v2": 40}})
    )
    (write,) = plan.writes
    assert (write.kind, write.name, write.op) == (HTTP_ROUTE, "reviews", "replace")
    assert resource_version(write.before) == "7"
    refs = write.after["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["port"], r["weight"]) for r in refs] == [
        ("reviews-v1", 9080, 60),
        ("reviews-v2", 9080, 40),
    ]
    assert write.after["spec"]["parentRefs"] == routes.http_route["spec"]["parentRefs"]
    assert plan.summary == "reviews set weights: v1 90%→60%, v2 10%→40%"
    assert "-      weight: 90\n" in plan.diff and "+      weight: 60\n" in plan.diff


def test_step_to_a_version_not_yet_routed_adds_its_backend_service():
    routes = routes_for("route-reviews-90-10.yaml")
    plan = plan_change(routes, parse_action({"action": "step_canary", "canary": "v3", "step": 10}))
    refs = plan.writes[0].after["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        ("reviews-v1", 80),
        ("reviews-v2", 10),
        ("reviews-v3", 10),
    ]


def test_take_over_then_retire_removes_the_backend_ref():
    routes = routes_for("route-reviews-50-v3.yaml")
    take = plan_change(routes, parse_action({"action": "take_over", "canary": "v3"}))
    assert [d.weight for d in take.split_after] == [0, 100]
    with pytest.raises(BadRequest, match="still receives 50%"):
        plan_change(routes, parse_action({"action": "retire", "version": "v1"}))
    after = replace(routes, http_route=take.writes[0].after)
    retire = plan_change(after, parse_action({"action": "retire", "version": "v1"}))
    refs = retire.writes[0].after["spec"]["rules"][0]["backendRefs"]
    assert [r["name"] for r in refs] == ["reviews-v3"]


def test_unknown_version_is_refused_with_the_field():
    routes = routes_for("route-reviews-90-10.yaml")
    with pytest.raises(BadRequest) as err:
        plan_change(
            routes, parse_action({"action": "set_weights", "weights": {"v1": 50, "v9": 50}})
        )
    assert err.value.field == "weights" and "v9" in err.value.message


def test_traffic_policy_on_an_httproute_is_a_400_naming_the_action():
    routes = routes_for("route-reviews-90-10.yaml")
    payload = {"action": "traffic_policy", "outlierDetection": {"consecutive5xxErrors": 5}}
    with pytest.raises(BadRequest) as err:
        plan_change(routes, parse_action(payload))
    assert err.value.field == "action" and "HTTPRoute" in err.value.message


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (
            {"kind": "header", "name": "end-user", "value": "jason"},
            {"headers": [{"type": "Exact", "name": "end-user", "value": "jason"}]},
        ),
        (
            {"kind": "header", "name": "x-beta", "match": "prefix", "value": "a.b"},
            {"headers": [{"type": "RegularExpression", "name": "x-beta", "value": r"^a\.b.*"}]},
        ),
        (
            {"kind": "uri", "match": "prefix", "value": "/beta"},
            {"path": {"type": "PathPrefix", "value": "/beta"}},
        ),
        (
            {"kind": "cookie", "name": "canary", "value": "yes"},
            {
                "headers": [
                    {
                        "type": "RegularExpression",
                        "name": "cookie",
                        "value": r"^(.*?;\s*)?(canary=yes)(;.*)?$",
                    }
                ]
            },
        ),
    ],
)
def test_content_canary_adds_a_match_rule_before_the_default_rule(payload, match):
    routes = routes_for("route-reviews-90-10.yaml")
    action = parse_action({"action": "match_canary", "canary": "v3", **payload})
    plan = plan_change(routes, action)
    rules = plan.writes[0].after["spec"]["rules"]
    assert rules[0] == {"matches": [match], "backendRefs": [{"name": "reviews-v3", "port": 9080}]}
    assert rules[1] == routes.http_route["spec"]["rules"][0]  # the weighted default, untouched
    matched = replace(routes, http_route=plan.writes[0].after)
    after = read_routes(matched)
    assert [d.subset for d in after.matches[0].destinations] == ["v3"]
    assert after.weights == {"v1": 90, "v2": 10}
    assert plan_change(matched, action).writes == ()  # the same match is not added twice
    removed = plan_change(matched, parse_action({"action": "remove_match", "index": 0}))
    assert removed.writes[0].after["spec"]["rules"] == routes.http_route["spec"]["rules"]
    with pytest.raises(BadRequest) as err:
        plan_change(matched, parse_action({"action": "remove_match", "index": 1}))
    assert err.value.field == "index"


def test_mirroring_is_a_request_mirror_filter_on_the_default_rule():
    routes = routes_for("route-reviews-90-10.yaml")
    plan = plan_change(routes, parse_action({"action": "mirror", "version": "v3", "percentage": 5}))
    rule = plan.writes[0].after["spec"]["rules"][0]
    assert rule["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {"backendRef": {"name": "reviews-v3", "port": 9080}, "percent": 5},
        }
    ]
    mirrored = replace(routes, http_route=plan.writes[0].after)
    assert [(m.subset, m.percentage) for m in read_routes(mirrored).mirrors] == [("v3", 5.0)]
    with pytest.raises(BadRequest, match="already receives 10%"):
        plan_change(routes, parse_action({"action": "mirror", "version": "v2", "percentage": 5}))
    stop = plan_change(mirrored, parse_action({"action": "mirror", "percentage": 0}))
    assert stop.writes[0].after["spec"]["rules"] == routes.http_route["spec"]["rules"]


def test_owned_routes_are_read_only():
    route = stored(fixture("route-reviews-90-10.yaml")[0])
    route["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "flagger.app/v1beta1",
            "kind": "Canary",
            "name": "reviews",
            "controller": True,
        }
    ]
    routes = service_routes(
        NS,
        "reviews",
        virtual_services=(),
        destination_rules=(),
        versions_by_app={},
        http_routes=[route],
    )
    assert routes.owner == "Flagger Canary bookinfo/reviews"
    with pytest.raises(Forbidden, match="Flagger"):
        plan_change(routes, parse_action({"action": "rollback", "stable": "v1"}))
    rollout = {
        "metadata": {"name": "reviews-rollout"},
        "spec": {
            "strategy": {
                "canary": {
                    "trafficRouting": {
                        "plugins": {
                            "argoproj-labs/gatewayAPI": {"httpRoute": "reviews", "namespace": NS}
                        }
                    }
                }
            }
        },
    }
    routes = routes_for("route-reviews-90-10.yaml", rollouts=[rollout])
    assert routes.owner == "Argo Rollouts Rollout bookinfo/reviews-rollout"


def test_a_service_routed_by_both_apis_is_refused_naming_both():
    vs = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews-vs", "namespace": NS, "resourceVersion": "3"},
        "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]},
    }
    routes = routes_for("route-reviews-90-10.yaml", virtual_services=[vs])
    state = read_routes(routes)
    assert state.api == "both"
    assert state.problem.startswith(
        "both VirtualService reviews-vs (reviews 100%) and HTTPRoute reviews (v1 90%, v2 10%) "
        "route reviews; meshdash does not guess"
    )
    with pytest.raises(Conflict, match=r"VirtualService reviews-vs \(reviews 100%\) and HTTPRoute"):
        plan_change(routes, parse_action({"action": "rollback", "stable": "v1"}))


def test_missing_weights_are_gateway_api_defaults_and_matches_and_mirrors_are_read():
    route = stored(fixture("route-reviews-90-10.yaml")[0])
    route["spec"]["rules"] = [
        {
            "matches": [{"headers": [{"name": "end-user", "value": "jason"}]}],
            "backendRefs": [{"name": "reviews-v2", "port": 9080}],
        },
        {
            "backendRefs": [
                {"name": "reviews-v1", "port": 9080},
                {"name": "reviews-v3", "port": 9080},
            ],
            "filters": [
                {
                    "type": "RequestMirror",
                    "requestMirror": {"backendRef": {"name": "reviews-v2"}, "percent": 5},
                }
            ],
        },
    ]
    services = [stored(s) for s in fixture("bookinfo-versions.yaml")]
    routes = service_routes(
        NS,
        "reviews",
        virtual_services=(),
        destination_rules=(),
        versions_by_app={},
        http_routes=[route],
        backend_services=services,
    )
    state = read_routes(routes)
    assert state.weights == {"v1": 1, "v3": 1}  # proportional: what the object says
    assert state.default_index == 1
    assert [(m.conditions, [d.subset for d in m.destinations]) for m in state.matches] == [
        (("header end-user exact jason",), ["v2"])
    ]
    assert [(m.subset, m.percentage) for m in state.mirrors] == [("v2", 5.0)]
    with pytest.raises(BadRequest, match="sum to 2"):
        plan_change(routes, parse_action({"action": "step_canary", "canary": "v3"}))
    plan = plan_change(routes, parse_action({"action": "even_split"}))
    assert plan.writes[0].after["spec"]["rules"][0] == route["spec"]["rules"][0]
    assert [r["weight"] for r in plan.writes[0].after["spec"]["rules"][1]["backendRefs"]] == [
        50,
        50,
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"rules": "x"},
        {"rules": [None, 3, {"backendRefs": "x"}]},
        {"rules": [{"backendRefs": [None, {"name": 7, "weight": "w"}]}]},
        {"rules": [{"matches": "x", "backendRefs": [{"name": "reviews-v1", "weight": True}]}]},
        {
            "rules": [
                {"backendRefs": [{"name": "reviews-v1"}], "filters": [{"type": "RequestMirror"}]}
            ]
        },
        {"rules": [{"backendRefs": [{"name": "x", "kind": "ServiceImport", "group": "mc"}]}]},
    ],
)
def test_hand_edited_httproutes_of_any_shape_read_without_error_and_refuse_edits(spec):
    route = {
        "kind": "HTTPRoute",
        "metadata": {"name": "reviews", "namespace": NS, "resourceVersion": "9"},
        "spec": {"parentRefs": [{"kind": "Service", "name": "reviews"}], **spec},
    }
    routes = service_routes(
        NS,
        "reviews",
        virtual_services=(),
        destination_rules=(),
        versions_by_app={},
        http_routes=[route],
    )
    state = read_routes(routes)
    assert state.api == HTTP_ROUTE
    if not state.split:
        assert state.problem
        with pytest.raises(BadRequest):
            plan_change(routes, parse_action({"action": "rollback", "stable": "v1"}))
