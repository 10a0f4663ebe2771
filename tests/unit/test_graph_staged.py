"""The graph built in two stages (traffic while the latency buckets are summed, then their
quantiles) is the graph built at once, through every layer that hands the stages over."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from collectors.cache import CachedTelemetry
from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from mesh.graph.build import build_graph, graph_json, traffic_part, with_latencies
from mesh.sources import StagedTelemetry, telemetry_staged, traffic_only
from mesh.telemetry_records import (
    Endpoint,
    GraphQuery,
    GraphTelemetry,
    GraphView,
    LatencyQuantiles,
    RequestRate,
)
from tests.unit.test_cache import make_cache
from views.graph import graph_view, parse_graph_params
from wiring.services import Services
from wiring.settings import Settings

T = 1_767_225_600.0  # a multiple of the cache's interval
WEB = Endpoint(namespace="shop", workload="web-v1", app="web", version="v1")
VIA_CART = Endpoint("shop", "cart-v1", "cart", "v1", service="cart", service_namespace="shop")
VIA_BASKET = Endpoint("shop", "cart-v1", "cart", "v1", service="basket", service_namespace="shop")


def bookinfo(ambient: bool = False) -> DemoMesh:
    return DemoMesh(bookinfo_spec(ambient=ambient), clock=lambda: T)


@pytest.mark.parametrize("view", list(GraphView))
@pytest.mark.parametrize("ambient", [False, True])
def test_traffic_then_latencies_is_the_whole_build(view, ambient):
    telemetry = bookinfo(ambient).telemetry.graph_telemetry(GraphQuery(("bookinfo",), view, 300, T))
    assert telemetry.latencies  # else the comparison proves nothing
    staged = with_latencies(traffic_part(traffic_only(telemetry)), telemetry.latencies)
    assert graph_json(staged) == graph_json(build_graph(telemetry))


def test_an_edge_reached_through_two_services_keeps_the_busier_pairs_latency():
    """The weights that choose between latency records come from the traffic stage."""
    telemetry = GraphTelemetry(
        query=GraphQuery(("shop",), GraphView.WORKLOAD, 300, T),
        requests=(
            RequestRate(WEB, VIA_BASKET, "http", "200", "", 1.0),
            RequestRate(WEB, VIA_CART, "http", "200", "", 9.0),
        ),
        latencies=(
            LatencyQuantiles(WEB, VIA_BASKET, 1.0, 2.0, 3.0),
            LatencyQuantiles(WEB, VIA_CART, 10.0, 20.0, 30.0),
        ),
    )
    g = with_latencies(traffic_part(traffic_only(telemetry)), telemetry.latencies)
    (edge,) = graph_json(g)["edges"]
    assert (edge["p50_ms"], edge["p95_ms"], edge["p99_ms"]) == (10.0, 20.0, 30.0)


@dataclass
class StagedDemo:
    """The demo's telemetry, handing its traffic over first as the Prometheus collector does."""

    mesh: DemoMesh
    name: str = "demo"
    handed: list[GraphTelemetry] = field(default_factory=list)

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        return self.mesh.telemetry.graph_telemetry(query)

    def graph_telemetry_staged(self, query, first):
        whole = self.graph_telemetry(query)
        self.handed.append(traffic_only(whole))
        return whole, first(traffic_only(whole))


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"waypoints": "show"},
        {"graph": "service"},
        {"graph": "workload"},  # drawn before the latencies, then given them
        {"graph": "workload", "find": "rps > 1"},
        {"graph": "workload", "hide": "rps < 0.5", "hide_edges": "idle"},
        {"graph": "workload", "focus": "bookinfo/reviews-v2", "hops": "1"},
        {"graph": "workload", "hide": "p95 > 20"},  # reads latency: drawn after it
        {"graph": "workload", "find": "p99 >= 1"},
        {"graph": "namespace"},
        {"graph": "namespace", "expand": "bookinfo"},
    ],
)
def test_the_api_body_is_the_same_from_a_staged_source(args):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("bookinfo",))
    plain = Services(settings=settings, telemetry=bookinfo(True).telemetry, clock=lambda: T)
    staged_source = StagedDemo(bookinfo(True))
    staged = Services(settings=settings, telemetry=staged_source, clock=lambda: T)
    params = parse_graph_params({"namespace": "bookinfo", **args}, ("bookinfo",), shaped=True)
    assert isinstance(staged_source, StagedTelemetry)
    body = graph_view(staged, params)
    assert staged_source.handed  # the staged path ran
    assert body == graph_view(plain, params)
    if args.get("graph") != "namespace":
        assert any(e["p95_ms"] is not None for e in body["edges"])


def test_a_plain_source_hands_its_traffic_over_after_the_whole_answer():
    source = bookinfo().telemetry
    query = GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, T)
    whole, seen = telemetry_staged(source, query, lambda part: part)
    assert whole.latencies and seen.latencies == ()
    assert seen == traffic_only(whole)


class Inner:
    """A staged source that records what it was asked and when `first` ran."""

    name = "prometheus"

    def __init__(self) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.source = bookinfo().telemetry

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        raise AssertionError("the cache must ask for the staged answer")

    def graph_telemetry_staged(self, query, first):
        self.calls += 1
        whole = self.source.graph_telemetry(query)
        early = first(traffic_only(whole))
        assert self.gate.wait(10)
        return whole, early


def test_the_cache_runs_first_during_the_backend_call_on_a_miss_and_on_the_cached_answer_later():
    inner = Inner()
    cached = CachedTelemetry(inner, make_cache(clock=lambda: T))
    query = GraphQuery(("bookinfo",), GraphView.WORKLOAD, 300, T + 3)  # aligned to T
    during: list[bool] = []

    def first(part: GraphTelemetry) -> int:
        during.append(not inner.gate.is_set())
        inner.gate.set()
        return len(part.requests)

    whole, early = cached.graph_telemetry_staged(query, first)
    assert during == [True]  # before the backend call returned
    assert whole.query.at == T and early == len(whole.requests)
    again, early_again = cached.graph_telemetry_staged(query, first)
    assert inner.calls == 1 and again == whole  # a hit: the backend is not asked again
    assert early_again == early and during == [True, False]
