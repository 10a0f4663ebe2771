"""PrometheusCollector without a server: URLs refused up front, credentials never shown, a
refused connection, and how per-cluster answers merge. Against a tiny HTTP server answering
like Prometheus: tests/integration/test_prometheus_collector.py.
"""

from __future__ import annotations

import socket
import time

import pytest

from collectors.prometheus import PrometheusCollector, safe_url
from mesh.errors import (
    BackendUnavailable,
    BadRequest,
)
from mesh.telemetry_records import GraphQuery, GraphView

AT = 1_795_881_075.0
SECRET = "s3cr3t-token-value"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(view=GraphView.WORKLOAD, namespaces=("bookinfo",)) -> GraphQuery:
    return GraphQuery(tuple(namespaces), view, 300, AT)


# --------------------------------------------------------------------------------- failures


def test_connection_refused_is_backend_unavailable():
    url = f"http://user:{SECRET}@127.0.0.1:{closed_port()}"
    collector = PrometheusCollector(url, timeout_s=2.0, headers={"Authorization": SECRET})
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as err:
        collector.graph_telemetry(query())
    assert time.monotonic() - started < 1.5  # no retry with back-off
    assert err.value.backend == "prometheus"
    assert "connection refused" in str(err.value)
    assert SECRET not in str(err.value)
    assert "127.0.0.1" in str(err.value)


@pytest.mark.parametrize("url", ["", "127.0.0.1:9090", "ftp://host", "http://"])
def test_bad_urls_are_refused_up_front(url):
    with pytest.raises(BadRequest):
        PrometheusCollector(url)


def test_safe_url_drops_credentials_and_query():
    assert (
        safe_url(f"https://user:{SECRET}@prom.example:9090/prom?token={SECRET}")
        == "https://prom.example:9090/prom"
    )


def test_repr_hides_credentials():
    assert SECRET not in repr(PrometheusCollector(f"http://u:{SECRET}@h:9090"))


def test_merge_results_adds_clusters_and_prefers_the_destination_reporter_per_step():
    """Two clusters' answers to a tagged bucket query: east holds the source side of a call,
    west its destination side for the first step only. The merge chooses as `or` would in one
    Prometheus holding both: the destination where present at that step, else the source."""
    from collectors.prometheus import REPORTER_TAG
    from collectors.prometheus_clusters import merge_results

    le = {"destination_canonical_revision": "v2", "le": "100"}
    east = [{"metric": {**le, REPORTER_TAG: "source"}, "values": [[10, "4"], [20, "5"]]}]
    west = [
        {"metric": {**le, REPORTER_TAG: "destination"}, "values": [[10, "3"]]},
        {"metric": {"destination_canonical_revision": "v1"}, "values": [[10, "1"], [20, "2"]]},
    ]
    also_v1 = [{"metric": {"destination_canonical_revision": "v1"}, "values": [[20, "0.5"]]}]
    merged = {
        frozenset(s["metric"].items()): s["values"]
        for s in merge_results([east, west, also_v1], matrix=True)
    }
    assert merged[frozenset(le.items())] == [[10.0, "3.0"], [20.0, "5.0"]]
    assert merged[frozenset({"destination_canonical_revision": "v1"}.items())] == [
        [10.0, "1.0"],
        [20.0, "2.5"],
    ]
    vector = merge_results(
        [[{"metric": {"a": "1"}, "value": [7, "2"]}], [{"metric": {"a": "1"}, "value": [7, "3"]}]],
        matrix=False,
    )
    assert vector == [{"metric": {"a": "1"}, "value": [7.0, "5.0"]}]
