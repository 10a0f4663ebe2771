"""Find and hide expressions: the parser, and /api/graph's big-mesh parameters (400 naming the
field before any backend is asked; the namespace graph above the opening threshold)."""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import pytest

from app import create_app
from mesh.errors import BadRequest
from mesh.graph.find_hide import Clause, edge_matches, node_matches, parse
from mesh.telemetry_records import Endpoint, GraphQuery, GraphTelemetry, RequestRate
from views.graph_shape import shaped_json
from wiring.services import Services
from wiring.settings import Settings


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("rps > 10", (Clause("rps", ">", 10.0),)),
        ("health = failure", (Clause("health", "=", "failure"),)),
        ("ns = team-03", (Clause("ns", "=", "team-03"),)),
        ("p95 > 500", (Clause("p95", ">", 500.0),)),
        (
            "rps>=1.5 and health=degraded",
            (Clause("rps", ">=", 1.5), Clause("health", "=", "degraded")),
        ),
        ("namespace != a, p99<20", (Clause("ns", "!=", "a"), Clause("p99", "<", 20.0))),
        (
            "RPS > 1 AND Health = FAILURE",
            (Clause("rps", ">", 1.0), Clause("health", "=", "failure")),
        ),
        ("name = reviews-*", (Clause("name", "=", "reviews-*"),)),
    ],
)
def test_parse(text, clauses):
    assert parse(text, "find").clauses == clauses


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rps >> 3", "cannot read"),
        ("rps > ten", "needs a number"),
        ("colour = red", "unknown field"),
        ("health = purple", "health is one of"),
        ("health > failure", "takes = or !="),
        ("rps > 1 and", "empty condition"),
        ("rps > 1,,p95 > 2", "empty condition"),
        ("ns = a;drop", "cannot read"),
        ("rps > 1 and " * 11 + "rps > 1", "more than 10"),
        ("ns = " + "a" * 400, "longer than"),
    ],
)
def test_bad_expressions_say_what_is_wrong_and_name_the_parameter(text, says):
    with pytest.raises(BadRequest) as err:
        parse(text, "hide")
    assert err.value.field == "hide"
    assert says in err.value.message


def test_a_field_that_does_not_apply_never_matches():
    slow = parse("p95 > 500", "find")
    assert not node_matches(slow, {"id": "a/b", "rps_in": 3.0, "health": "healthy"})
    assert edge_matches(slow, {"rps": 1.0, "p95_ms": 501.0})
    assert not edge_matches(slow, {"rps": 1.0, "p95_ms": None})  # no latency: not "fast"


def test_error_is_a_percentage_and_needs_traffic():
    expr = parse("error > 5", "find")
    assert edge_matches(expr, {"rps": 2.0, "error_rate": 0.06})
    assert not edge_matches(expr, {"rps": 2.0, "error_rate": 0.04})
    assert not node_matches(expr, {"rps_in": 0.0, "error_rate_in": 0.0})


def test_a_gateway_is_found_by_what_it_sends():
    expr = parse("rps > 10", "find")
    assert node_matches(expr, {"rps_in": 0.0, "rps_out": 12.0})
    assert not node_matches(expr, {"rps_in": 2.0, "rps_out": 12.0})


# ---------------------------------------------------------------------------------------------
# /api/graph


@dataclass
class Mesh:
    """A source of n workloads in two namespaces, each called once by the first."""

    size: int
    name: str = "test"
    calls: list[GraphQuery] = field(default_factory=list)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        self.calls.append(query)
        root = Endpoint(namespace="a", workload="root-v1", app="root", version="v1")
        requests = tuple(
            RequestRate(
                root,
                Endpoint(
                    namespace="a" if i % 2 else "b",
                    workload=f"w{i}-v1",
                    app=f"w{i}",
                    version="v1",
                    service=f"w{i}",
                    service_namespace="a" if i % 2 else "b",
                ),
                "http",
                "503" if i == 3 else "200",
                "",
                1.0,
            )
            for i in range(self.size)
        )
        return GraphTelemetry(query, requests, queries_sent=3)


def client(size, **settings):
    source = Mesh(size)
    s = Settings(prometheus_url="http://prometheus.invalid:9090", **settings)
    app = create_app(s, Services(settings=s, telemetry=source))
    return app.server.test_client(), source


@pytest.mark.parametrize(
    ("query", "field_"),
    [
        ("find=rps%20%3E%3E%201", "find"),
        ("hide=health%3Dpurple", "hide"),
        ("focus=a/b%20c", "focus"),
        ("hops=0&focus=a/w1-v1", "hops"),
        ("hops=7&focus=a/w1-v1", "hops"),
        ("graph=namespaces", "graph"),
        ("graph=namespace&expand=Not_A_Namespace", "expand"),
        ("hide_edges=failure", "hide_edges"),
        ("find=rps>1&find=rps>2", "find"),
    ],
)
def test_bad_big_mesh_parameters_are_400_naming_the_field_and_ask_no_backend(query, field_):
    c, source = client(4)
    r = c.get(f"/api/graph?namespace=a&namespace=b&{query}")
    assert r.status_code == 400
    assert r.get_json()["field"] == field_
    assert source.calls == []


def test_namespace_graph_over_the_api():
    c, _ = client(6)
    body = c.get("/api/graph?namespace=a&namespace=b&graph=namespace").get_json()
    assert body["graph"] == "namespace"
    ids = {n["id"]: n for n in body["nodes"]}
    assert set(ids) == {"namespace:a", "namespace:b"}
    assert ids["namespace:b"]["members"] == 3
    assert ids["namespace:a"]["health"] == "failure"  # w3 (in a) answers only 503s
    [edge] = body["edges"]
    assert (edge["source"], edge["target"], edge["rps"]) == ("namespace:a", "namespace:b", 3.0)


def test_a_mesh_above_the_threshold_opens_on_the_namespace_graph_saying_why():
    c, _ = client(12, graph_namespace_above=10)
    body = c.get("/api/graph?namespace=a&namespace=b").get_json()
    assert body["graph"] == "namespace"
    assert body["opened_as_namespace_graph"]["nodes"] == 13
    assert "more than the 10" in body["opened_as_namespace_graph"]["reason"]
    # asked for by name, the workload graph is always given
    body = c.get("/api/graph?namespace=a&namespace=b&graph=workload").get_json()
    assert body["graph"] == "workload" and len(body["nodes"]) == 13
    assert body["opened_as_namespace_graph"] is None


def test_a_mesh_at_the_threshold_stays_a_workload_graph():
    c, _ = client(9, graph_namespace_above=10)
    body = c.get("/api/graph?namespace=a&namespace=b").get_json()
    assert body["graph"] == "workload" and body["opened_as_namespace_graph"] is None


def test_large_graphs_carry_server_positions_small_ones_do_not():
    c, _ = client(12, graph_server_layout_above=10)
    body = c.get("/api/graph?namespace=a&namespace=b&graph=workload").get_json()
    assert set(body["positions"]) == {n["id"] for n in body["nodes"]}
    c, _ = client(6, graph_server_layout_above=10)
    assert c.get("/api/graph?namespace=a&graph=workload").get_json()["positions"] is None


def test_the_namespace_graph_and_edge_heavy_graphs_are_laid_out_on_the_server():
    """The browser's layered layout took 1.5-2.5 s for a 20-namespace graph's 297 edges."""
    c, _ = client(6, graph_server_layout_above=60)
    body = c.get("/api/graph?namespace=a&namespace=b&graph=namespace").get_json()
    assert body["graph"] == "namespace" and len(body["nodes"]) < 60
    assert set(body["positions"]) == {n["id"] for n in body["nodes"]}


def test_a_graph_with_many_edges_for_its_nodes_is_laid_out_on_the_server():
    g = nx.complete_graph(5, nx.DiGraph)  # 5 nodes, 20 edges
    nodes = [{"id": str(n), "namespace": "a", "kind": "workload"} for n in g]
    edges = [{"source": str(s), "target": str(t)} for s, t in g.edges]
    g = nx.relabel_nodes(g, str)
    fields = {"graph": "workload"}
    heavy = shaped_json(
        g,
        {"nodes": nodes, "edges": edges},
        fields,
        Settings(prometheus_url="http://p.invalid", graph_server_layout_above=4),
    )  # 20 > 4 x 4 edges
    assert set(heavy["shape"]["positions"]) == {n["id"] for n in nodes}
    light = shaped_json(
        g,
        {"nodes": nodes, "edges": edges},
        fields,
        Settings(prometheus_url="http://p.invalid", graph_server_layout_above=5),
    )  # 20 = 4 x 5 edges
    assert light["shape"]["positions"] is None


def test_focus_find_and_hide_over_the_api():
    c, _ = client(6)
    body = c.get("/api/graph?namespace=a&namespace=b&focus=b/w0-v1&hops=1").get_json()
    assert {n["id"] for n in body["nodes"]} == {"a/root-v1", "b/w0-v1"}
    assert body["focus"] == {"node": "b/w0-v1", "hops": 1, "found": True}
    body = c.get("/api/graph?namespace=a&namespace=b&focus=b/gone&hops=2").get_json()
    assert body["nodes"] == [] and body["focus"]["found"] is False
    body = c.get("/api/graph?namespace=a&namespace=b&find=health%3Dfailure").get_json()
    # the root sends nothing but calls: judged on them, 1 rps of 503 in 6 is a failure too
    assert body["find"]["nodes"] == ["a/root-v1", "a/w3-v1"]
    assert body["find"]["edges"] == [{"source": "a/root-v1", "target": "a/w3-v1"}]
    body = c.get("/api/graph?namespace=a&namespace=b&hide=ns%3Db").get_json()
    assert {n["namespace"] for n in body["nodes"]} == {"a"}


def test_other_views_of_the_graph_keep_the_plain_graph():
    """The investigation reads the graph parameters too: it never gets a namespace graph."""
    from views.graph import parse_graph_params

    params = parse_graph_params({"namespace": "a", "find": "rps >> 1"}, ("a",))
    assert not params.shape.shaped
