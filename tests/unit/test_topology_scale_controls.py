"""The topology's big-mesh controls as pure translations: URL in, graph arguments out; the
view's answer in, cytoscape elements out (namespace nodes, find, server positions)."""

from __future__ import annotations

from dashboards.topology.elements import elements
from dashboards.topology.scale_controls import (
    decorate,
    empty_message,
    initial_state,
    layout_for,
    note_text,
    with_shape,
)


def graph(**extra):
    return {
        "graph": "namespace",
        "window": "5m",
        "clusters": [],
        "nodes": [
            {
                "id": "namespace:a",
                "kind": "namespace",
                "namespace": "a",
                "health": "failure",
                "members": 3,
                "rps_in": 2.0,
            },
            {
                "id": "b/web-v1",
                "kind": "workload",
                "namespace": "b",
                "workload": "web-v1",
                "health": "healthy",
            },
            {
                "id": "b/db-v1",
                "kind": "workload",
                "namespace": "b",
                "workload": "db-v1",
                "health": "healthy",
            },
        ],
        "edges": [
            {"source": "b/web-v1", "target": "namespace:a", "rps": 2.0, "health": "failure"},
            {"source": "b/web-v1", "target": "b/db-v1", "rps": 1.0, "health": "healthy"},
        ],
        **extra,
    }


def by_id(els):
    return {e["data"]["id"]: e for e in els}


def test_namespace_nodes_are_nodes_not_boxes():
    g = graph()
    els = by_id(decorate(elements(g), g))
    node = els["namespace:a"]
    assert "ns-node" in node["classes"].split() and "namespace" not in node["classes"].split()
    assert "parent" not in node["data"]
    assert node["data"]["label"].startswith("a\n3 nodes · ") and node["data"]["label"].endswith(
        " in"
    )
    assert "ns:a" not in els  # its empty box is gone
    assert els["b/web-v1"]["data"]["parent"] == "ns:b"  # the expanded namespace keeps its box
    assert "ns:b" in els


def test_find_highlights_what_it_found_and_fades_the_rest():
    g = graph(find={"expression": "rps > 1", "nodes": ["namespace:a"],
                    "edges": [{"source": "b/web-v1", "target": "namespace:a"}]})  # fmt: skip
    els = by_id(decorate(elements(g), g))
    assert "path" in els["namespace:a"]["classes"].split()
    assert "faded" in els["b/db-v1"]["classes"].split()
    assert "path" in els["b/web-v1->namespace:a"]["classes"].split()
    assert "faded" in els["b/web-v1->b/db-v1"]["classes"].split()
    assert "faded" not in els["ns:b"]["classes"].split()  # boxes are not findings
    assert note_text(g).startswith("Find rps > 1: 1 nodes and 1 edges")


def test_server_positions_become_preset_positions():
    placed = {"namespace:a": {"x": 0.0, "y": 0.0}, "b/web-v1": {"x": 300.0, "y": 10.0},
              "b/db-v1": {"x": 450.0, "y": 10.0}}  # fmt: skip
    g = graph(positions=placed)
    els = by_id(decorate(elements(g), g))
    assert els["b/db-v1"]["position"] == {"x": 450.0, "y": 10.0}
    # Boxes are drawn flat, behind and around their members, which have no parent.
    assert "parent" not in els["b/db-v1"]["data"] and "flat" in els["ns:b"]["classes"].split()
    assert els["ns:b"]["position"] == {"x": 375.0, "y": 10.0}
    assert (els["ns:b"]["data"]["w"], els["ns:b"]["data"]["h"]) == (150.0 + 80, 80.0)
    assert els["ns:b"]["data"]["label"] == "b"
    # its title sized to the box: drawn at the zoom that fits a 1,000-node graph (about 0.15)
    assert els["ns:b"]["data"]["title"] == 14  # the least, for a box this small
    big = {f"b/w{i}": {"x": 150.0 * (i % 7), "y": 150.0 * (i // 7)} for i in range(49)}
    g = graph(positions=big)
    g["nodes"] = [{"id": k, "namespace": "b", "kind": "workload"} for k in big] + [
        {"id": "c/x", "namespace": "c", "kind": "workload"}
    ]
    g["positions"] = {**big, "c/x": {"x": 2000.0, "y": 0.0}}
    box = by_id(decorate(elements(g), g))["ns:b"]["data"]
    assert box["title"] == round((900 + 80) / 10) and box["title"] * 0.15 > 12
    assert layout_for({"name": "klay"}, g)["name"] == "preset"
    assert layout_for({"name": "klay"}, graph(positions=None)) == {"name": "klay"}


def test_url_state_and_graph_arguments():
    state = initial_state({"find": "rps > 1", "hops": "9", "expand": "a,b", "hide_edges": "idle,x"})
    assert state["find"] == "rps > 1" and state["hops"] == "1"
    assert state["expand"] == ["a", "b"] and state["hide_edges"] == ["idle"]
    assert state["auto"] is True
    assert initial_state({"graph": "workload"})["auto"] is False
    args = with_shape({"namespace": ["a"], "graph": "workload"}, state, "workload")
    assert "graph" not in args  # no graph= in the link: the view applies the opening rule
    assert args["find"] == "rps > 1" and args["expand"] == ["a", "b"]
    args = with_shape({"graph": "app"}, {**state, "focus": "a/x", "hops": "2"}, "app")
    assert args["graph"] == "app" and (args["focus"], args["hops"]) == ("a/x", "2")


def test_empty_graphs_say_why():
    lost = graph(nodes=[], edges=[], focus={"node": "a/gone", "hops": 1, "found": False})
    assert "a/gone had no traffic in the last 5m" in empty_message(lost)
    assert "leaves nothing" in empty_message(graph(nodes=[], hide="ns = b", focus=None))
    assert empty_message(graph()) is None
