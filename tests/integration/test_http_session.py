"""Backend sessions (collectors/http.py) against a real loopback HTTP server that records what
it receives: path prefix kept, tenant header, bearer token (direct and from a rotated file),
basic auth, 401/403 as BackendAuthError, Jaeger's own credentials. The settings' checks and CLI
flags are in tests/unit/test_http_session.py.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from collectors.http import BearerTokenFile, build_session
from collectors.jaeger import JaegerCollector
from mesh.errors import BackendAuthError
from tests.unit.test_http_session import prometheus
from wiring.settings import Settings

EMPTY_VECTOR = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}})
JAEGER_SERVICES = json.dumps({"data": ["productpage"], "total": 1})


class Recorder:
    """A loopback server answering like Prometheus/Jaeger and keeping each request's headers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.status = 200
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.seen.append((self.path, dict(self.headers.items())))
                body = JAEGER_SERVICES if "/api/services" in self.path else EMPTY_VECTOR
                if "/api/v3/" in self.path:
                    self.send_response(404 if recorder.status == 200 else recorder.status)
                    self.end_headers()
                    return
                self.send_response(recorder.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def last(self) -> tuple[str, dict[str, str]]:
        return self.seen[-1]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def test_path_prefix_tenant_header_and_token_reach_the_server(recorder: Recorder) -> None:
    settings = Settings(
        prometheus_url=recorder.url + "/prometheus/",
        prometheus_bearer_token="tok-123",
        prometheus_headers={"X-Scope-OrgID": "tenant-a"},
    )
    assert prometheus(settings).query("up", 1.0) == []
    path, headers = recorder.last()
    assert path.startswith("/prometheus/api/v1/query")
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["X-Scope-OrgID"] == "tenant-a"


def test_basic_auth_sends_the_user_and_password(recorder: Recorder) -> None:
    settings = Settings(
        prometheus_url=recorder.url,
        prometheus_basic_auth_user="grafana",
        prometheus_basic_auth_password="s3cret-pw",
    )
    prometheus(settings).query("up", 1.0)
    _, headers = recorder.last()
    expected = base64.b64encode(b"grafana:s3cret-pw").decode()
    assert headers["Authorization"] == f"Basic {expected}"


def _rewrite(path: Path, text: str) -> None:
    """Rewrite and move the mtime forward, as a kubelet token swap does."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text + "\n", encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_token_file_is_re_read_when_it_changes(recorder: Recorder, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    _rewrite(token_file, "first-token")
    settings = Settings(prometheus_url=recorder.url, prometheus_bearer_token_file=token_file)
    collector = prometheus(settings)
    collector.query("up", 1.0)
    assert recorder.last()[1]["Authorization"] == "Bearer first-token"
    collector.query("up", 1.0)
    assert recorder.last()[1]["Authorization"] == "Bearer first-token"
    _rewrite(token_file, "rotated-token")
    collector.query("up", 1.0)
    assert recorder.last()[1]["Authorization"] == "Bearer rotated-token"


def test_token_file_swapped_by_symlink_is_followed(recorder: Recorder, tmp_path: Path) -> None:
    """Kubernetes projected volumes point `token` at `..data/token` and swap `..data`."""
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "token").write_text("token-v1")
    (tmp_path / "v2" / "token").write_text("token-v2")
    (tmp_path / "..data").symlink_to("v1")
    (tmp_path / "token").symlink_to("..data/token")
    auth = BearerTokenFile(tmp_path / "token", "prometheus")
    assert auth.token().get_secret_value() == "token-v1"
    (tmp_path / "..data_tmp").symlink_to("v2")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    assert auth.token().get_secret_value() == "token-v2"


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_backend_auth_errors(recorder: Recorder, status: int) -> None:
    recorder.status = status
    settings = Settings(
        prometheus_url=recorder.url,
        prometheus_bearer_token="do-not-show-me",
        jaeger_url=recorder.url,
        jaeger_bearer_token="do-not-show-me",
    )
    with pytest.raises(BackendAuthError) as exc:
        prometheus(settings).query("up", 1.0)
    assert exc.value.backend == "prometheus"
    assert "authentication refused" in str(exc.value)
    assert f"HTTP {status}" in str(exc.value)
    assert "do-not-show-me" not in str(exc.value)
    jaeger = JaegerCollector(
        recorder.url, timeout_s=5, session=build_session(settings, "jaeger"), api="v1"
    )
    with pytest.raises(BackendAuthError) as jexc:
        jaeger.services()
    assert jexc.value.backend == "jaeger" and "authentication refused" in str(jexc.value)
    ready = prometheus(settings).ready()
    assert ready["ok"] is False and "authentication refused" in str(ready["detail"])


def test_jaeger_gets_its_own_credentials(recorder: Recorder) -> None:
    settings = Settings(
        prometheus_url=recorder.url,
        prometheus_bearer_token="prom-token",
        jaeger_url=recorder.url,
        jaeger_headers={"X-Scope-OrgID": "traces-tenant"},
        jaeger_basic_auth_user="u",
        jaeger_basic_auth_password="p",
    )
    jaeger = JaegerCollector(
        recorder.url, timeout_s=5, session=build_session(settings, "jaeger"), api="v1"
    )
    assert jaeger.services() == ("productpage",)
    _, headers = recorder.last()
    assert headers["X-Scope-OrgID"] == "traces-tenant"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
