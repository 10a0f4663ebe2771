"""Issue 17 under the production server: gunicorn with gunicorn.conf.py and deploy/'s worker
and thread counts, while every backend hangs (Prometheus, Jaeger, Kubernetes and Redis all
accept connections and then say nothing, or trickle).

- /healthz and /readyz answer within a second while a crowd of requests waits on the backends
  (finding 2: before, six such requests left /healthz unanswered for minutes);
- a 300 MB POST to /_dash-update-component is a 413 and leaves the workers' memory alone (3);
- an identity header sent twice is a 400 (1).
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import REPO, free_port
from tests.faultservers import kubeconfig
from tests.gunicorn_run import clean_env, running_gunicorn
from tests.hostile import HostileServer, hang, trickle_body

CONFIGMAP = REPO / "deploy" / "base" / "configmap.yaml"


class SilentRedis:
    """Accepts connections and never answers: a hung Redis."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def _rss_kb(pid: int) -> int:
    total = 0
    for child in [pid, *_children(pid)]:
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.fixture(scope="module")
def hung(tmp_path_factory):
    """gunicorn as deploy/ configures it, in front of backends that all hang."""
    deploy = yaml.safe_load(CONFIGMAP.read_text())["data"]
    logs = tmp_path_factory.mktemp("gunicorn-hung")
    prom, jaeger, kube = (
        HostileServer(trickle_body(2.0)),
        HostileServer(hang()),
        HostileServer(hang()),
    )
    redis = SilentRedis()
    port = free_port()
    env = clean_env(
        MESHDASH_BIND=f"127.0.0.1:{port}",
        MESHDASH_WORKERS=deploy["MESHDASH_WORKERS"],
        MESHDASH_THREADS=deploy["MESHDASH_THREADS"],
        MESHDASH_PROMETHEUS_TIMEOUT_S=deploy["MESHDASH_PROMETHEUS_TIMEOUT_S"],
        MESHDASH_JAEGER_TIMEOUT_S=deploy["MESHDASH_JAEGER_TIMEOUT_S"],
        MESHDASH_KUBE_TIMEOUT_S=deploy["MESHDASH_KUBE_TIMEOUT_S"],
        MESHDASH_PROMETHEUS_URL=prom.url,
        MESHDASH_JAEGER_URL=jaeger.url,
        MESHDASH_KUBE_ENABLED="true",
        MESHDASH_CACHE_REDIS_URL=f"redis://127.0.0.1:{redis.port}/0",
        MESHDASH_TRUSTED_PROXY="true",
        MESHDASH_MAX_REQUEST_BYTES="1048576",
        KUBECONFIG=str(kubeconfig(logs / "kubeconfig", kube.url)),
        TMPDIR=str(logs),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with running_gunicorn(env, url, logs) as proc:
            time.sleep(2)  # both workers up
            yield url, proc
    finally:
        for server in (prom, jaeger, kube):
            server.close()
        redis.close()


def test_probes_answer_within_a_second_while_every_backend_hangs(hung):
    url, _ = hung
    crowd = [
        "/api/graph?namespace=bookinfo",
        "/api/traces?namespace=bookinfo&service=reviews",
        "/api/routes?namespace=bookinfo",
    ]
    statuses: list[int] = []
    odd: list[str] = []  # what a request that did not fail cleanly answered, for the message

    def wait_on_backend(i: int) -> None:
        try:
            r = requests.get(url + crowd[i % 3] + f"&at={1767225600 - 15 * i}", timeout=60)
            statuses.append(r.status_code)
            if r.status_code not in (429, 502, 503, 504):
                odd.append(f"{crowd[i % 3]} -> {r.status_code} {r.text[:300]}")
        except requests.RequestException as exc:
            statuses.append(0)
            odd.append(f"{crowd[i % 3]} -> {exc!r}")

    with ThreadPoolExecutor(max_workers=12) as pool:
        for i in range(12):
            pool.submit(wait_on_backend, i)
        time.sleep(1.5)  # the crowd is now waiting on the backends
        for _ in range(5):
            for path in ("/healthz", "/readyz"):
                started = time.monotonic()
                r = requests.get(url + path, timeout=5)
                took = time.monotonic() - started
                assert took < 1.0, f"{path} took {took:.2f}s"
                assert r.status_code == (200 if path == "/healthz" else 503)
            time.sleep(0.3)
    assert 0 not in statuses and all(s in (429, 502, 503, 504) for s in statuses), (statuses, odd)


def _stream_post(url: str, total: int) -> tuple[int, str]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(
            (
                "POST /_dash-update-component HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/json\r\nContent-Length: {total}\r\n\r\n"
            ).encode()
        )
        chunk = b" " * (1 << 20)
        sent = 0
        try:
            while sent < total:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:  # the server answered and closed: the rest is never read
            pass
        s.settimeout(10)
        data = b""
        try:
            while part := s.recv(65536):
                data += part
        except OSError:
            pass
    head = data.split(b"\r\n", 1)[0].decode() if data else ""
    return (int(head.split()[1]) if head else 0), data.decode(errors="replace")


def test_a_300_mb_body_is_a_413_and_costs_no_memory(hung):
    url, proc = hung
    before = _rss_kb(proc.pid)
    status, text = _stream_post(url, 300 * 1024 * 1024)
    assert status == 413, text[:300]
    assert "MESHDASH_MAX_REQUEST_BYTES" in text
    assert _rss_kb(proc.pid) - before < 50 * 1024  # KiB: not the 300 MB body
    assert requests.get(url + "/healthz", timeout=2).status_code == 200


def test_a_repeated_group_header_is_a_400_under_gunicorn(hung):
    url, _ = hung
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"X-Forwarded-User: alice\r\nX-Forwarded-Groups: viewers\r\n"
            b"X-Forwarded-Groups: release-managers\r\n\r\n"
        )
        data = b""
        while part := s.recv(65536):
            data += part
    assert data.startswith(b"HTTP/1.1 400"), data[:200]
    assert b"X-Forwarded-Groups" in data
