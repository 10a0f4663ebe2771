"""/api/graph through the real app factory, with a telemetry source written for the test."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app import create_app
from mesh.errors import BackendTimeout, BackendUnavailable
from mesh.telemetry_records import (
    Endpoint,
    GraphQuery,
    GraphTelemetry,
    LatencyQuantiles,
    RequestRate,
)
from wiring.services import Services
from wiring.settings import Settings

PP = Endpoint(namespace="shop", workload="frontend-v1", app="frontend", version="v1")
CART = Endpoint(
    namespace="shop",
    workload="cart-v1",
    app="cart",
    version="v1",
    service="cart",
    service_namespace="shop",
)


@dataclass
class RecordingSource:
    name: str = "test"
    calls: list[GraphQuery] = field(default_factory=list)
    fail: Exception | None = None

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        self.calls.append(query)
        if self.fail:
            raise self.fail
        return GraphTelemetry(
            query=query,
            requests=(
                RequestRate(PP, CART, "grpc", "200", "0", 9.0),
                RequestRate(PP, CART, "grpc", "200", "14", 1.0),
            ),
            latencies=(LatencyQuantiles(PP, CART, 8.0, 21.3, 32.0),),
            queries_sent=3,
        )


@pytest.fixture
def source():
    return RecordingSource()


@pytest.fixture
def client(source):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",))
    svc = Services(settings=settings, telemetry=source, clock=lambda: 1795881075.0)
    return create_app(settings, svc).server.test_client()


def test_graph_json_shape_and_figures(client, source):
    r = client.get("/api/graph?namespace=shop&window=5m&graph=workload")
    assert r.status_code == 200
    body = r.get_json()
    assert (body["graph"], body["window"], body["at"]) == ("workload", "5m", 1795881075)
    edge = next(e for e in body["edges"] if e["target"] == "shop/cart-v1")
    assert edge["source"] == "shop/frontend-v1"
    assert edge["protocol"] == "grpc"
    assert edge["rps"] == pytest.approx(10.0)
    assert edge["error_rate"] == pytest.approx(0.1)  # grpc status 14 with HTTP 200 is an error
    assert edge["p95_ms"] == pytest.approx(21.3)
    node = next(n for n in body["nodes"] if n["id"] == "shop/cart-v1")
    assert node["health"] == "failure"  # 10% errors is Kiali's failure threshold
    assert source.calls[0] == GraphQuery(("shop",), source.calls[0].view, 300, 1795881075.0)
    # Nothing enters shop from outside: 0 rps entering, no error ratio (not 0 %); every edge's
    # traffic is given beside it.
    assert body["entering"] == {
        "namespaces": ["shop"],
        "rps": 0.0,
        "error_rate": None,
        "error_rate_4xx": None,
        "edges": 0,
        "all_edges_rps": 10.0,
    }


def test_at_is_passed_through(client, source):
    client.get("/api/graph?namespace=shop&at=1795880000")
    assert source.calls[-1].at == 1795880000.0


@pytest.mark.parametrize(
    "query",
    [
        "namespace=Shop",
        'namespace=shop"}',
        "graph=pods",
        "window=forever",
        "at=soon",
        "namespace=a&namespace=.*",
    ],
)
def test_bad_input_is_400_json_and_never_reaches_the_backend(client, source, query):
    r = client.get(f"/api/graph?{query}")
    assert r.status_code == 400
    assert "error" in r.get_json()
    assert source.calls == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (BackendUnavailable("prometheus", "connection refused"), 502),
        (BackendTimeout("prometheus", "no answer within 10s"), 504),
    ],
)
def test_backend_failures_are_502_or_504_json(client, source, error, status):
    source.fail = error
    r = client.get("/api/graph?namespace=shop")
    assert r.status_code == status
    body = r.get_json()
    assert body["backend"] == "prometheus"
    assert error.cause in body["error"]


def test_unknown_api_path_is_json_404(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
