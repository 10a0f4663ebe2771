"""/api/namespaces and /api/list on a REAL Prometheus equal PromQL's own answers.

Two Prometheus servers: the session's (tests/integration/conftest.py: gRPC errors, an unmeshed
caller, a cross-namespace canary pair) and one holding 20 namespaces of Istio series from the
scale generator (bench/scale_mesh.py). The expectations are written out here as plain PromQL,
one query per figure, with the per-namespace reporter rule spelled out:

- calls starting in the namespace they reach: reporter="source";
- calls entering from another namespace or from an unmeshed caller: reporter="destination";
- calls no workload answered (destination_workload="unknown"): reporter="source".

Rates are compared to 1e-4 rps (the API keeps 4 decimals), ratios to 1e-6, p95 to 1e-3 ms.
"""

from __future__ import annotations

import pytest

from app import create_app
from tests.integration.prom_received import queries_received
from wiring.settings import Settings

pytestmark = pytest.mark.integration

W = "5m"
ERRORS = ('response_code=~"5..|0"', 'response_code!~"5..|0",grpc_response_status=~"[1-9]|1[0-6]"')
CLIENT_ERRORS = ('response_code=~"4.."',)


def parts(ns: str, where: str, inside_only: bool = False) -> list[str]:
    """The three disjoint selectors of requests reaching namespace `ns` (module docstring)."""
    inside = f'reporter="source",source_workload_namespace="{ns}",{where}'
    entering = f'reporter="destination",source_workload_namespace!="{ns}",{where}'
    unanswered = (
        f'reporter="source",source_workload_namespace!="{ns}",destination_workload="unknown",'
        f"{where}"
    )
    return [inside] if inside_only else [inside, entering, unanswered]


def rate(prom, at: float, selectors: list[str], extra: tuple[str, ...] = ("",)) -> float:
    total = 0.0
    for sel in selectors:
        for e in extra:
            text = f"sum(rate(istio_requests_total{{{sel}{',' + e if e else ''}}}[{W}]))"
            total += prom.query_value(text, at) or 0.0
    return total


def expected_figures(prom, at: float, ns: str, where: str) -> dict[str, float]:
    sel = parts(ns, where)
    rps = rate(prom, at, sel)
    return {
        "rps": rps,
        "error_rate": rate(prom, at, sel, ERRORS) / rps if rps else 0.0,
        "error_rate_4xx": rate(prom, at, sel, CLIENT_ERRORS) / rps if rps else 0.0,
    }


def p95(prom, at: float, where: str) -> float | None:
    text = (
        "histogram_quantile(0.95, sum by (le) (rate("
        f'istio_request_duration_milliseconds_bucket{{reporter="destination",{where}}}[{W}])))'
    )
    value = prom.query_value(text, at)
    return None if value is None or value != value else value


def api(prom, tmp_path):
    settings = Settings(prometheus_url=prom.url, audit_log=tmp_path / "audit.jsonl")
    return create_app(settings).server.test_client()


def check_namespace(prom, at: float, row: dict) -> None:
    ns = row["namespace"]
    served = expected_figures(prom, at, ns, f'destination_service_namespace="{ns}"')
    assert row["rps_served"] == pytest.approx(served["rps"], abs=1e-4)
    assert row["error_rate"] == pytest.approx(served["error_rate"], abs=1e-6)
    assert row["error_rate_4xx"] == pytest.approx(served["error_rate_4xx"], abs=1e-6)
    where = f'destination_service_namespace="{ns}"'
    entering = rate(prom, at, parts(ns, where)[1:])
    assert row["rps_in"] == pytest.approx(entering, abs=1e-4)


def check_services(prom, at: float, rows: list[dict], thresholds=(0.0, 0.1)) -> dict[str, int]:
    counts = {"healthy": 0, "degraded": 0, "failure": 0, "idle": 0}
    for r in rows:
        ns, name = r["namespace"], r["name"]
        where = f'destination_service_namespace="{ns}",destination_service_name="{name}"'
        want = expected_figures(prom, at, ns, where)
        assert r["rps"] == pytest.approx(want["rps"], abs=1e-4), name
        assert r["error_rate"] == pytest.approx(want["error_rate"], abs=1e-6), name
        want_p95 = p95(prom, at, where)
        assert (r["p95_ms"] is None) == (want_p95 is None), name
        if want_p95 is not None:
            assert r["p95_ms"] == pytest.approx(want_p95, abs=1e-3), name
        e, c = want["error_rate"], want["error_rate_4xx"]
        if want["rps"] == 0:
            health = "idle"
        elif e >= thresholds[1] or c >= 0.2:
            health = "failure"
        elif e > thresholds[0] or c >= 0.1:
            health = "degraded"
        else:
            health = "healthy"
        assert r["health"] == health, name
        counts[health] += 1
    return counts


# ------------------------------------------------------------------- the session's scenarios


def test_namespaces_equal_promql(prometheus, scenario_time, tmp_path):
    client = api(prometheus, tmp_path)
    before = queries_received(prometheus.url)
    body = client.get(f"/api/namespaces?at={scenario_time:.0f}").get_json()
    assert queries_received(prometheus.url) - before == 1 == body["queries"]
    rows = {r["namespace"]: r for r in body["namespaces"]}
    assert {"bookinfo", "shop", "payments", "istio-system"} <= set(rows)
    for ns in ("bookinfo", "shop", "payments"):
        check_namespace(prometheus, scenario_time, rows[ns])
        services = client.get(
            f"/api/list?kind=service&namespace={ns}&at={scenario_time:.0f}"
        ).get_json()["rows"]
        assert rows[ns]["counts"] == check_services(prometheus, scenario_time, services)
    # The unmeshed caller enters shop through the destination reporter only.
    assert rows["shop"]["rps_in"] > 30.0


def test_workload_list_equals_promql_and_keeps_versions(prometheus, scenario_time, tmp_path):
    client = api(prometheus, tmp_path)
    before = queries_received(prometheus.url)
    body = client.get(
        f"/api/list?kind=workload&namespace=payments&namespace=shop&at={scenario_time:.0f}"
    ).get_json()
    assert queries_received(prometheus.url) - before == 2 == body["queries"]
    names = {r["name"]: r for r in body["rows"]}
    assert {"payments-v1", "payments-v2", "frontend-v1", "cartservice-v1"} <= set(names)
    for r in body["rows"]:
        ns, wl = r["namespace"], r["name"]
        where = f'destination_workload_namespace="{ns}",destination_workload="{wl}"'
        # The reporter rule follows the service's namespace; here they are the same.
        want = expected_figures(prometheus, scenario_time, ns, where)
        assert r["rps"] == pytest.approx(want["rps"], abs=1e-4), wl
        assert r["error_rate"] == pytest.approx(want["error_rate"], abs=1e-6), wl
        want_p95 = p95(prometheus, scenario_time, where)
        if want_p95 is not None:
            assert r["p95_ms"] == pytest.approx(want_p95, abs=1e-3), wl
    assert names["payments-v2"]["versions"] == ["v2"]
    # gRPC status 14 under HTTP 200 is an error: 5 % of cartservice's calls, degraded.
    cart = names["cartservice-v1"]
    assert cart["health"] == "degraded" and cart["error_rate"] == pytest.approx(0.05, abs=0.01)


def test_unknown_namespace_is_not_found_with_suggestions(prometheus, scenario_time, tmp_path):
    r = api(prometheus, tmp_path).get(
        f"/api/list?kind=app&namespace=bokinfo&at={scenario_time:.0f}"
    )
    assert r.status_code == 404
    assert r.get_json()["suggestions"] == ["bookinfo"]


# ------------------------------------------------------------------- 20 namespaces


@pytest.fixture(scope="module")
def twenty(tmp_path_factory):
    """A real Prometheus holding 20 namespaces x 3 services x 2 versions (bench generator):
    6 minutes at a 30 s step cover the 5m window and cost promtool a third of 8 at 15 s."""
    from bench.scale_mesh import END, load_prometheus, scale_spec
    from devtools.promserver import require_prometheus

    require_prometheus()
    spec = scale_spec(namespaces=20, services_per_namespace=3, seed=11)
    server, _ = load_prometheus(spec, tmp_path_factory.mktemp("twenty"), minutes=6, step=30.0)
    try:
        yield server, END
    finally:
        server.close()


def test_twenty_namespaces_equal_promql_in_at_most_three_queries(twenty, tmp_path):
    prom, at = twenty
    client = api(prom, tmp_path)
    before = queries_received(prom.url)
    body = client.get(f"/api/namespaces?at={at:.0f}").get_json()
    rows = body["namespaces"]
    assert len(rows) == 20 and queries_received(prom.url) - before == 1
    for row in rows:
        check_namespace(prom, at, row)
    everything = "&".join(f"namespace={r['namespace']}" for r in rows)
    before = queries_received(prom.url)
    listed = client.get(f"/api/list?kind=service&{everything}&at={at:.0f}").get_json()
    assert queries_received(prom.url) - before == 2 and len(listed["rows"]) == 60
    counts = check_services(prom, at, listed["rows"])
    assert counts == {
        state: sum(r["counts"][state] for r in rows)
        for state in ("healthy", "degraded", "failure", "idle")
    }
    ranks = {"failure": 0, "degraded": 1, "healthy": 2, "idle": 3}
    order = [ranks[r["health"]] for r in listed["rows"]]
    assert order == sorted(order)  # worst first
