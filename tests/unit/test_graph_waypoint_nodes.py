"""Waypoint proxies on the topology (issue 21): the graph view marks them only when they are
shown, and the page draws a marked node as its own shape."""

from __future__ import annotations

import pytest

from app import create_app
from dashboards.topology.elements import elements, stylesheet
from mesh.graph.waypoints import is_waypoint_node
from wiring.settings import Settings


@pytest.fixture(scope="module")
def client():
    return create_app(Settings(demo_ambient=True)).server.test_client()


def test_the_ambient_demo_graph_marks_its_waypoint_only_when_shown(client):
    shown = client.get("/api/graph?namespace=bookinfo&waypoints=show").get_json()
    marked = [n["id"] for n in shown["nodes"] if n.get("waypoint")]
    assert marked == ["bookinfo/waypoint"]
    wp_edges = [e for e in shown["edges"] if "bookinfo/waypoint" in (e["source"], e["target"])]
    assert wp_edges and {e["protocol"] for e in wp_edges} == {"tcp"}  # ztunnel's L4 only
    hidden = client.get("/api/graph?namespace=bookinfo").get_json()
    assert hidden["waypoints"] == "hide"
    assert not any(n.get("waypoint") or n["id"] == "bookinfo/waypoint" for n in hidden["nodes"])
    # Hiding the waypoint loses no request: the same L7 edges and rates.
    l7 = {(e["source"], e["target"]) for e in shown["edges"] if e["protocol"] != "tcp"}
    assert l7 == {(e["source"], e["target"]) for e in hidden["edges"]}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"workload": "waypoint", "app": "waypoint"}, True),
        ({"workload": "", "app": "", "service": "reviews-waypoint"}, True),
        ({"workload": "reviews-v1", "app": "reviews", "service": "reviews"}, False),
        ({"workload": "waypointless", "app": None}, False),
    ],
)
def test_a_waypoint_node_is_known_by_istios_naming(node, expected):
    assert is_waypoint_node(node) is expected


def test_a_marked_node_gets_the_waypoint_shape():
    graph = {
        "graph": "workload",
        "nodes": [
            {"id": "ns/waypoint", "namespace": "ns", "workload": "waypoint", "waypoint": True},
            {"id": "ns/a-v1", "namespace": "ns", "workload": "a-v1"},
        ],
        "edges": [],
    }
    classes = {e["data"]["id"]: e["classes"].split() for e in elements(graph)}
    assert "waypoint" in classes["ns/waypoint"] and "waypoint" not in classes["ns/a-v1"]
    rule = next(r for r in stylesheet("rps", False) if r["selector"] == "node.waypoint")
    assert rule["style"]["shape"] == "hexagon"
