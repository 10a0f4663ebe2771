"""Backend sessions (collectors/http.py) against a real loopback HTTP server that records what
it receives: path prefix kept, tenant header, bearer token (direct and from a rotated file),
basic auth, 401/403 as BackendAuthError, contradictory settings refused, CLI flags."""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from app import parse_args
from collectors.http import BearerTokenFile, build_session, connection_settings
from collectors.jaeger import JaegerCollector
from collectors.prometheus import PrometheusCollector
from mesh.errors import BackendAuthError
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


def prometheus(settings: Settings) -> PrometheusCollector:
    return PrometheusCollector(
        settings.prometheus_url or "", timeout_s=5, session=build_session(settings, "prometheus")
    )


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


def test_missing_or_empty_token_file_is_an_auth_error(tmp_path: Path) -> None:
    auth = BearerTokenFile(tmp_path / "gone", "jaeger")
    with pytest.raises(BackendAuthError) as exc:
        auth.token()
    assert exc.value.backend == "jaeger" and "token file" in exc.value.cause
    (tmp_path / "gone").write_text("  \n")
    with pytest.raises(BackendAuthError, match="empty"):
        auth.token()


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


def test_tls_options_land_on_the_session(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("x")
    settings = Settings(
        prometheus_url="https://prom:9090",
        prometheus_ca_file=tmp_path / "ca.pem",
        prometheus_cert_file=tmp_path / "client.pem",
        prometheus_key_file=tmp_path / "client.key",
    )
    session = build_session(settings, "prometheus")
    assert session.verify == str(tmp_path / "ca.pem")
    assert session.cert == (str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    assert build_session(settings, "jaeger").verify is True  # options are per backend


def test_configured_ca_wins_over_requests_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """requests would let REQUESTS_CA_BUNDLE replace session.verify (psf/requests#3829)."""
    (tmp_path / "ca.pem").write_text("x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    settings = Settings(prometheus_url="https://prom:9090", prometheus_ca_file=tmp_path / "ca.pem")
    session = build_session(settings, "prometheus")
    merged = session.merge_environment_settings("https://prom:9090/", {}, None, None, None)
    assert merged["verify"] == str(tmp_path / "ca.pem")
    plain = build_session(Settings(prometheus_url="https://prom:9090"), "prometheus")
    merged = plain.merge_environment_settings("https://prom:9090/", {}, None, None, None)
    assert merged["verify"] == "/etc/ssl/certs/ca-certificates.crt"  # unchanged otherwise


def test_insecure_skip_verify_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(prometheus_url="https://prom:9090", prometheus_insecure_skip_verify=True)
    with caplog.at_level(logging.WARNING, logger="meshdash.backends"):
        session = build_session(settings, "prometheus")
    assert session.verify is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "VERIFICATION IS OFF" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"prometheus_bearer_token": "a", "prometheus_basic_auth_user": "u"}, "not both"),
        ({"prometheus_basic_auth_user": "u"}, "both a user and a password"),
        ({"prometheus_bearer_token_file": "/nonexistent/token"}, "not readable"),
        ({"prometheus_key_file": "/etc/hostname"}, "client certificate"),
        (
            {"prometheus_ca_file": "/etc/hostname", "prometheus_insecure_skip_verify": True},
            "contra",
        ),
        ({"prometheus_headers": {"Bad Name": "x"}}, "not a valid header name"),
    ],
)
def test_contradictory_or_missing_settings_are_refused(fields: dict, fragment: str) -> None:
    settings = Settings(prometheus_url="https://prom:9090", **fields)
    with pytest.raises(ValueError, match=fragment):
        build_session(settings, "prometheus")


def test_environment_and_cli_fill_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    monkeypatch.setenv("MESHDASH_PROMETHEUS_BASIC_AUTH_PASSWORD", "env-pw")
    monkeypatch.setenv("MESHDASH_JAEGER_HEADERS", '{"X-Scope-OrgID": "env-tenant"}')
    settings = parse_args(
        [
            "--prometheus=https://thanos:10902/prometheus",
            "--prometheus-basic-auth-user=reader",
            f"--prometheus-ca-file={ca}",
            "--prometheus-header=X-Scope-OrgID=tenant-a",
            "--prometheus-timeout=7.5",
            "--jaeger=https://jaeger:16686",
        ]
    )
    conn = connection_settings(settings, "prometheus")
    assert conn.basic_auth_user == "reader"
    assert conn.basic_auth_password is not None
    assert conn.basic_auth_password.get_secret_value() == "env-pw"
    assert conn.ca_file == ca
    assert {k: v.get_secret_value() for k, v in conn.headers.items()} == {
        "X-Scope-OrgID": "tenant-a"
    }
    assert settings.prometheus_timeout_s == 7.5
    jaeger = connection_settings(settings, "jaeger")
    assert jaeger.headers["X-Scope-OrgID"].get_secret_value() == "env-tenant"
    assert "env-pw" not in repr(settings) and "env-pw" not in repr(conn)
    with pytest.raises(SystemExit):
        parse_args(["--prometheus-header", "no-equals-sign"])
    # A session is not a way around the check: requests sees the same header.
    session = build_session(settings, "prometheus")
    assert session.headers["X-Scope-OrgID"] == "tenant-a"
    assert isinstance(session, requests.Session)


def test_prometheus_cluster_flags_and_their_checks(tmp_path):
    """Per-cluster endpoints from the command line; contradictions stop the app at startup."""
    from wiring.services import build_services

    settings = parse_args(
        [
            "--prometheus-cluster",
            "east=http://127.0.0.1:9/",
            "--prometheus-cluster=west=http://127.0.0.1:10",
        ]
    )
    assert settings.prometheus_clusters == {
        "east": "http://127.0.0.1:9/",
        "west": "http://127.0.0.1:10",
    }
    assert not settings.demo
    services = build_services(settings.model_copy(update={"audit_log": tmp_path / "a.jsonl"}))
    assert services.telemetry.clusters == ("east", "west")
    with pytest.raises(SystemExit):
        parse_args(["--prometheus-cluster", "east"])
    with pytest.raises(SystemExit, match="not both"):
        build_services(
            Settings(prometheus_url="http://p:9090", prometheus_clusters={"east": "http://e:9090"})
        )
    with pytest.raises(SystemExit, match="valid cluster name"):
        build_services(Settings(prometheus_clusters={"east:1": "http://e:9090"}))
    with pytest.raises(SystemExit, match="unknown"):
        build_services(Settings(prometheus_clusters={"unknown": "http://e:9090"}))
