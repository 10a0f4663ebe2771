"""The demo reads its traces in process (demo/trace_source.DemoTraceStore, wired by
build_services). Before, it served them on its own Jaeger endpoint and read them back through
the real JaegerCollector; that endpoint is now a harness (devtools/jaeger_server.py). Same
simulated mesh, both paths: the same records, the same errors and the same /api/traces answers,
byte for byte."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from app import create_app
from collectors.jaeger import JaegerCollector
from demo.mesh import DemoMesh
from demo.trace_source import DemoTraceStore
from devtools.jaeger_server import start_demo_jaeger
from mesh.errors import NotFound
from mesh.traces.records import TraceQuery
from wiring.services import build_services
from wiring.settings import Settings

pytestmark = pytest.mark.integration

NOW = 1_795_000_000.0


def window(minutes: float, end: float = NOW) -> tuple[int, int]:
    return int((end - minutes * 60) * 1e6), int(end * 1e6)


QUERIES = [
    TraceQuery("productpage.bookinfo", *window(15), limit=20),
    TraceQuery("reviews.bookinfo", window(10)[0] + 123, window(10)[1] - 7, limit=40),
    TraceQuery("reviews.bookinfo", *window(15), tags=(("error", "true"),), limit=25),
    TraceQuery(
        "reviews.bookinfo",
        *window(15),
        tags=(("istio.canonical_revision", "v3"), ("sampler.type", "probabilistic")),
        limit=10,
    ),
    TraceQuery("ratings.bookinfo", *window(10), min_duration_us=1500, max_duration_us=90_000),
    TraceQuery(
        "details.bookinfo",
        *window(5),
        operation="details.bookinfo.svc.cluster.local:9080/details/0",
        limit=5,
    ),
    TraceQuery("productpage.bookinfo", *window(5), limit=1),
    TraceQuery("nothere.bookinfo", *window(5)),  # no such service: nothing, not an error
    TraceQuery("productpage.bookinfo", window(5)[1], window(5)[0]),  # end before start
]


@pytest.fixture(scope="module")
def paths():
    """The in-process store and the collector over the demo endpoint (both API flavours)."""
    sim = DemoMesh.bookinfo(clock=lambda: NOW)
    sim.state.set_fault("bookinfo", "reviews-v3", 4.0, 0.2, at=NOW - 600)  # errors to find
    direct = DemoTraceStore(sim.spec, sim.state, seed=sim.model.seed, clock=sim.clock)
    url, stop = start_demo_jaeger(sim)
    yield (
        direct,
        {
            "auto": JaegerCollector(url, timeout_s=60),  # what the demo used: detects v3
            "v1": JaegerCollector(url, timeout_s=60, api="v1"),
        },
    )
    stop()


def test_services_and_operations_are_the_collectors(paths):
    direct, http = paths
    for collector in http.values():
        assert direct.services() == collector.services()
        for service in direct.services():
            assert direct.operations(service) == collector.operations(service), service


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.service}-{q.limit}-{q.tags}")
def test_searches_give_the_collectors_records(paths, query):
    direct, http = paths
    found = direct.find_traces(query)
    assert found == http["auto"].find_traces(query)
    assert found == http["v1"].find_traces(query)
    assert len(found) <= query.limit


def test_the_searches_find_something_to_compare(paths):
    """The comparisons above are not all of empty lists."""
    direct, _ = paths
    assert len(direct.find_traces(QUERIES[0])) == 20
    assert direct.find_traces(QUERIES[2])  # the faulted canary fails
    assert direct.find_traces(QUERIES[4])


def test_traces_by_id_and_unknown_ids_are_the_collectors(paths):
    direct, http = paths
    ids = [t.trace_id for q in QUERIES[:3] for t in direct.find_traces(q)[:3]]
    assert len(ids) == 9
    for trace_id in ids:
        assert direct.get_trace(trace_id) == http["auto"].get_trace(trace_id)
    for unknown in ("0" * 32, ids[0][:-1] + ("0" if ids[0][-1] != "0" else "1")):
        with pytest.raises(NotFound) as by_http:
            http["auto"].get_trace(unknown)
        with pytest.raises(NotFound) as in_process:
            direct.get_trace(unknown)
        assert str(in_process.value) == str(by_http.value)


def test_api_answers_are_those_of_the_demo_read_through_its_endpoint(tmp_path):
    """build_services' demo against the same demo read back over HTTP, as it was wired before:
    every /api/traces answer the same bytes (`end` fixed in the past, so both see one mesh)."""
    direct = build_services(Settings(audit_log=tmp_path / "audit.jsonl"))
    assert isinstance(direct.traces, DemoTraceStore)
    sim = direct.demo
    url, stop = start_demo_jaeger(sim)  # type: ignore[arg-type]  (the DemoMesh behind it)
    try:
        before = replace(direct, traces=JaegerCollector(url, timeout_s=60))
        old = create_app(before.settings, before).server.test_client()
        new = create_app(direct.settings, direct).server.test_client()
        end = int(time.time()) - 120
        searches = [
            f"/api/traces?namespace=bookinfo&service=productpage&end={end}&lookback=15m",
            f"/api/traces?namespace=bookinfo&service=reviews&end={end}&lookback=15m&error=true",
            f"/api/traces?namespace=bookinfo&service=ratings&end={end}&lookback=10m&limit=30"
            "&min_duration_ms=2&max_duration_ms=80",
            f"/api/traces?namespace=bookinfo&service=reviews&end={end}&lookback=15m&limit=10"
            "&tags=istio.canonical_revision%3Dv2",
            f"/api/traces?namespace=bookinfo&service=nothere&end={end}&lookback=5m",
        ]
        ids = []
        for url_ in searches:
            a, b = old.get(url_), new.get(url_)
            assert (a.status_code, a.get_data()) == (b.status_code, b.get_data()), url_
            ids += [t["trace_id"] for t in b.get_json()["traces"][:2]]
        assert len(ids) >= 4
        for trace_id in [*ids, "0123456789abcdef0123456789abcdef"]:
            a, b = old.get(f"/api/traces/{trace_id}"), new.get(f"/api/traces/{trace_id}")
            assert (a.status_code, a.get_data()) == (b.status_code, b.get_data()), trace_id
        assert new.get("/api/traces/0123456789abcdef0123456789abcdef").status_code == 404
    finally:
        stop()
