"""The traffic entering the shown namespaces (mesh/graph/entering.py): only calls from outside
them count, each once, with their own error ratios; nothing entering is no ratio, not 0 %."""

from __future__ import annotations

import pytest

from mesh.graph.build import build_graph
from mesh.graph.entering import entering_summary
from mesh.telemetry_records import GraphView
from tests.unit.test_graph import (
    DETAILS,
    INGRESS,
    PRODUCTPAGE,
    RATINGS,
    REVIEWS_V1,
    REVIEWS_V2,
    UNKNOWN,
    req,
    telemetry,
)

W = GraphView.WORKLOAD
SHOP = ("shop", "frontend-v1", "frontend", "v1")
EGRESS = ("istio-system", "istio-egressgateway", "istio-egressgateway", "latest")


def mesh(namespaces=("bookinfo",)):
    return build_graph(
        telemetry(
            W,
            requests=[
                req(W, INGRESS, PRODUCTPAGE, 9.0),
                req(W, INGRESS, PRODUCTPAGE, 1.0, code="503"),
                req(W, UNKNOWN, PRODUCTPAGE, 2.0),
                req(W, UNKNOWN, PRODUCTPAGE, 0.5, code="404"),
                req(W, SHOP, REVIEWS_V1, 1.5),
                req(W, PRODUCTPAGE, REVIEWS_V1, 6.0),
                req(W, PRODUCTPAGE, REVIEWS_V2, 6.0, code="500"),
                req(W, PRODUCTPAGE, DETAILS, 12.5),
                req(W, REVIEWS_V2, RATINGS, 6.0),
                req(W, PRODUCTPAGE, EGRESS, 3.0),  # leaving: not entering
            ],
            namespaces=namespaces,
        )
    )


def test_counts_only_calls_from_outside_into_the_shown_namespaces():
    got = entering_summary(mesh(), ["bookinfo"])
    # gateway 10 + unmeshed caller 2.5 + another namespace 1.5; not the 33.5 rps inside.
    assert got["rps"] == pytest.approx(14.0)
    assert got["edges"] == 3
    assert got["error_rate"] == pytest.approx(1.0 / 14.0, abs=1e-6)  # the gateway's 503s only
    assert got["error_rate_4xx"] == pytest.approx(0.5 / 14.0, abs=1e-6)
    assert got["all_edges_rps"] == pytest.approx(47.5)
    assert got["namespaces"] == ["bookinfo"]


def test_a_namespace_shown_beside_is_inside():
    got = entering_summary(mesh(("bookinfo", "shop")), ["shop", "bookinfo"])
    assert got["rps"] == pytest.approx(12.5)  # shop -> reviews is now internal
    assert got["namespaces"] == ["bookinfo", "shop"]


def test_a_shown_gateway_is_where_traffic_enters():
    # istio-system shown: its gateway's callers are not in Istio's metrics, so what it sends
    # on into bookinfo is what entered; the egress gateway's call is internal traffic.
    got = entering_summary(mesh(("bookinfo", "istio-system")), ["bookinfo", "istio-system"])
    assert got["rps"] == pytest.approx(14.0)
    assert got["edges"] == 3


def test_nothing_entering_is_zero_rps_and_no_ratio():
    g = build_graph(telemetry(W, requests=[req(W, PRODUCTPAGE, DETAILS, 5.0)]))
    got = entering_summary(g, ["bookinfo"])
    assert got["rps"] == 0.0 and got["edges"] == 0
    assert got["error_rate"] is None and got["error_rate_4xx"] is None
    assert got["all_edges_rps"] == pytest.approx(5.0)
