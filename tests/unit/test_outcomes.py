"""The one error rule (DESIGN.md): 5xx and 0 are errors, gRPC 1-16 even under HTTP 200, 4xx apart.

The graph, the history charts, the inventory and the canary all count through it, so a label
value reads the same everywhere.
"""

from __future__ import annotations

import pytest

from mesh.canary.records import CanaryQuery, CanaryTelemetry, OutcomeCount, version_figures
from mesh.outcomes import CLIENT_ERROR, ERROR, OK, classify


@pytest.mark.parametrize(
    ("code", "grpc", "outcome"),
    [
        ("200", "", OK),
        ("204", "", OK),
        ("302", "", OK),
        ("404", "", CLIENT_ERROR),
        ("429", "", CLIENT_ERROR),
        ("499", "", CLIENT_ERROR),
        ("500", "", ERROR),
        ("503", "", ERROR),
        ("599", "", ERROR),
        ("600", "", OK),  # beyond 5xx: not a server error
        ("0", "", ERROR),  # no response at all: reset, timeout, no upstream
        ("000", "", ERROR),  # still zero
        ("200", "0", OK),  # gRPC OK
        ("200", "14", ERROR),  # gRPC UNAVAILABLE under HTTP 200 is still an error
        ("200", "1", ERROR),
        ("200", "16", ERROR),
        ("200", "17", OK),  # not a gRPC status code
        ("404", "5", ERROR),  # a gRPC error wins over the HTTP class
        ("503", "0", ERROR),  # gRPC OK does not hide an HTTP 5xx
        ("", "", OK),
        ("-", "", OK),  # the label Istio writes when there is no value
        ("-", "-", OK),
        ("5xx", "", OK),  # a class name, not a code
        ("5ab", "", OK),
        (" 503", "", ERROR),  # blanks around a label value are ignored ...
        ("503 ", " ", ERROR),
        ("\t0\n", "", ERROR),
        (" 404 ", "", CLIENT_ERROR),
        ("200", " 14 ", ERROR),  # ... on the gRPC status too
        ("200", "-1", OK),
        ("٥٠٣", "", OK),  # digits that are not ASCII are no HTTP code (and must not raise)
        ("²", "", OK),
        ("200", "¹", OK),
    ],
)
def test_classify(code, grpc, outcome):
    assert classify(code, grpc) == outcome


def test_grpc_status_is_optional():
    assert classify("503") == ERROR and classify("200") == OK


def test_canary_figures_count_through_the_same_rule():
    """The canary once had its own classifier that did not strip blanks: a " 503" counted as a
    success there and as an error on the graph."""
    query = CanaryQuery("shop", "cart", "v1", "v2", 600, 1_700_000_000.0)
    rows = (
        OutcomeCount("v2", "200", "", 80.0),
        OutcomeCount("v2", " 503", "", 5.0),
        OutcomeCount("v2", "0", "", 3.0),
        OutcomeCount("v2", "200", " 14", 2.0),
        OutcomeCount("v2", "404 ", "", 7.0),
        OutcomeCount("v2", "-", "", 3.0),
    )
    figures = version_figures(CanaryTelemetry(query, outcomes=rows), "v2")
    assert figures.requests == 100.0
    assert figures.errors == 10.0
    assert figures.client_errors == 7.0
    assert figures.error_rate == pytest.approx(0.10)
