"""Authenticated backends, for real (issue 8, item 1).

1. A real Prometheus serving HTTPS with basic auth through its own `--web.config.file`: a test CA
   signs a certificate for 127.0.0.1, the password is stored as a bcrypt hash. With the right
   credentials and CA the Bookinfo graph equals the one the plain session Prometheus gives for
   the same data; with a wrong password the API answers 502 JSON naming Prometheus and the
   refused authentication, and the topology page shows it as a banner.
2. The session Prometheus behind a small header-checking proxy (Thanos/Mimir style: a path
   prefix, `Authorization: Bearer` and `X-Scope-OrgID`); the token comes from a file that is
   rewritten mid-test, as a kubelet rotates service-account tokens.
3. The demo's Jaeger query API behind the same kind of gateway under a /jaeger prefix.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app import create_app
from demo.mesh import DemoMesh
from demo.openmetrics import write_series
from demo.series import mesh_series
from devtools.jaeger_server import start_demo_jaeger
from devtools.livesrv import serve
from devtools.promserver import PrometheusServer, require_prometheus
from devtools.scenarios import SCENARIO_END, SCENARIO_STEP
from tests.browser.conftest import (  # noqa: F401  (fixtures: Debian chromium for `page`)
    browser_context_args,
    browser_type_launch_args,
)
from tests.dashcalls import DashCalls, banners
from wiring.settings import Settings

pytestmark = pytest.mark.integration

END = int(SCENARIO_END)
NS = "bookinfo"
USER = "meshdash-reader"
PASSWORD = "correct-horse-battery-staple-42"
WRONG_PASSWORD = "not-the-password-99"
TENANT = "tenant-a"
PREFIX = "/prometheus"


# ---------------------------------------------------------------------------------------------
# A test CA and a server certificate for 127.0.0.1


@dataclass(frozen=True)
class Pki:
    ca_file: Path
    cert_file: Path
    key_file: Path
    key_pem: str  # the private key text, which must never show anywhere


def make_pki(where: Path) -> Pki:
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshdash test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pki = Pki(where / "ca.pem", where / "server.pem", where / "server.key", key_pem)
    pki.ca_file.write_bytes(ca.public_bytes(pem))
    pki.cert_file.write_bytes(cert.public_bytes(pem))
    pki.key_file.write_text(key_pem)
    os.chmod(pki.key_file, 0o600)
    return pki


# ---------------------------------------------------------------------------------------------
# Prometheus behind TLS and basic auth, configured by Prometheus itself


class SecurePrometheus(PrometheusServer):
    """PrometheusServer whose readiness probe speaks HTTPS with basic auth and the test CA."""

    def __init__(self, workdir: Path, pki: Pki) -> None:
        web = workdir / "web.yml"
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        web.write_text(
            yaml.safe_dump(
                {
                    "tls_server_config": {
                        "cert_file": str(pki.cert_file),
                        "key_file": str(pki.key_file),
                    },
                    "basic_auth_users": {USER: hashed},
                }
            )
        )
        super().__init__(workdir, extra_args=[f"--web.config.file={web}"])
        self.pki = pki

    @property
    def url(self) -> str:
        return super().url.replace("http://", "https://", 1)

    def _wait_ready(self) -> None:
        import time

        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"Prometheus exited early:\n{self.log_tail()}")
            try:
                r = requests.get(
                    f"{self.url}/api/v1/query",
                    params={"query": "count(istio_requests_total)", "time": END},
                    auth=(USER, PASSWORD),
                    verify=str(self.pki.ca_file),
                    timeout=2,
                )
                if r.ok and r.json()["data"]["result"]:
                    return
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"Prometheus not ready:\n{self.log_tail()}")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure_prometheus(scenarios, pki, tmp_path_factory) -> Iterator[SecurePrometheus]:
    """The session's Bookinfo scenario, its last 20 minutes, in a TLS + basic auth Prometheus."""
    require_prometheus()
    workdir = tmp_path_factory.mktemp("secure-prom")
    server = SecurePrometheus(workdir, pki)
    om = workdir / "bookinfo.om"
    with open(om, "w", encoding="utf-8") as out:
        series = mesh_series(scenarios.bookinfo.model, END - 1200, END, SCENARIO_STEP)
        write_series(series, out, tmpdir=str(workdir))
    server.load_openmetrics(om)
    server.start()
    try:
        yield server
    finally:
        server.close()


def tls_settings(server: SecurePrometheus, password: str, tmp: Path, **kw) -> Settings:
    return Settings(
        prometheus_url=server.url,
        prometheus_basic_auth_user=USER,
        prometheus_basic_auth_password=password,
        prometheus_ca_file=server.pki.ca_file,
        default_namespaces=(NS,),
        cache_error_ttl_s=0,
        audit_log=tmp / "audit.jsonl",
        **kw,
    )


def graph(client, at: int = END) -> tuple[int, dict]:
    r = client.get(f"/api/graph?namespace={NS}&window=5m&at={at}")
    return r.status_code, r.get_json()


def edges_of(body: dict) -> dict[str, float]:
    return {e["id"]: e["rps"] for e in body["edges"]}


def test_tls_basic_auth_gives_the_same_graph_as_plain_prometheus(
    secure_prometheus, prometheus, tmp_path
):
    client = create_app(tls_settings(secure_prometheus, PASSWORD, tmp_path)).server.test_client()
    status, body = graph(client)
    assert status == 200, body
    plain = create_app(
        Settings(prometheus_url=prometheus.url, audit_log=tmp_path / "a2.jsonl")
    ).server.test_client()
    status, expected = graph(plain)
    assert status == 200, expected
    got, want = edges_of(body), edges_of(expected)
    assert "bookinfo/productpage-v1->bookinfo/reviews-v1" in got
    assert set(got) == set(want)
    for edge, rps in want.items():
        assert got[edge] == pytest.approx(rps, rel=1e-3), edge
    ready = client.get("/readyz").get_json()
    prom = ready["backends"]["prometheus"]
    assert (prom["ok"], prom["reachable"], prom["authenticated"]) == (True, True, True), prom
    assert prom["version"].startswith("2.42"), prom  # build info, read through TLS + basic auth


def test_no_ca_means_a_tls_failure_not_a_traceback(secure_prometheus, tmp_path):
    settings = Settings(
        prometheus_url=secure_prometheus.url,
        prometheus_basic_auth_user=USER,
        prometheus_basic_auth_password=PASSWORD,
        cache_error_ttl_s=0,
        audit_log=tmp_path / "audit.jsonl",
    )
    status, body = graph(create_app(settings).server.test_client())
    assert status == 502 and body["backend"] == "prometheus"
    assert "TLS" in body["error"]
    assert PASSWORD not in str(body)


def test_wrong_password_is_a_502_naming_refused_authentication(secure_prometheus, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    client = create_app(
        tls_settings(secure_prometheus, WRONG_PASSWORD, tmp_path)
    ).server.test_client()
    status, body = graph(client)
    assert status == 502
    assert body["backend"] == "prometheus"
    assert "authentication refused" in body["error"]
    assert "HTTP 401" in body["error"]
    text = str(body) + caplog.text
    assert "Traceback" not in str(body)
    for secret in (WRONG_PASSWORD, PASSWORD, secure_prometheus.pki.key_pem.splitlines()[1]):
        assert secret not in text
    ready = client.get("/readyz")
    assert ready.status_code == 503
    prom = ready.get_json()["backends"]["prometheus"]
    assert "authentication refused" in prom["detail"]
    # It answered: the network is fine, the credentials are not.
    assert (prom["ok"], prom["reachable"], prom["authenticated"]) == (False, True, False), prom
    assert PASSWORD not in str(prom) and WRONG_PASSWORD not in str(prom)


# ---------------------------------------------------------------------------------------------
# A bearer-token, tenant-header gateway in front of the plain Prometheus


class TokenGateway:
    """Thanos/Mimir-like front: a path prefix, a bearer token and a tenant header, or 401."""

    def __init__(self, upstream: str, prefix: str = PREFIX) -> None:
        self.upstream = upstream
        self.prefix = prefix
        self.token = "T1"
        self.seen_tokens: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gateway.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                gateway.handle(self, self.rfile.read(length))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{prefix}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def handle(self, h: BaseHTTPRequestHandler, body: bytes | None) -> None:
        auth = h.headers.get("Authorization", "")
        self.seen_tokens.append(auth.removeprefix("Bearer "))
        if not h.path.startswith(self.prefix + "/"):
            return self._answer(h, 404, b"404 page not found")
        if auth != f"Bearer {self.token}" or h.headers.get("X-Scope-OrgID") != TENANT:
            return self._answer(h, 401, b"no org id or bad token")
        r = requests.request(
            h.command,
            self.upstream + h.path[len(self.prefix) :],
            data=body,
            headers={"Content-Type": h.headers.get("Content-Type", "")},
            timeout=30,
        )
        self._answer(h, r.status_code, r.content)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(prometheus) -> Iterator[TokenGateway]:
    g = TokenGateway(prometheus.url)
    yield g
    g.close()


def test_bearer_token_and_tenant_header_through_a_path_prefix(gateway, prometheus, tmp_path):
    base = {
        "prometheus_url": gateway.url,
        "default_namespaces": (NS,),
        "cache_error_ttl_s": 0,
        "audit_log": tmp_path / "audit.jsonl",
    }
    ok = create_app(
        Settings(**base, prometheus_bearer_token="T1", prometheus_headers={"X-Scope-OrgID": TENANT})
    ).server.test_client()
    status, body = graph(ok)
    assert status == 200, body
    plain = create_app(
        Settings(prometheus_url=prometheus.url, audit_log=tmp_path / "a2.jsonl")
    ).server.test_client()
    assert edges_of(body) == pytest.approx(edges_of(graph(plain)[1]), rel=1e-6)

    no_tenant = create_app(Settings(**base, prometheus_bearer_token="T1")).server.test_client()
    status, body = graph(no_tenant)
    assert status == 502 and "authentication refused" in body["error"]
    assert "T1" not in body["error"]

    # /readyz through the gateway: the build info with the right token, the split without.
    good = ok.get("/readyz").get_json()["backends"]["prometheus"]
    assert (good["reachable"], good["authenticated"]) == (True, True), good
    assert good["version"].startswith("2."), good
    bad = no_tenant.get("/readyz").get_json()["backends"]["prometheus"]
    assert (bad["ok"], bad["reachable"], bad["authenticated"]) == (False, True, False), bad
    assert "T1" not in str(bad)


def test_token_file_rewritten_mid_test_is_re_read(gateway, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    token_file = tmp_path / "token"
    token_file.write_text("T1\n")
    client = create_app(
        Settings(
            prometheus_url=gateway.url,
            prometheus_bearer_token_file=token_file,
            prometheus_headers={"X-Scope-OrgID": TENANT},
            default_namespaces=(NS,),
            cache_error_ttl_s=0,
            audit_log=tmp_path / "audit.jsonl",
        )
    ).server.test_client()
    assert graph(client, END)[0] == 200

    gateway.token = "T2-rotated"  # the issuer rotated: the old token is refused now
    status, body = graph(client, END - 60)
    assert status == 502 and "authentication refused" in body["error"]

    before = token_file.stat().st_mtime_ns
    token_file.write_text("T2-rotated\n")  # the kubelet writes the new token
    os.utime(token_file, ns=(before + 10**9, before + 10**9))
    status, body = graph(client, END - 120)
    assert status == 200, body
    assert gateway.seen_tokens[-1] == "T2-rotated"
    assert "T2-rotated" not in caplog.text and "T1" not in caplog.text.split()


# ---------------------------------------------------------------------------------------------
# The banner, in a browser


@pytest.mark.browser
def test_wrong_password_shows_a_banner_on_the_topology_page(
    secure_prometheus, tmp_path_factory, page
):
    from playwright.sync_api import expect

    tmp = tmp_path_factory.mktemp("banner")
    live = serve(create_app(tls_settings(secure_prometheus, WRONG_PASSWORD, tmp)))
    try:
        page.goto(f"{live.url}/?namespace={NS}&window=5m&refresh=off&at={END}")
        banner = page.locator("#topo-banner")
        expect(banner).to_contain_text("Prometheus is failing", timeout=20000)
        expect(banner).to_contain_text("authentication refused")
        assert WRONG_PASSWORD not in page.content()
        assert "Traceback" not in page.content()
    finally:
        live.stop()


# ---------------------------------------------------------------------------------------------
# Jaeger behind the same kind of gateway


def test_jaeger_behind_a_token_gateway_with_a_path_prefix(prometheus, tmp_path, caplog):
    """The demo's Jaeger query API (v1 and /api/v3 as Jaeger serves them) behind a gateway that
    wants a bearer token, a tenant header and a /jaeger prefix: traces with the right token; a
    502 and a banner naming refused authentication, never the token, with a wrong one."""
    caplog.set_level(logging.DEBUG)
    upstream, stop = start_demo_jaeger(DemoMesh.bookinfo())
    gateway = TokenGateway(upstream, prefix="/jaeger")
    base = {
        "prometheus_url": prometheus.url,
        "jaeger_url": gateway.url,
        "jaeger_headers": {"X-Scope-OrgID": TENANT},
        "default_namespaces": (NS,),
        "cache_error_ttl_s": 0,
    }
    try:
        ok = create_app(
            Settings(**base, jaeger_bearer_token="T1", audit_log=tmp_path / "a.jsonl")
        ).server.test_client()
        r = ok.get(f"/api/traces?namespace={NS}&service=productpage&lookback=1h&limit=5")
        assert r.status_code == 200, r.get_json()
        found = r.get_json()["traces"]
        assert found, "the demo serves traces for productpage"
        one = ok.get(f"/api/traces/{found[0]['trace_id']}")
        assert one.status_code == 200 and one.get_json()["spans"], one.get_json()
        ready = ok.get("/readyz").get_json()["backends"]["jaeger"]
        assert (ready["ok"], ready["reachable"], ready["authenticated"]) == (True, True, True)
        assert set(gateway.seen_tokens) == {"T1"}

        bad = create_app(
            Settings(**base, jaeger_bearer_token="T-wrong", audit_log=tmp_path / "b.jsonl")
        ).server.test_client()
        r = bad.get(f"/api/traces?namespace={NS}&service=productpage&lookback=1h&limit=5")
        body = r.get_json()
        assert r.status_code == 502 and body["backend"] == "jaeger", body
        assert "authentication refused" in body["cause"] and "HTTP 401" in body["cause"]
        ready = bad.get("/readyz").get_json()["backends"]["jaeger"]
        assert (ready["ok"], ready["reachable"], ready["authenticated"]) == (False, True, False)
        code, answer, raw = DashCalls(bad).call(
            "ts-banner.children",
            {"ts-find.n_clicks": 1},
            {
                "ts-namespace.value": NS,
                "ts-service.value": "productpage",
                "ts-lookback.value": "1h",
                "ts-limit.value": 20,
            },
        )
        assert code == 200 and "Traceback" not in raw
        (shown,) = banners(answer)
        assert shown.startswith("Jaeger is failing: authentication refused"), shown
        for text in (str(body), str(ready), raw, caplog.text):
            assert "T-wrong" not in text and "Bearer T1" not in text
    finally:
        gateway.close()
        stop()
