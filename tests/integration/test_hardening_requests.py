"""Issue 17, findings 1, 6 (headers) and 9 (500s) over real sockets and the demo app: the peer
address and raw repeated headers through werkzeug's server with the dev request handler (gunicorn
in test_hardening_gunicorn.py), framing headers and Dash callbacks on the demo app (whose wiring
starts the demo's Jaeger endpoint). The test-client cases are in tests/unit/.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading

import pytest
from werkzeug.serving import make_server

from app import create_app
from serving.guards import DevRequestHandler
from tests.dashcalls import DashCalls
from tests.unit.test_hardening_requests import routes_app
from wiring.settings import Settings

# --- 1: identity headers only from the trusted proxy ---------------------------------------


def test_a_spoofing_client_over_a_real_socket_from_another_loopback_address():
    app, _store = routes_app(trusted_proxy=True, trusted_proxy_cidrs=["127.0.0.1/32"])
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, source_address=("127.0.0.2", 0))
        conn.request("GET", "/api/routes/bookinfo/reviews", headers={"X-Forwarded-User": "eve"})
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 200
        assert '"writable":false' in body.replace(" ", "")
        assert "no identity" in body
    finally:
        server.shutdown()


def _raw(port: int, lines: list[str]) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


def test_a_repeated_identity_header_is_a_400_naming_it():
    app, _store = routes_app(trusted_proxy=True)
    server = make_server(
        "127.0.0.1", 0, app.server, threaded=True, request_handler=DevRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        status, body = _raw(
            port,
            [
                "GET /api/routes/bookinfo/reviews HTTP/1.1",
                "Host: x",
                "Connection: close",
                "X-Forwarded-User: alice",
                "X-Forwarded-Groups: release-managers",
                "X-Forwarded-Groups: viewers",
            ],
        )
        assert status == 400
        assert "X-Forwarded-Groups" in body and '"field"' in body
        status, _ = _raw(
            port,
            [
                "GET /api/routes/bookinfo/reviews HTTP/1.1",
                "Host: x",
                "Connection: close",
                "X-Forwarded-User: alice",
                "X-Forwarded-Groups: release-managers,viewers",
            ],
        )
        assert status == 200
    finally:
        server.shutdown()


# --- 6: framing ------------------------------------------------------------------------------


def test_pages_and_api_refuse_framing_by_default():
    client = create_app(Settings()).server.test_client()
    for path in ("/releases", "/api/routes?namespace=bookinfo", "/healthz"):
        r = client.get(path)
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Content-Security-Policy"] == "frame-ancestors 'none'"


def test_embedding_origins_are_configurable():
    settings = Settings(frame_ancestors=["https://grafana.example.com"])
    r = create_app(settings).server.test_client().get("/releases")
    assert r.headers["Content-Security-Policy"] == "frame-ancestors https://grafana.example.com"
    assert "X-Frame-Options" not in r.headers
    with pytest.raises(ValueError):
        Settings(frame_ancestors=["https://a.example; script-src *"])


# --- 9: Dash callbacks given unexpected types -------------------------------------------------

ODD_VALUES = ({"x": [1]}, [[1], {"a": None}], 10**30, True)


def test_no_dash_callback_answers_500_for_an_unexpected_input_type(caplog):
    calls = DashCalls(create_app(Settings()).server.test_client())
    crashed = []
    for key, dep in calls.deps.items():
        for odd in ODD_VALUES:
            given = {
                f"{i['id']}.{i['property']}": odd
                for i in (*dep["inputs"], *dep.get("state", []))
                if isinstance(i["id"], str)
            }
            with caplog.at_level(logging.CRITICAL):
                status, _, body = calls.call(key, given, given)
            if status >= 500:
                crashed.append((key[:60], repr(odd)[:20]))
            if status == 400:
                assert '"field"' in body and "Traceback" not in body
    assert crashed == []
