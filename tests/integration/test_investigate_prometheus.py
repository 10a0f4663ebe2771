""" "Why is it red?" on a REAL Prometheus: meshes with faults at known places, through the API.

Each mesh lives in its own namespace, entered by a meshed load generator; every per-request call
passes its callee's failures on (Call.propagate), so a failing hop turns its callers red as an
outage does. The series come from the simulator's traffic model, backfilled with promtool into
this module's own Prometheus:

- `leaf`:    client -> front -> mid -> leaf, leaf failing 30 %; front also calls a healthy side.
- `middle`:  client -> front -> mid -> leaf, mid failing 30 % by itself, leaf healthy.
- `two`:     client -> front -> a -> a-db (a-db failing 20 %) and front -> b (b failing 8 %).
- `egress`:  client -> shop -> api.pay.example.com, a host outside the mesh failing 25 %: Istio
             reports it from the caller only, with destination_workload="unknown" (relabelled
             here from a simulated workload, as Istio would label a ServiceEntry host).
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path

import pytest
import requests

from demo.mesh import DemoMesh
from demo.openmetrics import write_series
from demo.series import mesh_series
from demo.spec import Call, LatencyModel, MeshSpec, Workload
from devtools.promserver import PrometheusServer, require_prometheus
from wiring.settings import Settings

pytestmark = pytest.mark.integration

END = 1767225600.0  # 2026-01-01T00:00:00Z, in the past so every figure is reproducible
START = END - 3600
FAULT_AT = START + 600
EXTERNAL_HOST = "api.pay.example.com"


def _wl(ns: str, app: str, median_ms: float = 10.0) -> Workload:
    return Workload(
        ns,
        f"{app}-v1",
        app,
        "v1",
        service=app,
        cluster="Kubernetes",
        latency=LatencyModel(median_ms),
    )


def _client(ns: str) -> Workload:
    return Workload(ns, "client", "client", "v1", cluster="Kubernetes")


def _call(ns: str, source: str, service: str) -> Call:
    return Call(ns, source, ns, service, per_request=1.0, propagate=1.0)


def _chain(ns: str) -> MeshSpec:
    return MeshSpec(
        workloads=(
            _client(ns), _wl(ns, "front", 30.0), _wl(ns, "mid", 10.0), _wl(ns, "leaf", 3.0),
            _wl(ns, "side", 2.0),
        ),
        calls=(
            Call(ns, "client", ns, "front", rps=10.0),
            _call(ns, "front-v1", "mid"),
            _call(ns, "front-v1", "side"),
            _call(ns, "mid-v1", "leaf"),
        ),
    )  # fmt: skip


def _two() -> MeshSpec:
    ns = "two"
    return MeshSpec(
        workloads=(
            _client(ns), _wl(ns, "front"), _wl(ns, "a"), _wl(ns, "a-db", 2.0), _wl(ns, "b"),
        ),
        calls=(
            Call(ns, "client", ns, "front", rps=10.0),
            _call(ns, "front-v1", "a"),
            _call(ns, "a-v1", "a-db"),
            _call(ns, "front-v1", "b"),
        ),
    )  # fmt: skip


def _egress() -> MeshSpec:
    ns = "egress"
    return MeshSpec(
        workloads=(_client(ns), _wl(ns, "shop"), _wl(ns, "payapi", 40.0)),
        calls=(Call(ns, "client", ns, "shop", rps=10.0), _call(ns, "shop-v1", "payapi")),
    )


def _meshes() -> list[DemoMesh]:
    def make(spec: MeshSpec, faults: dict[tuple[str, str], float]) -> DemoMesh:
        mesh = DemoMesh(spec, clock=lambda: END, history_start=START)
        for (ns, workload), rate in faults.items():
            mesh.state.set_fault(ns, workload, 1.0, rate, at=FAULT_AT)
        return mesh

    return [
        make(_chain("leaf"), {("leaf", "leaf-v1"): 0.3}),
        make(_chain("middle"), {("middle", "mid-v1"): 0.3}),
        make(_two(), {("two", "a-db-v1"): 0.2, ("two", "b-v1"): 0.08}),
        make(_egress(), {("egress", "payapi-v1"): 0.25}),
    ]


def _outside_the_mesh(series):
    """Istio's view of a host outside the mesh: only the caller's proxy reports the call, and
    it knows the host but no workload, namespace or revision behind it."""
    for s in series:
        labels = s.labels
        if labels.get("destination_workload") != "payapi-v1":
            yield s
            continue
        if labels["reporter"] != "source":
            continue
        labels = dict(labels)
        for key in (
            "destination_workload",
            "destination_workload_namespace",
            "destination_canonical_service",
            "destination_canonical_revision",
            "destination_app",
            "destination_version",
            "destination_service_namespace",
            "destination_cluster",
            "destination_principal",
        ):
            labels[key] = "unknown"
        labels["destination_service"] = EXTERNAL_HOST
        labels["destination_service_name"] = EXTERNAL_HOST
        yield dataclasses.replace(s, labels=labels)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory):
    require_prometheus()
    workdir: Path = tmp_path_factory.mktemp("prom-investigate")
    server = PrometheusServer(workdir)
    om = workdir / "faults.om"
    with open(om, "w", encoding="utf-8") as out:
        series = (s for m in _meshes() for s in mesh_series(m.model, START, END, 15.0))
        write_series(_outside_the_mesh(series), out, tmpdir=str(workdir))
    server.load_openmetrics(om)
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def client(prom, tmp_path_factory):
    from app import create_app

    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    app = create_app(Settings(prometheus_url=prom.url, audit_log=audit))
    return app.server.test_client()


def investigate(client, namespace: str, node: str | None = None, at: float = END) -> dict:
    url = f"/api/investigate?namespace={namespace}&window=5m&at={int(at)}"
    if node:
        url += f"&node={node}"
    r = client.get(url)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()


def test_a_failing_leaf_is_the_origin_and_its_callers_are_victims(client):
    body = investigate(client, "leaf", "leaf/front-v1")
    assert body["status"] == "found" and body["undetermined"] is None
    top = body["origins"][0]
    assert top["id"] == "leaf/leaf-v1"
    assert top["determined"] is True
    assert top["error_rate"] == pytest.approx(0.3, abs=0.02)
    assert top["explains_share"] > 0.95
    assert [o["id"] for o in body["origins"]] == ["leaf/leaf-v1"]
    assert {v["id"] for v in body["victims"]} == {"leaf/front-v1", "leaf/mid-v1"}
    mid = next(v for v in body["victims"] if v["id"] == "leaf/mid-v1")
    assert mid["explained_share"] > 0.95
    assert mid["failing_callees"][0]["id"] == "leaf/leaf-v1"
    assert body["path"] == ["leaf/front-v1", "leaf/mid-v1", "leaf/leaf-v1"]
    assert "leaf/side-v1" not in body["path"]  # healthy, not on the way
    kinds = [e["kind"] for e in top["evidence"]]
    assert kinds == ["own_errors", "callees", "explains"]
    assert "none of its calls fail" in top["evidence"][1]["text"]


def test_a_middle_service_failing_by_itself_is_the_origin_not_its_healthy_callee(client):
    body = investigate(client, "middle", "middle/front-v1")
    assert body["status"] == "found"
    assert body["origins"][0]["id"] == "middle/mid-v1"
    assert body["origins"][0]["error_rate"] == pytest.approx(0.3, abs=0.02)
    assert body["path"] == ["middle/front-v1", "middle/mid-v1"]
    assert "middle/leaf-v1" not in {o["id"] for o in body["origins"]}
    assert "middle/leaf-v1" not in {v["id"] for v in body["victims"]}
    assert {v["id"] for v in body["victims"]} == {"middle/front-v1"}


def test_two_independent_origins_are_both_named_and_ranked_by_what_they_explain(client):
    body = investigate(client, "two", "two/front-v1")
    ids = [o["id"] for o in body["origins"]]
    assert ids == ["two/a-db-v1", "two/b-v1"]
    a_db, b = body["origins"]
    # front's failing requests come from a (20 %) and b (8 %): shares 20/28 and 8/28
    assert a_db["explains_share"] == pytest.approx(0.2 / 0.28, abs=0.05)
    assert b["explains_share"] == pytest.approx(0.08 / 0.28, abs=0.05)
    assert a_db["path"] == ["two/front-v1", "two/a-v1", "two/a-db-v1"]
    assert b["path"] == ["two/front-v1", "two/b-v1"]
    assert body["path"] == a_db["path"]
    assert {v["id"] for v in body["victims"]} == {"two/front-v1", "two/a-v1"}


def test_a_failing_callee_outside_the_mesh_is_named_but_undetermined(client):
    body = investigate(client, "egress", "egress/shop-v1")
    assert body["status"] == "undetermined"
    top = body["origins"][0]
    assert top["id"] == f"unknown/{EXTERNAL_HOST}"
    assert top["determined"] is False
    assert EXTERNAL_HOST in body["undetermined"]
    assert "outside the mesh" in body["undetermined"]
    assert "cannot tell" in body["undetermined"]
    assert top["error_rate"] == pytest.approx(0.25, abs=0.02)
    assert {v["id"] for v in body["victims"]} == {"egress/shop-v1"}


def test_the_whole_namespace_starts_from_where_failures_enter(client):
    body = investigate(client, "two")
    assert body["node"] is None
    assert body["roots"] == ["two/client"]
    assert [o["id"] for o in body["origins"]] == ["two/a-db-v1", "two/b-v1"]


def test_past_times_before_the_fault_have_nothing_to_explain(client):
    body = investigate(client, "leaf", "leaf/front-v1", at=FAULT_AT - 60)
    assert body["status"] == "no_errors"
    assert body["origins"] == [] and body["path"] == []
    assert "no failing requests" in body["undetermined"]


def test_a_node_without_traffic_says_not_enough_data(client):
    body = investigate(client, "leaf", "leaf/nothing-v9")
    assert body["status"] == "no_traffic"
    assert "not enough data" in body["undetermined"]


def _queries_served(prom) -> float:
    text = requests.get(f"{prom.url}/metrics", timeout=10).text
    found = re.findall(
        r'^prometheus_engine_query_duration_seconds_count\{slice="inner_eval"\} (\S+)$',
        text,
        re.M,
    )
    return float(found[0])


def test_costs_one_graph_refresh_and_shares_it_with_the_graph(client, prom):
    at = int(END) - 120  # an instant no other test asked for: nothing cached
    before = _queries_served(prom)
    investigate(client, "middle", "middle/front-v1", at=at)
    after = _queries_served(prom)
    assert after - before == 3
    r = client.get(f"/api/graph?namespace=middle&window=5m&at={at}")
    assert r.status_code == 200
    time.sleep(0.2)
    assert _queries_served(prom) == after  # the graph of the same view is the one just built


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("namespace=leaf&node=a%20b", "node"),
        ("namespace=leaf&node=x&node=y", "node"),
        ("namespace=Bad_NS", "namespace"),
        ("namespace=leaf&window=forever", "window"),
        ("namespace=leaf&at=yesterday", "at"),
    ],
)
def test_bad_input_is_400_naming_the_field(client, prom, query, field):
    before = _queries_served(prom)
    r = client.get(f"/api/investigate?{query}")
    assert r.status_code == 400
    body = r.get_json()
    assert body["field"] == field and body["error"]
    assert _queries_served(prom) == before


def test_series_are_relabelled_as_istio_reports_an_external_host(prom):
    found = prom.query(
        f'group by (reporter, destination_workload) (istio_requests_total{{destination_service_name="{EXTERNAL_HOST}"}})',
        END,
    )
    assert [r["metric"] for r in found] == [
        {"reporter": "source", "destination_workload": "unknown"}
    ]
