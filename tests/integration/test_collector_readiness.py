"""ready() of each collector (what /readyz reports), and the strict wire rules behind the fault
matrix: partial Prometheus answers, NaN/Infinity in JSON, answers cut short."""

from __future__ import annotations

import pytest

from collectors.prometheus import PrometheusCollector
from mesh.errors import BackendDataError
from tests.conftest import free_port
from tests.faultservers import FaultProxy, poison_kube
from tests.kubeserver import VERSION, FakeKube
from tests.unit.test_collector_readiness import store

VS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews"},
    "spec": {
        "hosts": ["reviews"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10},
                ]
            }
        ],
    },
}


@pytest.fixture
def kube():
    server = FakeKube()
    server.start()
    server.add(VS)
    yield server
    server.stop()


def test_kube_ready_reports_the_server_version_and_a_cheap_list(kube):
    answer = store(kube.url).ready()
    assert answer == {
        "ok": True,
        "detail": "can list VirtualServices in bookinfo",
        "version": VERSION["gitVersion"],
        "reachable": True,
        "authenticated": True,
    }
    listed = [r for r in kube.requests if r.path.endswith("/virtualservices")]
    assert listed and listed[-1].query.get("limit") == ["1"]  # never the whole namespace


def test_kube_ready_names_a_cluster_without_istio():
    server = FakeKube(served={})
    server.start()
    try:
        answer = store(server.url).ready()
    finally:
        server.stop()
    assert answer["ok"] is False
    assert "is Istio installed" in answer["detail"]
    assert answer["version"] == VERSION["gitVersion"]  # the API server itself answered
    assert answer["reachable"] is True


def test_kube_ready_refused_unauthorized_and_hanging(kube):
    url = f"http://127.0.0.1:{free_port()}"
    assert store(url).ready() == {
        "ok": False,
        "detail": f"cannot reach {url}: connection refused",
        "version": None,
        "reachable": False,
        "authenticated": None,
    }
    with FaultProxy(kube.url, poison_kube, hang_s=2) as proxy:
        proxy.mode = "401"
        assert store(proxy.url).ready() == {
            "ok": False,
            "detail": "Unauthorized",
            "version": None,
            "reachable": True,
            "authenticated": False,
        }
        proxy.mode = "500"
        answer = store(proxy.url).ready()
        assert (answer["ok"], answer["reachable"], answer["authenticated"]) == (False, True, None)
        proxy.mode = "hang"
        answer = store(proxy.url).ready()
        assert answer["ok"] is False and "no answer within 1s" in answer["detail"]
        assert answer["reachable"] is False
        proxy.stop()
        answer = store(proxy.url).ready()
        assert answer["ok"] is False and answer["detail"].endswith("connection refused")


@pytest.mark.parametrize(
    ("mode", "cause"),
    [
        ("nan", "the virtualservices answer holds non-numbers: NaN is not a JSON number"),
        ("inf", "the virtualservices answer holds non-numbers: Infinity is not a JSON number"),
        ("garbage", "the virtualservices answer is not JSON"),
        ("partial", "the answer was cut short (the connection closed mid-body)"),
    ],
)
def test_kube_reads_refuse_broken_answers(kube, mode, cause):
    """A NaN weight must not become weight 0 (nor a traceback): the page says what is wrong."""
    with FaultProxy(kube.url, poison_kube) as proxy:
        proxy.mode = mode
        with pytest.raises(BackendDataError) as info:
            store(proxy.url).list_services("bookinfo")
        assert info.value.cause == cause
        proxy.mode = "ok"
        (reviews,) = store(proxy.url).list_services("bookinfo")
        assert reviews.service == "reviews"


def test_prometheus_ready_names_refused_credentials():
    with FaultProxy("http://127.0.0.1:9", poison_kube) as proxy:
        proxy.mode = "401"
        answer = PrometheusCollector(proxy.url, timeout_s=1).ready()
    assert answer == {
        "ok": False,
        "detail": f"authentication refused by {proxy.url}",
        "version": None,
        "reachable": True,
        "authenticated": False,
    }
