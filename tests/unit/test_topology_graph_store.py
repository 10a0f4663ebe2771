"""The topology page keeps a small Store, never the graph (issue 16): one load callback sends the
elements straight to the browser's drawing script and a Store of the view's arguments, and the
side panel, the legend and a highlighted path ask the server again by those arguments: the
same graph as drawn, the same figures as /api/graph. Through the page's own callbacks, as the
browser calls them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import create_app
from dashboards.topology.legend import facts_of, graph_facts, legend_facts
from tests.dashcalls import DashCalls, text
from tests.review_demo import Clock, demo_services
from tests.unit.test_topology_elements import GRAPH

T0 = 1_790_000_000.0
INPUTS = {
    "topo-namespaces.value": ["bookinfo"],
    "topo-view.value": "workload",
    "topo-window.value": "5m",
    "topo-waypoints.value": [],
    "topo-layout.value": "klay",
    "topo-scale.data": {"auto": False},
}


@pytest.fixture(scope="module")
def topo() -> tuple[Any, DashCalls]:
    svc = demo_services(clock=Clock(T0))
    client = create_app(svc.settings, svc).server.test_client()
    return client, DashCalls(client)


def _load(dash: DashCalls, **extra: Any) -> dict[str, Any]:
    code, out, raw = dash.call("topo-data.data", {**INPUTS, **extra})
    assert code == 200 and "Traceback" not in raw, raw[:500]
    return out


def _nodes(drawing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The graph's nodes drawn, not the namespace boxes holding them."""
    boxes = {"namespace", "cluster"}
    return {
        e["data"]["id"]: e
        for e in drawing["elements"]
        if "source" not in e["data"] and not boxes & set(e["classes"].split())
    }


def test_one_answer_draws_the_graph_and_the_store_holds_no_graph(topo):
    client, dash = topo
    out = _load(dash)
    store, drawing = out["topo-data"]["data"], out["topo-elements"]["data"]
    api = client.get(f"/api/graph?namespace=bookinfo&graph=workload&at={int(T0)}").get_json()
    assert {n["id"] for n in api["nodes"]} == set(_nodes(drawing))
    assert {f"{e['source']}->{e['target']}" for e in api["edges"]} == {
        e["data"]["id"] for e in drawing["elements"] if "source" in e["data"]
    }
    # "Now" resolved once: every callback asking again gets this instant's graph.
    assert store["args"]["at"] == str(int(T0))
    assert (store["nodes"], store["edges"]) == (len(api["nodes"]), len(api["edges"]))
    assert len(json.dumps(store)) < len(json.dumps(api)) / 5
    assert "md-stat" in json.dumps(out["topo-summary"]["children"])  # the cards came along
    assert drawing["layout"]["name"] == "klay"  # small graphs: the browser's layout


def test_elements_carry_what_is_drawn_not_every_figure(topo):
    _, dash = topo
    drawing = _load(dash)["topo-elements"]["data"]
    node = _nodes(drawing)["bookinfo/reviews-v2"]
    assert set(node["data"]) <= {"id", "label", "parent", "kind", "namespace", "cluster", "health"}
    edge = next(e for e in drawing["elements"] if "source" in e["data"])
    assert not {"responses", "p50_ms", "p99_ms", "error_rate"} & set(edge["data"])
    assert {"label_rps", "label_p95", "width", "rps"} <= set(edge["data"])


def test_the_side_panel_asks_the_server_for_the_selected_node(topo):
    client, dash = topo
    store = _load(dash)["topo-data"]["data"]
    code, out, raw = dash.call(
        "topo-panel.children",
        {
            "topo-selected.data": {"kind": "node", "id": "bookinfo/reviews-v2"},
            "topo-data.data": store,
        },
    )
    assert code == 200 and "Traceback" not in raw
    shown = text(out["topo-panel"]["children"])
    assert "reviews-v2" in shown
    api = client.get(f"/api/graph?namespace=bookinfo&graph=workload&at={int(T0)}").get_json()
    callers = {
        e["source"].split("/")[-1] for e in api["edges"] if e["target"].endswith("/reviews-v2")
    }
    assert callers and all(c in shown for c in callers)  # its inbound edges, from the graph


def test_a_highlighted_path_redraws_the_same_graph_with_other_classes(topo):
    _, dash = topo
    out = _load(dash)
    store, before = out["topo-data"]["data"], out["topo-elements"]["data"]
    path = ["bookinfo/productpage-v1", "bookinfo/reviews-v2"]
    code, got, raw = dash.call(
        "topo-elements.data@",
        {"topo-highlight.data": path},
        {"topo-data.data": store, "topo-layout.value": "klay"},
    )
    assert code == 200 and "Traceback" not in raw, raw[:500]
    after = got["topo-elements"]["data"]
    assert [e["data"]["id"] for e in after["elements"]] == [
        e["data"]["id"] for e in before["elements"]
    ]
    nodes = _nodes(after)
    assert "path" in nodes["bookinfo/reviews-v2"]["classes"].split()
    assert "faded" in nodes["bookinfo/details-v1"]["classes"].split()


def test_a_failing_graph_clears_the_drawing_and_says_why(topo):
    _, dash = topo
    out = _load(dash, **{"topo-namespaces.value": ["Not A Namespace!"]})
    assert out["topo-data"]["data"] is None
    assert out["topo-elements"]["data"]["elements"] == []
    assert "namespace" in text(out["topo-banner"]["children"]).lower()


@pytest.mark.parametrize("security", [False, True])
@pytest.mark.parametrize("waypoints", [False, True])
def test_the_legend_from_the_store_is_the_legend_of_the_graph(security, waypoints):
    graph = {
        **GRAPH,
        "nodes": [*GRAPH["nodes"], {"id": "bookinfo/waypoint", "waypoint": True}],
        "edges": [{**GRAPH["edges"][0], "mtls": None}, *GRAPH["edges"][1:]],
    }
    stored = json.loads(json.dumps(graph_facts(graph)))  # as the browser keeps it
    assert facts_of(stored, security, waypoints) == legend_facts(graph, security, waypoints)
    assert facts_of(None, security, waypoints) == legend_facts(None, security, waypoints)
