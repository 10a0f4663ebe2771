"""The shared cache on a real redis-server (Debian package redis-server, started per test): two
gunicorn-style workers sharing it make one backend call, and its readiness and cached errors are
shared. The in-process cache's rules are in tests/unit/test_cache.py.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest

from collectors.cache import (
    CachedTelemetry,
)
from mesh.errors import BackendTimeout
from mesh.telemetry_records import GraphTelemetry
from tests.conftest import free_port
from tests.unit.test_cache import T0, StubTelemetry, q, worker_cache


# --- several workers sharing one Redis ------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_url():
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is absent (Debian package redis-server; `make test-deps`)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def test_workers_sharing_redis_make_one_backend_call(redis_url):
    inner = StubTelemetry(gate=threading.Event())  # stands for the one Prometheus both query
    workers = [CachedTelemetry(inner, worker_cache(redis_url)) for _ in range(2)]
    query = q(T0 + 15 * 1000)  # a key no other test uses
    results: list[GraphTelemetry] = []
    threads = [
        threading.Thread(target=lambda w=w: results.append(w.graph_telemetry(query)))
        for w in workers
        for _ in range(5)
    ]
    for t in threads:
        t.start()
    time.sleep(0.3)
    inner.gate.set()
    for t in threads:
        t.join(15)
    assert len(inner.calls) == 1
    assert len(results) == 10 and all(r == results[0] for r in results)


def test_redis_cache_reports_ready_and_shares_errors(redis_url):
    cache = worker_cache(redis_url)
    ready = cache.ready()
    assert ready["ok"] is True and ready["version"]
    inner = StubTelemetry(fail=BackendTimeout("prometheus", "no answer within 10s"))
    query = q(T0 + 15 * 2000)
    with pytest.raises(BackendTimeout):
        CachedTelemetry(inner, cache).graph_telemetry(query)
    with pytest.raises(BackendTimeout) as err:  # another worker, within the error TTL
        CachedTelemetry(inner, worker_cache(redis_url)).graph_telemetry(query)
    assert err.value.cause == "no answer within 10s"
    assert len(inner.calls) == 1
