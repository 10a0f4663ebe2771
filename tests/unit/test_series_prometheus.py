"""The range-query collector without a Prometheus: query text, parsing, failures."""

from __future__ import annotations

import re

import pytest

from collectors.prometheus_series import (
    PrometheusSeries,
    parse_buckets,
    parse_requests,
    parse_services,
    parse_tcp,
    series_telemetry,
    view_queries,
)
from mesh.errors import BackendDataError, BackendUnavailable, BadRequest
from mesh.series import SeriesQuery, Target, series_query
from tests.conftest import free_port

AT = 1_795_881_075.0


def test_six_queries_whatever_the_target_each_split_by_version():
    for target, name in ((Target.SERVICE, "reviews"), (Target.WORKLOAD, "reviews-v2")):
        texts = view_queries(series_query("bookinfo", name, target, 1800, AT))
        assert len(texts) == 6
        assert "by (destination_canonical_revision," in texts["inbound"]
        assert "by (source_canonical_revision,destination_service_namespace" in texts["outbound"]
        assert all("[1m]" in t for t in texts.values())


def test_reporters_follow_design():
    texts = view_queries(series_query("bookinfo", "reviews", Target.SERVICE, 1800, AT))
    inbound = texts["inbound"]
    # Source reporter, plus unknown callers only from the destination reporter.
    assert 'reporter="source",destination_service_namespace="bookinfo"' in inbound
    assert 'reporter="destination",source_workload="unknown"' in inbound
    # Known callers from the destination sidecar only where no caller's report covers the pair
    # (an ambient caller), and the waypoint's only where no sidecar reported it (issue 21).
    pair = "unless on (source_workload_namespace,source_workload,destination_workload_namespace,"
    assert inbound.count(pair) == 2
    assert 'reporter="destination",source_workload!="unknown"' in inbound
    assert 'reporter="waypoint"' in inbound
    # Per-cluster endpoints cannot compare reports kept in two servers: the old two parts.
    tagged = view_queries(series_query("bookinfo", "reviews", Target.SERVICE, 1800, AT), True)
    assert tagged["inbound"].count("istio_requests_total") == 2
    # Latency: destination side first (sidecar or waypoint), the source only where missing.
    buckets = texts["inbound_buckets"]
    assert buckets.index('reporter=~"destination|waypoint"') < buckets.index(" or ")
    assert buckets.index(" or ") < buckets.index('reporter="source"')
    # TCP named from the caller: received_bytes (what the server got) is "sent".
    tcp = texts["inbound_tcp"]
    assert re.search(r"istio_tcp_received_bytes_total.*\"direction\", \"sent\"", tcp)


def test_workload_target_selects_by_workload_labels():
    texts = view_queries(series_query("bookinfo", "reviews-v2", Target.WORKLOAD, 300, AT))
    assert 'destination_workload="reviews-v2"' in texts["inbound"]
    assert 'source_workload="reviews-v2"' in texts["outbound"]


def test_a_workload_s_inbound_families_name_the_service_it_was_addressed_to():
    served = "destination_service_name,destination_canonical_service"
    wl = view_queries(series_query("bookinfo", "reviews-v2", Target.WORKLOAD, 300, AT))
    assert served in wl["inbound"] and served in wl["inbound_tcp"]
    # A service's name is its selector: its queries stay as they were.
    svc = view_queries(series_query("bookinfo", "reviews", Target.SERVICE, 300, AT))
    assert all("destination_canonical_service" not in t for t in svc.values())


def test_names_are_validated_before_any_query_text_exists():
    bad = SeriesQuery("bookinfo", 'x"} or vector(1) #', Target.SERVICE, 0, 60, 1, 60)
    with pytest.raises(BadRequest):
        view_queries(bad)


def _sample(labels, values):
    return {"metric": labels, "values": [[t, str(v)] for t, v in values]}


def test_parsing_keeps_labels_and_points():
    reqs = parse_requests(
        [
            _sample(
                {
                    "source_canonical_revision": "v2",
                    "destination_service_namespace": "bookinfo",
                    "destination_service_name": "ratings",
                    "request_protocol": "http",
                    "response_code": "503",
                },
                [(100, 0.5), (110, 0.25)],
            )
        ],
        outbound=True,
    )
    assert reqs[0].version == "v2" and reqs[0].destination == "bookinfo/ratings"
    assert reqs[0].points == ((100.0, 0.5), (110.0, 0.25)) and reqs[0].grpc_status == ""
    buckets = parse_buckets([_sample({"destination_canonical_revision": "v1", "le": "+Inf"}, [])])
    assert buckets[0].le == float("inf") and buckets[0].version == "v1"
    tcp = parse_tcp(
        [
            _sample({"direction": "sent", "destination_canonical_revision": "v1"}, [(1, 10)]),
            _sample({"direction": "received", "destination_canonical_revision": "v1"}, [(1, 30)]),
        ]
    )
    assert tcp[0].sent == ((1.0, 10.0),) and tcp[0].received == ((1.0, 30.0),)


@pytest.mark.parametrize(
    "sample",
    [
        {"metric": {}, "values": [[1, "NaN"]]},
        {"metric": {}, "values": [[1, "+Inf"]]},
        {"metric": {}},
        {"values": [[1, "1"]]},
    ],
)
def test_unusable_payloads_are_data_errors(sample):
    with pytest.raises(BackendDataError):
        parse_requests([sample])


def test_a_backend_that_is_down_is_backend_unavailable():
    source = PrometheusSeries(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(BackendUnavailable) as err:
        source.series_telemetry(series_query("bookinfo", "reviews", Target.SERVICE, 300, AT))
    assert "connection refused" in str(err.value)


def _served(service: str, canonical: str, version: str = "v2", code: str = "200") -> dict:
    labels = {
        "destination_canonical_revision": version,
        "destination_service_name": service,
        "destination_canonical_service": canonical,
        "request_protocol": "http",
        "response_code": code,
    }
    return _sample(labels, [(100, 1.0), (115, 2.0)])


def test_a_workload_answering_under_reviews_is_served_as_reviews():
    inbound = [_served("reviews", "reviews"), _served("reviews", "reviews", code="503")]
    assert parse_services(inbound) == ("reviews",)


def test_the_service_name_wins_and_the_canonical_service_is_only_a_fallback():
    # The app label differs from the Service name: routing (and the audit log) use the Service.
    assert parse_services([_served("reviews", "reviews-app")]) == ("reviews",)
    # Istio could not name the service (a call by pod IP): the canonical service stands in.
    assert parse_services([_served("unknown", "reviews"), _served("", "reviews")]) == ("reviews",)
    assert parse_services([_served("unknown", "unknown")]) == ()
    # Two services selecting the same pods, sorted; TCP samples count too.
    tcp = _sample({"direction": "sent", "destination_service_name": "reviews-tcp"}, [(1, 5)])
    assert parse_services([_served("reviews", "reviews")], [tcp]) == ("reviews", "reviews-tcp")


def test_tcp_samples_split_by_service_are_summed_per_version_not_overwritten():
    tcp = parse_tcp(
        [
            _sample(
                {
                    "direction": "sent",
                    "destination_canonical_revision": "v1",
                    "destination_service_name": name,
                },
                [(1, bps), (2, bps)],
            )
            for name, bps in (("a", 10), ("b", 5))
        ]
    )
    assert len(tcp) == 1 and tcp[0].sent == ((1.0, 15.0), (2.0, 15.0))


def test_series_telemetry_carries_a_workload_s_services_from_its_six_queries():
    sent: list[str] = []

    def query_range(text: str, start: float, end: float, step_s: int) -> list:
        sent.append(text)
        if text.startswith("sum by (destination_canonical_revision,destination_service_name"):
            return [_served("reviews", "reviews")]
        return []

    q = series_query("bookinfo", "reviews-v2", Target.WORKLOAD, 300, AT)
    tel = series_telemetry(q, query_range, tagged=False)
    assert tel.services == ("reviews",) and tel.queries_sent == len(sent) == 6
    assert sum(v for r in tel.inbound for _, v in r.points) == 3.0
    svc = series_query("bookinfo", "reviews", Target.SERVICE, 300, AT)
    assert series_telemetry(svc, query_range, tagged=False).services == ()
