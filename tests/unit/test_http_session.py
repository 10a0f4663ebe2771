"""Backend session settings (collectors/http.py) without a server: a missing token file, TLS
options on the session, contradictory settings refused, the environment and CLI flags. What a
real server receives: tests/integration/test_http_session.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from app import parse_args
from collectors.http import BearerTokenFile, build_session, connection_settings
from collectors.prometheus import PrometheusCollector
from mesh.errors import BackendAuthError
from wiring.settings import Settings


def prometheus(settings: Settings) -> PrometheusCollector:
    return PrometheusCollector(
        settings.prometheus_url or "", timeout_s=5, session=build_session(settings, "prometheus")
    )


def test_missing_or_empty_token_file_is_an_auth_error(tmp_path: Path) -> None:
    auth = BearerTokenFile(tmp_path / "gone", "jaeger")
    with pytest.raises(BackendAuthError) as exc:
        auth.token()
    assert exc.value.backend == "jaeger" and "token file" in exc.value.cause
    (tmp_path / "gone").write_text("  \n")
    with pytest.raises(BackendAuthError, match="empty"):
        auth.token()


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
