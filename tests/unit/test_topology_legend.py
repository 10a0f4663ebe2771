"""The topology's legend, summary cards, not-found message and hot-spot rows, as data: what the
page shows follows what the graph holds, and missing data is never a zero."""

from __future__ import annotations

import json

import pytest

from dashboards.topology.legend import legend, legend_facts
from dashboards.topology.not_found import not_found_message
from dashboards.topology.side_panel import edge_panel, hot_spot_id, node_panel, overview_panel
from dashboards.topology.summary import summary_cards
from mesh.graph.gateways import is_gateway_node
from tests.unit.test_topology_elements import GRAPH


def text(component) -> str:
    """Every string in a Dash component tree, for assertions on what a person reads."""
    return json.dumps(component.to_plotly_json() if hasattr(component, "to_plotly_json") else
                      component, default=lambda c: c.to_plotly_json(), ensure_ascii=False)  # fmt: skip


def ids(component) -> set[str]:
    found: set[str] = set()

    def walk(c):
        if isinstance(c, list | tuple):
            for x in c:
                walk(x)
            return
        if not hasattr(c, "to_plotly_json"):
            return
        if isinstance(getattr(c, "id", None), str):
            found.add(c.id)
        walk(getattr(c, "children", None))

    walk(component)
    return found


# --------------------------------------------------------------------------------- gateways


@pytest.mark.parametrize(
    ("node", "gateway"),
    [
        ({"kind": "workload", "workload": "istio-ingressgateway", "app": ""}, True),
        ({"kind": "app", "workload": "", "app": "istio-egressgateway"}, True),
        ({"kind": "workload", "workload": "bookinfo-gateway-istio", "app": ""}, True),
        ({"kind": "workload", "workload": "productpage-v1", "app": "productpage"}, False),
        ({"kind": "unknown", "workload": "unknown", "app": "unknown"}, False),
    ],
)
def test_gateways_are_known_by_istio_s_names(node, gateway):
    assert is_gateway_node(node) is gateway


# --------------------------------------------------------------------------------- legend


def test_the_legend_explains_what_the_graph_draws_and_only_that():
    facts = legend_facts(GRAPH)
    assert facts.kinds == {"workload", "unknown"}
    assert facts.outsider and facts.tcp and facts.edges and facts.several_namespaces
    assert not (facts.cross_cluster or facts.several_clusters or facts.gateway or facts.security)
    shown = ids(legend(facts))
    assert {"topo-legend-workload", "topo-legend-unknown", "topo-legend-outsider"} <= shown
    assert "topo-legend-tcp" in shown
    assert not {"topo-legend-app", "topo-legend-cross", "topo-legend-plaintext"} & shown
    words = text(legend(facts))
    for phrase in ("Healthy", "Failure", "Idle", "Thicker: more requests/s", "Box: namespace"):
        assert phrase in words


def test_security_cross_cluster_gateways_and_waypoints_join_when_present():
    graph = {
        **GRAPH,
        "clusters": ["east", "west"],
        "nodes": [
            *GRAPH["nodes"],
            {"id": "istio-system/istio-ingressgateway", "kind": "workload",
             "namespace": "istio-system", "workload": "istio-ingressgateway"},
            {"id": "bookinfo/waypoint", "kind": "workload", "namespace": "bookinfo",
             "workload": "waypoint", "waypoint": True},
        ],
        "edges": [*GRAPH["edges"], {"source": "a", "target": "b", "cross_cluster": True,
                                     "protocol": "http", "rps": 1.0}],
    }  # fmt: skip
    facts = legend_facts(graph, security=True, waypoints=True)
    assert facts.gateway and facts.waypoint and facts.cross_cluster and facts.several_clusters
    assert facts.mtls_unknown  # no edge here says its mTLS share
    shown = ids(legend(facts))
    assert {"topo-legend-cross", "topo-legend-plaintext", "topo-legend-waypoint"} <= shown
    assert "Blue box: cluster" in text(legend(facts))
    # Waypoints hidden by the toggle: no legend entry even if the data had one.
    assert "topo-legend-waypoint" not in ids(legend(legend_facts(graph, waypoints=False)))


def test_before_any_graph_the_legend_holds_health_only():
    assert len(legend(legend_facts(None))) == 1


# --------------------------------------------------------------------------------- summary


def test_requests_card_counts_what_enters_and_says_where():
    graph = {**GRAPH, "entering": {"namespaces": ["bookinfo"], "rps": 10.0, "error_rate": 0.0,
                                   "error_rate_4xx": 0.0, "edges": 1, "all_edges_rps": 15.0}}  # fmt: skip
    cards = text(summary_cards(graph))
    assert "10.0 rps" in cards and "Requests entering bookinfo" in cards
    assert "15.0 rps" in cards  # the sum of every edge, in the card's title only
    assert "0.00%" in cards


def test_an_empty_graph_has_no_cards_only_the_note():
    graph = {**GRAPH, "nodes": [], "edges": [], "source": "prometheus", "queries": 3,
             "entering": {"namespaces": ["x"], "rps": 0.0, "error_rate": None}}  # fmt: skip
    cards = summary_cards(graph)
    assert len(cards) == 1 and cards[0].id == "topo-updated"
    assert "Prometheus" in cards[0].children and "queries" not in cards[0].children
    assert cards[0].title == "3 PromQL queries per refresh"


def test_not_found_names_the_namespace_and_links_the_nearest():
    out = not_found_message(
        {"missing": ["bookinf"], "suggestions": ["bookinfo"], "why": "no HTTP or gRPC requests "
         "in the last 5m, and Kubernetes does not know it"}, "5m")  # fmt: skip
    words = text(out)
    assert "Namespace bookinf not found" in words
    assert "No HTTP or gRPC requests in the last 5m, and Kubernetes does not know it." in words
    assert "/?namespace=bookinfo&window=5m" in words


# --------------------------------------------------------------------------------- side panel


def test_hot_spot_rows_carry_their_edge_and_empty_graphs_rank_nothing():
    graph = {**GRAPH, "clusters": ["Kubernetes"]}
    panel = overview_panel(graph)
    row_id = hot_spot_id(GRAPH["edges"][1], "errors")
    assert row_id == {"type": "topo-hot-spot", "list": "errors",
                      "source": "bookinfo/productpage-v1", "target": "bookinfo/reviews-v2"}  # fmt: skip
    assert json.dumps(row_id, sort_keys=True) in json.dumps(
        panel.to_plotly_json(), sort_keys=True, default=lambda c: c.to_plotly_json()
    )
    empty = text(overview_panel({**GRAPH, "nodes": [], "edges": []}))
    assert "nothing to rank" in empty and "No errors" not in empty


def test_a_namespace_graph_without_p95_says_why_instead_of_no_data():
    merged = [{**e, "p95_ms": None} for e in GRAPH["edges"]]
    workload = text(overview_panel({**GRAPH, "edges": merged}))
    assert "No latency data in this window." in workload
    spaces = text(overview_panel({**GRAPH, "graph": "namespace", "edges": merged}))
    assert "No latency data" not in spaces
    assert "an edge joining several has no single p95" in spaces


def test_one_cluster_names_no_cluster():
    one = {**GRAPH, "clusters": ["Kubernetes"],
           "nodes": [{**n, "cluster": "Kubernetes"} for n in GRAPH["nodes"]]}  # fmt: skip
    assert "Kubernetes" not in text(edge_panel(GRAPH["edges"][1], one))
    assert "Kubernetes" not in text(node_panel(one["nodes"][1], one))
    two = {**one, "clusters": ["east", "west"]}
    assert "Kubernetes → Kubernetes" in text(edge_panel(GRAPH["edges"][1], two))


def test_the_view_finds_namespaces_that_do_not_exist_in_the_demo():
    from views.inventory import Window, namespaces_not_found
    from wiring.services import build_services
    from wiring.settings import Settings

    svc = build_services(Settings())
    when = Window("5m", 300, None)
    found = namespaces_not_found(svc, ("bookinf", "bookinfo"), when)
    assert found is not None
    assert found["missing"] == ["bookinf"] and found["suggestions"] == ["bookinfo"]
    assert namespaces_not_found(svc, ("bookinfo", "istio-system"), when) is None


def test_namespace_graph_rows_name_namespaces_not_node_ids():
    edge = {"source": "namespace:istio-system", "target": "namespace:bookinfo", "rps": 20.0,
            "error_rate": 0.02, "p95_ms": 90.0, "protocol": "http", "health": "degraded"}  # fmt: skip
    shown = [
        c.children
        for c in _spans(overview_panel({"nodes": [], "edges": [edge]}))
        if getattr(c, "className", None) == "md-name"
    ]
    assert shown and set(shown) == {"istio-system", "bookinfo"}


def _spans(component):
    if isinstance(component, list | tuple):
        for c in component:
            yield from _spans(c)
    elif hasattr(component, "to_plotly_json"):
        yield component
        yield from _spans(getattr(component, "children", None))
