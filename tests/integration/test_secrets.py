"""No token, password, secret header or private key ever leaves through logs, API errors, pages,
/readyz or reprs, whichever way a backend refuses us (401, 403, a failed TLS handshake).

Each case runs the whole app against a real loopback server that refuses every request, with
DEBUG logging captured from every logger (urllib3 and requests included)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app import create_app
from tests.dashcalls import DashCalls
from wiring.settings import Settings

AT = 1767225600
TOKEN = "tok-SECRET-6f1c2b9e"
FILE_TOKEN = "file-tok-SECRET-0a8d"
PASSWORD = "pw-SECRET-93kd"
HEADER_SECRET = "hdr-SECRET-77aa"


class Refuser:
    """Answers every request with `status` and a body echoing the Authorization it was sent,
    as some proxies do, so a collector copying bodies into messages would leak it."""

    def __init__(self, status: int) -> None:
        refuser = self
        self.status = status
        self.count = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                refuser.count += 1
                body = f"denied for {self.headers.get('Authorization')}".encode()
                self.send_response(refuser.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=[401, 403])
def refuser(request) -> Iterator[Refuser]:
    r = Refuser(request.param)
    yield r
    r.close()


def client_key(where: Path) -> tuple[Path, Path, str]:
    """A self-signed client certificate; returns (cert, key, key PEM body line)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshdash")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    (where / "client.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "client.key").write_text(pem)
    return where / "client.pem", where / "client.key", pem.splitlines()[1]


def cases(port: int, tmp: Path) -> dict[str, tuple[dict, list[str]]]:
    """Settings per way of authenticating, with the secret strings each must keep hidden."""
    url = f"http://127.0.0.1:{port}"
    token_file = tmp / "token"
    token_file.write_text(FILE_TOKEN + "\n")
    cert, key, key_line = client_key(tmp)
    both = {"jaeger_url": url}
    return {
        "token": (
            {"prometheus_url": url, "prometheus_bearer_token": TOKEN, **both,
             "jaeger_bearer_token": TOKEN},
            [TOKEN],
        ),
        "token file": (
            {"prometheus_url": url, "prometheus_bearer_token_file": token_file, **both,
             "jaeger_bearer_token_file": token_file},
            [FILE_TOKEN],
        ),
        "basic auth": (
            {"prometheus_url": url, "prometheus_basic_auth_user": "reader",
             "prometheus_basic_auth_password": PASSWORD, **both,
             "jaeger_basic_auth_user": "reader", "jaeger_basic_auth_password": PASSWORD},
            [PASSWORD, "cmVhZGVyOnB3LVNFQ1JFVC05M2tk"],  # base64("reader:" + PASSWORD)
        ),
        "secret header": (
            {"prometheus_url": url, "prometheus_headers": {"X-Api-Key": HEADER_SECRET}, **both,
             "jaeger_headers": {"X-Api-Key": HEADER_SECRET}},
            [HEADER_SECRET],
        ),
        # https to a plain HTTP server: the handshake fails after the key was loaded.
        "client key": (
            {"prometheus_url": f"https://127.0.0.1:{port}", "prometheus_cert_file": cert,
             "prometheus_key_file": key, "prometheus_bearer_token": TOKEN,
             "jaeger_url": f"https://127.0.0.1:{port}", "jaeger_cert_file": cert,
             "jaeger_key_file": key},
            [key_line, TOKEN],
        ),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case", ["token", "token file", "basic auth", "secret header", "client key"]
)
def test_secrets_never_leave(case, refuser, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fields, secrets = cases(refuser.port, tmp_path)[case]
    settings = Settings(
        **fields,
        default_namespaces=("bookinfo",),
        cache_error_ttl_s=0,
        audit_log=tmp_path / "audit.jsonl",
    )
    app = create_app(settings)
    client = app.server.test_client()
    seen: list[str] = [repr(settings), repr(app.server.extensions)]

    for url in (
        f"/api/graph?namespace=bookinfo&at={AT}",
        f"/api/metrics?namespace=bookinfo&service=reviews&at={AT}",
        "/api/traces?namespace=bookinfo&service=productpage",
        "/readyz",
    ):
        r = client.get(url)
        body = r.get_data(as_text=True)
        assert r.status_code in (502, 503), (url, body)
        assert r.is_json and "Traceback" not in body, url
        seen.append(body)
    graph_error = client.get(f"/api/graph?namespace=bookinfo&at={AT}").get_json()
    expected = "TLS" if case == "client key" else "authentication refused"
    assert expected in graph_error["error"] and graph_error["backend"] == "prometheus"

    status, _, page = DashCalls(client).call(
        "topo-banner.children",
        {
            "topo-namespaces.value": ["bookinfo"],
            "topo-view.value": "workload",
            "topo-window.value": "5m",
        },
        {"topo-at.data": str(AT)},
    )
    assert status == 200 and "Prometheus is failing" in page
    seen.append(page)
    if case != "client key":
        assert refuser.count > 0  # the credentials really were sent, and refused

    seen.append(caplog.text)
    seen.extend(str(r.__dict__) for r in caplog.records)
    everything = "\n".join(seen)
    for secret in secrets:
        assert secret not in everything, f"{case}: a secret leaked"
