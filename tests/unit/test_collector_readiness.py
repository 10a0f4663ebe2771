"""The strict wire rules behind the fault matrix, without a server: partial Prometheus answers,
NaN/Infinity in JSON, a refused connection. ready() against servers:
tests/integration/test_collector_readiness.py.
"""

from __future__ import annotations

import math

import pytest

from collectors.kube import KubeRouteStore
from collectors.prometheus import PrometheusCollector, error_for_response, partial_warning
from collectors.strict_json import NotFiniteError, loads_strict
from mesh.errors import BackendDataError, BackendQueryError
from tests.conftest import free_port


def store(url: str, **kw) -> KubeRouteStore:
    return KubeRouteStore.for_host(url, audit=None, timeout_s=1, ready_namespace="bookinfo", **kw)


def test_prometheus_ready_names_a_refused_connection():
    url = f"http://127.0.0.1:{free_port()}"
    answer = PrometheusCollector(url, timeout_s=1).ready()
    assert answer == {
        "ok": False,
        "detail": f"cannot reach {url}: connection refused",
        "version": None,
        "reachable": False,
        "authenticated": None,
    }


def test_partial_prometheus_answers_are_errors_not_numbers():
    body = (
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":'
        b'{"warnings":"a label, not the field"},"value":[1,"2"]}]},'
        b'"warnings":["partial response: store 10.0.0.7:10901 is unreachable","second"]}'
    )
    assert partial_warning(body) == "partial response: store 10.0.0.7:10901 is unreachable"
    error = error_for_response(200, body)
    assert isinstance(error, BackendDataError)
    assert error.cause == "partial answer: partial response: store 10.0.0.7:10901 is unreachable"
    whole = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"warnings":"x"},"value":[1,"2"]}]}}'
    assert partial_warning(whole) is None and error_for_response(200, whole) is None
    assert partial_warning(b'{"status":"success","data":{},"warnings":[]}') is None
    assert isinstance(error_for_response(500, b'{"status":"error"}'), BackendQueryError)


@pytest.mark.parametrize(
    "text", ['{"w": NaN}', '{"w": Infinity}', '{"w": -Infinity}', '{"w": 1e999}']
)
def test_loads_strict_refuses_what_json_has_no_word_for(text):
    with pytest.raises(NotFiniteError):
        loads_strict(text)


def test_loads_strict_reads_ordinary_json():
    assert loads_strict(b'{"a": [1, 2.5, -3e2, "NaN"], "b": null}') == {
        "a": [1, 2.5, -300.0, "NaN"],
        "b": None,
    }
    assert math.isclose(loads_strict("1.7976931348623157e308"), 1.7976931348623157e308)
