"""The overview and lists of an ambient mesh (issue 21): waypoint reports count where a
destination's would, never beside a caller's or a destination sidecar's report of the same edge
(mesh/graph/reporters.destination_side_counts, the graph's rule), and the ambient demo's
overview and lists show the same traffic as the sidecar demo's."""

from __future__ import annotations

import pytest

from app import create_app
from mesh.inventory import RequestRow, counted_once
from wiring.settings import Settings

NS = "bookinfo"


def row(reporter: str, src: str, dst: str, rps: float, src_ns: str = NS) -> RequestRow:
    return RequestRow(
        reporter, src_ns, NS, "200", "", rps, source_workload=src, destination_workload=dst
    )


def test_a_waypoint_report_counts_once_in_a_mixed_namespace():
    rows = [
        row("source", "productpage-v1", "reviews-v1", 50.0),  # sidecar caller
        row("waypoint", "productpage-v1", "reviews-v1", 50.0),  # ... of an ambient callee
        row("destination", "reviews-v1", "ratings-v1", 30.0),  # ambient caller, sidecar callee
        row("waypoint", "reviews-v2", "ratings-v2", 20.0),  # both ambient
        row("waypoint", "ratings-v1", "mysql-v1", 5.0),  # a sidecar callee behind a waypoint
        row("destination", "ratings-v1", "mysql-v1", 5.0),
        row("waypoint", "frontend-v1", "reviews-v1", 7.0, src_ns="shop"),  # from elsewhere
        row("source", "frontend-v1", "reviews-v1", 7.0, src_ns="shop"),
    ]
    kept = {(r.reporter, r.source_workload, r.destination_workload) for r in counted_once(rows)}
    assert kept == {
        ("source", "productpage-v1", "reviews-v1"),
        ("destination", "reviews-v1", "ratings-v1"),
        ("waypoint", "reviews-v2", "ratings-v2"),
        ("destination", "ratings-v1", "mysql-v1"),
        ("waypoint", "frontend-v1", "reviews-v1"),
    }


@pytest.fixture(scope="module")
def clients():
    def make(ambient: bool):
        return create_app(Settings(demo_ambient=ambient)).server.test_client()

    return make(False), make(True)


@pytest.mark.parametrize("kind", ["service", "workload", "app"])
def test_the_ambient_demo_lists_show_the_sidecar_demos_traffic(clients, kind):
    sidecar, ambient = clients
    at = sidecar.get("/api/namespaces").get_json()["at"]

    def rows(c):
        body = c.get(f"/api/list?kind={kind}&namespace={NS}&at={at}").get_json()
        return {r["name"]: r for r in body["rows"] if r["name"] != "waypoint"}

    want, got = rows(sidecar), rows(ambient)
    assert set(got) == set(want) and any(r["rps"] > 0 for r in got.values())
    for name, r in want.items():
        assert got[name]["rps"] == pytest.approx(r["rps"], rel=0.02), name
        assert got[name]["error_rate"] == pytest.approx(r["error_rate"], abs=0.003), name


def test_the_ambient_demo_overview_shows_traffic(clients):
    sidecar, ambient = clients
    at = sidecar.get("/api/namespaces").get_json()["at"]

    def bookinfo(c):
        body = c.get(f"/api/namespaces?at={at}").get_json()
        return next(r for r in body["namespaces"] if r["namespace"] == NS)

    want, got = bookinfo(sidecar), bookinfo(ambient)
    assert got["rps_served"] > 0
    assert got["rps_served"] == pytest.approx(want["rps_served"], rel=0.02)
    assert got["rps_in"] == pytest.approx(want["rps_in"], rel=0.02)
