"""Issue 17, findings 2, 4, 5, 7, 9 (backend side) and 10: hostile or broken backends.

Every case runs against a real loopback server that misbehaves on purpose (tests/hostile.py):
it trickles one byte at a time, answers 200,000 series, nests JSON ten thousand deep, answers a
login page, or forbids listing Argo Rollouts (tests/kubeserver.py's RBAC refusal).
"""

from __future__ import annotations

import json
import threading
import time
from typing import BinaryIO

import pytest

from app import create_app
from collectors.audit_log import AuditLog
from collectors.http import AnswerTooLarge, BackendSession, build_session
from collectors.jaeger import JaegerCollector
from collectors.kube import KubeRouteStore
from collectors.prometheus import PrometheusCollector
from mesh.errors import BackendTimeout
from tests.hostile import (
    HostileServer,
    body,
    chunked,
    hang,
    many_series_vector,
    trickle_body,
    trickle_headers,
)
from tests.kubeserver import FakeKube
from wiring.settings import Settings

SLACK_S = 0.6  # thread start-up and the error path, on a shared two-core machine


def _elapsed(fn) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:  # the test asserts on the kind
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


# --- 2: whole-request deadlines, however the server trickles -----------------------------------


@pytest.mark.parametrize("trickle", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_prometheus_query_ends_at_its_timeout_while_the_server_trickles(trickle):
    with HostileServer(trickle(0.2)) as srv:
        prom = PrometheusCollector(srv.url, timeout_s=1.0)
        took, exc = _elapsed(lambda: prom.query("up", 1767225600))
    assert isinstance(exc, BackendTimeout), exc
    assert took < 1.0 + SLACK_S


@pytest.mark.parametrize("trickle", [trickle_body, trickle_headers], ids=["body", "headers"])
def test_jaeger_search_ends_at_its_timeout_while_the_server_trickles(trickle):
    with HostileServer(trickle(0.2)) as srv:
        jaeger = JaegerCollector(srv.url, timeout_s=1.0, api="v1")
        took, exc = _elapsed(jaeger.services)
    assert isinstance(exc, BackendTimeout), exc
    assert took < 1.0 + SLACK_S


def test_callers_of_a_hung_jaeger_share_one_api_detection_and_its_deadline():
    """Searches and /readyz checks arriving while Jaeger's API is being detected take that
    detection's outcome: each ends at one timeout, and Jaeger is asked once. (They used to
    queue for a detection each, one timeout apiece: a search waited a minute under gunicorn.)"""
    with HostileServer(hang()) as srv:
        jaeger = JaegerCollector(srv.url, timeout_s=1.0)
        together = threading.Barrier(6)
        results: list[tuple[float, BaseException | None]] = []

        def call() -> None:
            together.wait()
            results.append(_elapsed(jaeger.services))

        threads = [threading.Thread(target=call) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        asked = list(srv.requests)
    assert [type(exc) for _, exc in results] == [BackendTimeout] * 6, results
    assert max(took for took, _ in results) < 1.0 + SLACK_S, results
    assert asked == ["/api/v3/services"]


def test_jaeger_api_detection_has_one_timeout_for_both_of_its_probes():
    def v3_missing_v1_hung(path: str, w: BinaryIO) -> None:
        if path.startswith("/api/v3/"):
            time.sleep(0.8)
            w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        time.sleep(120)

    with HostileServer(v3_missing_v1_hung) as srv:
        jaeger = JaegerCollector(srv.url, timeout_s=1.0)
        took, exc = _elapsed(jaeger.services)
    assert isinstance(exc, BackendTimeout), exc
    assert took < 1.0 + SLACK_S
    assert srv.requests == ["/api/v3/services", "/api/services"]


def test_kubernetes_call_ends_at_its_timeout_while_the_server_trickles(tmp_path):
    with HostileServer(trickle_body(0.2)) as srv:
        store = KubeRouteStore.for_host(srv.url, audit=AuditLog(tmp_path / "a"), timeout_s=1.0)
        took, exc = _elapsed(lambda: store.list_services("bookinfo"))
    assert isinstance(exc, BackendTimeout), exc
    assert took < 1.0 + SLACK_S


def test_the_api_answers_504_within_the_timeout_while_prometheus_trickles():
    with HostileServer(trickle_body(0.2)) as srv:
        client = create_app(Settings(prometheus_url=srv.url, prometheus_timeout_s=1.0))
        started = time.monotonic()
        r = client.server.test_client().get("/api/graph?namespace=bookinfo")
        took = time.monotonic() - started
    assert r.status_code == 504
    assert r.get_json()["backend"] == "prometheus"
    assert took < 1.0 + SLACK_S


# --- 4: answer size limits ---------------------------------------------------------------------


def test_a_200000_series_answer_is_a_502_naming_the_limit_and_its_setting():
    with HostileServer(chunked(lambda: many_series_vector(200_000))) as srv:
        app = create_app(Settings(prometheus_url=srv.url, prometheus_max_series=50_000))
        r = app.server.test_client().get("/api/graph?namespace=bookinfo")
    assert r.status_code == 502
    error = r.get_json()["error"]
    assert "50,000 series" in error and "MESHDASH_PROMETHEUS_MAX_SERIES" in error


def test_an_answer_over_the_byte_limit_is_refused_while_it_streams():
    settings = Settings(prometheus_url="http://unused", prometheus_max_response_bytes=1_000_000)
    with HostileServer(chunked(lambda: many_series_vector(200_000, labels=6))) as srv:
        session = build_session(settings, "prometheus")
        prom = PrometheusCollector(srv.url, timeout_s=20, session=session)
        with pytest.raises(AnswerTooLarge) as caught:
            prom.query("up", 1767225600)
    assert caught.value.status == 502
    assert "1,000,000 bytes" in caught.value.cause
    assert "MESHDASH_PROMETHEUS_MAX_RESPONSE_BYTES" in caught.value.cause


def test_a_graph_answer_over_the_byte_limit_is_a_502_while_it_streams():
    # The graph's queries decode their answers as they arrive: the cap still holds there.
    with HostileServer(chunked(lambda: many_series_vector(200_000, labels=6))) as srv:
        settings = Settings(prometheus_url=srv.url, prometheus_max_response_bytes=1_000_000)
        app = create_app(settings)
        r = app.server.test_client().get("/api/graph?namespace=bookinfo")
    assert r.status_code == 502
    error = r.get_json()["error"]
    assert "1,000,000 bytes" in error and "MESHDASH_PROMETHEUS_MAX_RESPONSE_BYTES" in error


def test_a_declared_content_length_over_the_limit_is_refused_before_reading():
    with HostileServer(body(b" " * 4096)) as srv:
        session = BackendSession("jaeger", max_response_bytes=1024)
        with pytest.raises(AnswerTooLarge) as caught:
            session.get(srv.url + "/api/services", timeout=5)
    assert "MESHDASH_JAEGER_MAX_RESPONSE_BYTES" in caught.value.cause


def _v1_trace(spans: int) -> bytes:
    tid = "a" * 32
    rows = [
        {
            "traceID": tid,
            "spanID": f"{i + 1:016x}",
            "operationName": "op",
            "references": [],
            "startTime": 1767225600000000 + i,
            "duration": 10,
            "tags": [],
            "processID": "p1",
        }
        for i in range(spans)
    ]
    data = {"traceID": tid, "spans": rows, "processes": {"p1": {"serviceName": "a.bookinfo"}}}
    return json.dumps({"data": [data], "errors": None}).encode()


def test_a_trace_over_the_span_limit_is_a_502_naming_the_setting():
    with HostileServer(body(_v1_trace(300))) as srv:
        jaeger = JaegerCollector(srv.url, timeout_s=5, api="v1", max_spans=200)
        with pytest.raises(AnswerTooLarge) as caught:
            jaeger.get_trace("a" * 32)
    assert "200 spans" in caught.value.cause and "MESHDASH_JAEGER_MAX_SPANS" in caught.value.cause


# --- 9: deeply nested JSON is a 502, not a 500 -------------------------------------------------


def test_deeply_nested_json_from_prometheus_is_a_502():
    nested = b'{"status":"success","data":{"resultType":"vector","result":' + b"[" * 100_000
    with HostileServer(body(nested + b"]" * 100_000 + b"}}")) as srv:
        r = (
            create_app(Settings(prometheus_url=srv.url))
            .server.test_client()
            .get("/api/graph?namespace=bookinfo")
        )
    assert r.status_code == 502
    assert r.get_json()["backend"] == "prometheus"


def test_deeply_nested_json_from_jaeger_is_a_data_error():
    with HostileServer(body(b'{"data":' + b"[" * 100_000 + b"]" * 100_000 + b"}")) as srv:
        r = JaegerCollector(srv.url, timeout_s=5, api="v1")
        with pytest.raises(Exception) as caught:
            r.get_trace("a" * 32)
    assert type(caught.value).__name__ == "BackendDataError"


# --- 10: readiness sees an answer that is not the Prometheus API ------------------------------


def test_readyz_is_not_ready_when_prometheus_answers_a_login_page():
    page = b"<html><body><form action=/login>Sign in</form></body></html>"
    with HostileServer(body(page, content_type="text/html")) as srv:
        r = create_app(Settings(prometheus_url=srv.url)).server.test_client().get("/readyz")
    assert r.status_code == 503
    report = r.get_json()["backends"]["prometheus"]
    assert report["ok"] is False
    assert "not the Prometheus API" in report["detail"] or "other than" in report["detail"]


def test_readyz_is_not_ready_when_prometheus_answers_json_of_another_shape():
    with HostileServer(body(b'{"hello": "world"}')) as srv:
        r = create_app(Settings(prometheus_url=srv.url)).server.test_client().get("/readyz")
    assert r.status_code == 503


# --- 7: ownership fails closed ---------------------------------------------------------------


def test_forbidden_rollout_listing_leaves_the_route_read_only_with_the_reason(tmp_path):
    from mesh.errors import Forbidden
    from tests.integration.test_kube_store import ALICE, seed, services_for
    from views.routes import change_route, route_detail

    served = {"networking.istio.io": ("v1",), "argoproj.io": ("v1alpha1",)}
    with FakeKube(served=served, forbidden={"rollouts.argoproj.io"}) as kube:
        seed(kube, "virtual-service-reviews-80-20.yaml", "destination-rule-reviews.yaml")
        store = KubeRouteStore.for_host(kube.url, audit=AuditLog(tmp_path / "a"), timeout_s=5)
        svc = services_for(store)
        detail = route_detail(svc, "bookinfo", "reviews", ALICE)
        assert detail["writable"] is False
        assert "rollouts.argoproj.io" in detail["why_not"]
        assert "may not list" in detail["why_not"]
        payload = {"action": "set_weights", "weights": {"v1": 50, "v2": 50}}
        with pytest.raises(Forbidden) as caught:
            change_route(svc, "bookinfo", "reviews", payload, ALICE)
        assert "rollouts.argoproj.io" in str(caught.value)
        assert kube.writes() == []
