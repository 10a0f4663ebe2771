"""/api/graph?graph=namespace on a real Prometheus: every namespace edge's figures equal PromQL's
own sums over the workloads of the two namespaces, written out here as plain PromQL (issue 16).

A generated 4-namespace mesh (bench/scale_mesh.py's generator, 24 workloads, HTTP, gRPC failing
under HTTP 200, TCP, 4xx and 5xx noise) is backfilled with promtool. All four namespaces are
asked for, and every caller is meshed, so each request counts once from its source report
(DESIGN.md's reporter rules); the mTLS share is the destination reports'.
"""

from __future__ import annotations

import pytest

from app import create_app
from wiring.settings import Settings

NAMESPACES = ("ns-00", "ns-01", "ns-02", "ns-03")
ERRORS = (
    'response_code=~"5..|0"',
    'response_code!~"5..|0",grpc_response_status=~"[1-9]|1[0-6]"',
)


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    from bench.scale_mesh import END, load_prometheus, scale_spec
    from devtools.promserver import require_prometheus

    require_prometheus()
    spec = scale_spec(namespaces=4, services_per_namespace=3, seed=11)
    server, _ = load_prometheus(spec, tmp_path_factory.mktemp("four"), minutes=8, step=15.0)
    try:
        yield server, END
    finally:
        server.close()


def requests_rate(prom, at: float, where: str) -> float:
    return prom.query_value(f"sum(rate(istio_requests_total{{{where}}}[5m]))", at) or 0.0


def pair(a: str, b: str, reporter: str = "source") -> str:
    return (
        f'reporter="{reporter}",source_workload_namespace="{a}",'
        f'destination_workload_namespace="{b}"'
    )


@pytest.fixture(scope="module")
def answer(four, tmp_path_factory):
    prom, at = four
    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    client = create_app(Settings(prometheus_url=prom.url, audit_log=audit)).server.test_client()
    query = "&".join(f"namespace={ns}" for ns in NAMESPACES)
    r = client.get(f"/api/graph?{query}&graph=namespace&window=5m&at={at:.0f}")
    assert r.status_code == 200, r.get_json()
    return r.get_json(), client, query


def test_namespace_edges_equal_promql_sums(four, answer):
    prom, at = four
    body, _, _ = answer
    assert body["graph"] == "namespace"
    assert {n["id"] for n in body["nodes"]} == {f"namespace:{ns}" for ns in NAMESPACES}
    edges = {(e["source"], e["target"]): e for e in body["edges"]}
    checked = 0
    for a in NAMESPACES:
        for b in NAMESPACES:
            if a == b:
                continue
            rps = requests_rate(prom, at, pair(a, b))
            edge = edges.get((f"namespace:{a}", f"namespace:{b}"))
            if rps == 0:
                assert edge is None or edge["protocol"] == "tcp", (a, b)
                continue
            checked += 1
            assert edge["rps"] == pytest.approx(rps, rel=1e-4), (a, b)
            errors = sum(requests_rate(prom, at, f"{pair(a, b)},{e}") for e in ERRORS)
            assert edge["error_rate"] == pytest.approx(errors / rps, rel=1e-3, abs=1e-6), (a, b)
            client = requests_rate(prom, at, f'{pair(a, b)},response_code=~"4.."')
            assert edge["error_rate_4xx"] == pytest.approx(client / rps, rel=1e-3, abs=1e-6)
            dest = pair(a, b, "destination")
            mtls = requests_rate(prom, at, f'{dest},connection_security_policy="mutual_tls"')
            known = requests_rate(prom, at, f'{dest},connection_security_policy=~"mutual_tls|none"')
            assert edge["mtls"] == pytest.approx(mtls / known, rel=1e-3), (a, b)
            # DESIGN.md's defaults: 5xx degraded above 0, failure at 10 %; 4xx at 10 % and 20 %
            if errors / rps >= 0.1 or client / rps >= 0.2:
                health = "failure"
            elif errors > 0 or client / rps >= 0.1:
                health = "degraded"
            else:
                health = "healthy"
            assert edge["health"] == health, (a, b)
    assert checked >= 6  # 30 % of calls leave their namespace: most pairs carry traffic


def test_traffic_inside_a_namespace_and_what_enters_it(four, answer):
    prom, at = four
    body, _, _ = answer
    nodes = {n["namespace"]: n for n in body["nodes"]}
    for ns in NAMESPACES:
        inside = requests_rate(prom, at, pair(ns, ns))
        assert nodes[ns]["rps_internal"] == pytest.approx(inside, rel=1e-4)
        entering = requests_rate(
            prom,
            at,
            f'reporter="source",source_workload_namespace!="{ns}",'
            f'destination_workload_namespace="{ns}"',
        )
        assert nodes[ns]["rps_in"] == pytest.approx(entering, rel=1e-4)
        assert nodes[ns]["members"] == 6


def test_namespace_health_is_the_worst_of_its_workloads(answer, four):
    _, at = four
    body, client, query = answer
    workloads = client.get(f"/api/graph?{query}&graph=workload&window=5m&at={at:.0f}").get_json()
    rank = {"idle": 0, "healthy": 1, "degraded": 2, "failure": 3}
    for node in body["nodes"]:
        members = [n for n in workloads["nodes"] if n["namespace"] == node["namespace"]]
        assert node["health"] == max((m["health"] for m in members), key=rank.__getitem__)
        by = node["members_by_health"]
        assert sum(by.values()) == len(members)


def test_expanding_a_namespace_keeps_the_totals(answer, four):
    _, at = four
    body, client, query = answer
    opened = client.get(
        f"/api/graph?{query}&graph=namespace&expand=ns-01&window=5m&at={at:.0f}"
    ).get_json()
    assert "namespace:ns-01" not in {n["id"] for n in opened["nodes"]}
    into = [e for e in opened["edges"] if e["source"] == "namespace:ns-00"]
    leaving_ns00 = sum(e["rps"] for e in into)
    before = sum(e["rps"] for e in body["edges"] if e["source"] == "namespace:ns-00")
    assert leaving_ns00 == pytest.approx(before, rel=1e-4)
