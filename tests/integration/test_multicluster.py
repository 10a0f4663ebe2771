"""Multi-cluster meshes against real Prometheus servers: one per cluster (east, west), and one
global endpoint holding both clusters' series (tests/integration/multicluster_scenario.py
holds the data and the hand-computed figures).

What an SRE relies on: nodes named by cluster, calls across clusters marked, rates, error rates
and p95 right after the merge, 3 queries per endpoint, the same graph from a global endpoint,
and, with east's Prometheus down, west's part still drawn with east named as missing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from app import create_app
from devtools.promserver import require_prometheus
from tests.dashcalls import DashCalls, banners, text
from tests.faultservers import FaultProxy, poison_prometheus
from tests.integration.multicluster_scenario import (
    END,
    EXPECTED_EDGES,
    NS,
    ClusterServers,
    start_servers,
)
from tests.integration.prom_received import RANGE, queries_received
from wiring.services import SERVICES_KEY
from wiring.settings import Settings

pytestmark = pytest.mark.integration

GRAPH = f"/api/graph?namespace={NS}&at={END:.0f}&window=5m&graph=workload"
ERROR_TTL_S = 1.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[ClusterServers]:
    require_prometheus()
    found = start_servers(tmp_path_factory.mktemp("clusters"))
    try:
        yield found
    finally:
        found.close()


def make_app(tmp_path, **settings: Any) -> tuple[Any, Any]:
    base: dict[str, Any] = {
        "default_namespaces": (NS,),
        "refresh_interval_s": 60,
        "cache_error_ttl_s": ERROR_TTL_S,
        "prometheus_timeout_s": 5,
        "audit_log": tmp_path / "audit.jsonl",
    }
    app = create_app(Settings(**(base | settings)))
    return app.server.test_client(), app.server.extensions[SERVICES_KEY]


def by_edge(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["source"], e["target"]): e for e in body["edges"]}


def assert_expected_graph(body: dict[str, Any]) -> None:
    edges = by_edge(body)
    assert set(edges) == set(EXPECTED_EDGES)
    for key, want in EXPECTED_EDGES.items():
        got = edges[key]
        assert got["rps"] == pytest.approx(want["rps"], rel=1e-6), key
        assert got["error_rate"] == pytest.approx(want["error_rate"], abs=1e-6), key
        assert got["p95_ms"] == pytest.approx(want["p95_ms"], rel=1e-6), key
        assert got["cross_cluster"] is want["cross_cluster"], key
    nodes = {n["id"]: n for n in body["nodes"]}
    assert {i: n["cluster"] for i, n in nodes.items()} == {
        "unknown": "",
        "east:bookinfo/productpage-v1": "east",
        "east:bookinfo/reviews-v1": "east",
        "west:bookinfo/reviews-v2": "west",
        "west:bookinfo/ratings-v1": "west",
    }
    # productpage receives 10 rps and sends 6 + 4, a tenth of which across clusters fails.
    pp = nodes["east:bookinfo/productpage-v1"]
    assert pp["rps_in"] == pytest.approx(10.0) and pp["rps_out"] == pytest.approx(10.0)
    assert nodes["west:bookinfo/reviews-v2"]["error_rate_in"] == pytest.approx(0.1)
    assert body["clusters"] == ["east", "west"]


def test_per_cluster_endpoints_merge_into_the_hand_computed_graph(servers, tmp_path):
    client, _ = make_app(tmp_path, prometheus_clusters=servers.urls())
    before = {name: queries_received(url) for name, url in servers.urls().items()}
    r = client.get(GRAPH)
    body = r.get_json()
    assert r.status_code == 200, body
    assert_expected_graph(body)
    assert body["partial"] == []
    assert body["queries"] == 3 and body["endpoints"] == 2
    after = {name: queries_received(url) for name, url in servers.urls().items()}
    # Each endpoint received exactly the 3 queries one cluster's Prometheus takes.
    assert {n: after[n] - before[n] for n in after} == {"east": 3, "west": 3}


def test_a_global_endpoint_gives_the_same_graph(servers, tmp_path):
    per_cluster, _ = make_app(tmp_path, prometheus_clusters=servers.urls())
    global_, _ = make_app(tmp_path, prometheus_url=servers.both.url)
    before = queries_received(servers.both.url)
    merged = per_cluster.get(GRAPH).get_json()
    whole = global_.get(GRAPH).get_json()
    assert queries_received(servers.both.url) - before == 3
    assert_expected_graph(whole)
    assert whole["nodes"] == merged["nodes"] and whole["edges"] == merged["edges"]


def test_service_history_and_canary_merge_like_a_global_endpoint(servers, tmp_path):
    """Both views take latency from the destination reporter else the source's; across
    clusters the two sides of productpage -> reviews-v2 sit in two Prometheus servers, and the
    merge must still choose the destination's (west's) buckets."""
    per_cluster, _ = make_app(tmp_path, prometheus_clusters=servers.urls())
    global_, _ = make_app(tmp_path, prometheus_url=servers.both.url)
    at = int(END)
    canary = f"/api/canary/{NS}/reviews?baseline=v1&canary=v2&window=10m&at={at}"
    before = {n: queries_received(u) for n, u in servers.urls().items()}
    merged = per_cluster.get(canary)
    assert merged.status_code == 200, merged.get_json()
    assert {n: queries_received(u) - before[n] for n, u in servers.urls().items()} == {
        "east": 2,
        "west": 2,
    }
    body = merged.get_json()
    assert body == global_.get(canary).get_json()
    # 10 minutes: v1 6 rps (east), v2 4 rps with 10 % 503 (west); p95 by hand (scenario doc).
    assert body["baseline"]["requests"] == pytest.approx(3600)
    assert body["canary"]["requests"] == pytest.approx(2400)
    assert body["canary"]["errors"] == pytest.approx(240)
    assert body["baseline"]["p95_ms"] == pytest.approx(23.5)
    assert body["canary"]["p95_ms"] == pytest.approx(75.0)

    for view in ("service=reviews", "workload=productpage-v1"):
        url = f"/api/metrics?namespace={NS}&{view}&window=30m&at={at}"
        before = {n: queries_received(u, RANGE) for n, u in servers.urls().items()}
        merged = per_cluster.get(url)
        assert merged.status_code == 200, merged.get_json()
        sent = {n: queries_received(u, RANGE) - before[n] for n, u in servers.urls().items()}
        assert sent == {"east": 6, "west": 6}
        assert merged.get_json() == global_.get(url).get_json(), view
    outbound = per_cluster.get(
        f"/api/metrics?namespace={NS}&workload=productpage-v1&window=30m&at={at}"
    ).get_json()["outbound"]
    reviews = next(o for o in outbound if o["service"] == "reviews")
    # productpage -> reviews, both versions: the destination buckets of v1 (east) and v2 (west)
    # add to le 10: 4, le 25: 8, le 50: 9.6, +Inf: 10 per second; rank 9.5 in (25, 50]:
    # 25 + (9.5 - 8) / (9.6 - 8) * 25 = 48.4375 ms. The source side (all at 250) never shows.
    assert reviews["p95_ms"] == pytest.approx(48.4375, rel=1e-4)
    assert reviews["rps"] == pytest.approx(10.0, rel=0.02)


def test_one_clusters_prometheus_draws_calls_into_it_from_its_destination_reports(
    servers, tmp_path
):
    """West's Prometheus alone holds only west's proxies' reports. Before issue 23 it drew west's
    own call only; now productpage -> reviews-v2, whose caller's report lives in east, is drawn
    from west's destination report, once, and names east as the caller's cluster."""
    client, _ = make_app(tmp_path, prometheus_url=servers.west.url)
    body = client.get(GRAPH).get_json()
    edges = by_edge(body)
    assert set(edges) == {
        ("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2"),
        ("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1"),
    }
    into_west = edges[("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2")]
    assert into_west["rps"] == pytest.approx(4.0)
    assert into_west["error_rate"] == pytest.approx(0.1)
    assert body["clusters"] == ["east", "west"]


def test_the_cluster_filter_keeps_a_cluster_with_its_callers(servers, tmp_path):
    client, _ = make_app(tmp_path, prometheus_clusters=servers.urls())
    body = client.get(GRAPH + "&cluster=west").get_json()
    assert set(by_edge(body)) == {
        ("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2"),
        ("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1"),
    }
    assert body["clusters"] == ["east", "west"] and body["cluster_filter"] == ["west"]
    # Figures are those of the whole graph: productpage still sends 10 rps.
    pp = next(n for n in body["nodes"] if n["id"] == "east:bookinfo/productpage-v1")
    assert pp["rps_out"] == pytest.approx(10.0)
    bad = client.get(GRAPH + "&cluster=" + requests.utils.quote('e"}'))
    assert bad.status_code == 400 and bad.get_json()["field"] == "cluster"


def test_readyz_reports_each_cluster(servers, tmp_path):
    client, services = make_app(tmp_path, prometheus_clusters=servers.urls())
    body = client.get("/readyz").get_json()
    assert body["backends"]["prometheus:east"]["ok"] is True
    assert body["backends"]["prometheus:west"]["ok"] is True
    assert body["backends"]["prometheus:east"]["version"].startswith("2.")
    assert body["backends"]["prometheus:east"]["reachable"] is True
    # The merged source's own summary, for callers that ask it directly.
    whole = services.telemetry.ready()
    assert (whole["ok"], whole["reachable"]) == (True, True)
    assert whole["detail"] == "2 of 2 clusters reachable"


def test_east_down_west_still_renders_and_east_is_named(servers, tmp_path):
    client, services = make_app(tmp_path, prometheus_clusters=servers.urls())
    dash = DashCalls(client)
    assert client.get(GRAPH).get_json()["partial"] == []
    services.cache.store.clear()  # what the end of a refresh interval does
    servers.east.stop()
    try:
        r = client.get(GRAPH)
        body = r.get_json()
        assert r.status_code == 200, body
        assert [p["cluster"] for p in body["partial"]] == ["east"]
        assert body["partial"][0]["backend"] == "prometheus"
        assert "cannot reach" in body["partial"][0]["cause"]
        assert "connection refused" in body["partial"][0]["cause"]
        # West's part: its own call, with the figures it had.
        edge = by_edge(body)[("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1")]
        assert edge["rps"] == pytest.approx(4.0) and edge["p95_ms"] == pytest.approx(9.5)
        # East's only node is productpage, as the caller of reviews-v2 drawn from west's
        # destination report (its own report lives in east): once, 4 rps (issue 23).
        assert [n["id"] for n in body["nodes"] if n["cluster"] == "east"] == [
            "east:bookinfo/productpage-v1"
        ]
        into_west = by_edge(body)[("east:bookinfo/productpage-v1", "west:bookinfo/reviews-v2")]
        assert into_west["rps"] == pytest.approx(4.0)

        # The page shows a banner naming east, and draws west.
        status, answer, _ = dash.call(
            "topo-banner.children",
            {
                "topo-namespaces.value": [NS],
                "topo-view.value": "workload",
                "topo-window.value": "5m",
            },
            {"topo-at.data": str(int(END))},
        )
        assert status == 200
        shown = " ".join(banners(answer))
        assert "cluster east is failing" in shown and "connection refused" in shown, shown
        assert "west" not in shown
        # ... and the figure data handed to the graph still holds west's nodes.
        drawn = answer["topo-elements"]["data"]["elements"]
        assert "west:bookinfo/reviews-v2" in {e["data"]["id"] for e in drawn}
        assert text(answer["topo-banner"]["children"]).count("east") == 1

        # The service history needs every cluster: an error naming east, not half the traffic.
        history = client.get(f"/api/metrics?namespace={NS}&service=reviews&at={int(END)}")
        assert history.status_code == 502
        assert history.get_json()["cause"].startswith("cluster east: cannot reach")

        # /readyz names the failing cluster; the telemetry role still serves from west.
        ready = client.get("/readyz")
        checks = ready.get_json()["backends"]
        assert ready.status_code == 200
        assert checks["prometheus:east"]["ok"] is False
        assert "cannot reach" in checks["prometheus:east"]["detail"]
        assert checks["prometheus:west"]["ok"] is True

    finally:
        servers.east.start()
    # The graph without east was shared only as long as an error (1 s), not for the refresh
    # interval (60 s): east is back on the first refresh after that, nobody touching the app.
    time.sleep(ERROR_TTL_S + 0.2)
    body = client.get(GRAPH).get_json()
    assert body["partial"] == []
    assert_expected_graph(body)


def test_every_cluster_down_is_the_usual_502_naming_each(servers, tmp_path):
    client, _ = make_app(tmp_path, prometheus_clusters=servers.urls())
    servers.east.stop()
    servers.west.stop()
    try:
        r = client.get(GRAPH)
        body = r.get_json()
        assert r.status_code == 502, body
        assert body["backend"] == "prometheus"
        assert "cluster east: cannot reach" in body["cause"]
        assert "cluster west: cannot reach" in body["cause"]
        assert client.get("/readyz").status_code == 503
    finally:
        servers.west.start()
        servers.east.start()


def test_the_cause_never_carries_credentials(servers, tmp_path):
    """The per-cluster endpoints share the Prometheus credentials; a failure names the URL
    without its user-info."""
    urls = servers.urls()
    urls["east"] = re.sub(r"^http://", "http://meshdash:s3cret-pw@", urls["east"])
    client, _ = make_app(tmp_path, prometheus_clusters=urls)
    servers.east.stop()
    try:
        body = client.get(GRAPH).get_data(as_text=True)
    finally:
        servers.east.start()
    assert "s3cret-pw" not in body and "meshdash:" not in body
    assert '"cluster":"east"' in body


@pytest.mark.parametrize(
    ("mode", "cause"),
    [("hang", "within 0.5 s"), ("500", "HTTP 500"), ("garbage", "invalid JSON")],
)
def test_east_hanging_or_broken_costs_one_timeout_and_west_still_renders(
    servers, tmp_path, mode, cause
):
    """A cluster whose Prometheus hangs (or answers garbage) is a partial answer naming it,
    given within the timeout: the clusters are asked at once, so west never waits on east."""
    urls = servers.urls()
    with FaultProxy(urls["east"], poison_prometheus, hang_s=5.0) as east:
        client, _ = make_app(
            tmp_path, prometheus_clusters={**urls, "east": east.url}, prometheus_timeout_s=0.5
        )
        east.mode = mode
        began = time.perf_counter()
        r = client.get(GRAPH)
        took = time.perf_counter() - began
        body = r.get_json()
        assert r.status_code == 200, body
        assert [p["cluster"] for p in body["partial"]] == ["east"], body["partial"]
        assert cause in body["partial"][0]["cause"], body["partial"]
        edge = by_edge(body)[("west:bookinfo/reviews-v2", "west:bookinfo/ratings-v1")]
        assert edge["rps"] == pytest.approx(4.0)
        assert took < 2.5, took  # one timeout (0.5 s) plus the build, not east's 5 s hang
        east.mode = "ok"
        time.sleep(ERROR_TTL_S + 0.2)  # the partial answer is shared only as long as an error
        body = client.get(GRAPH).get_json()
        assert body["partial"] == []
        assert_expected_graph(body)
