"""Issue 17, finding 7 (backend side): a Jaeger URL's credentials and query never shown. The
hostile loopback servers: tests/integration/test_hardening_backends.py.
"""

from __future__ import annotations

import socket

from app import create_app
from wiring.settings import Settings

# --- 5: no credentials from the Jaeger URL anywhere ------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jaeger_url_credentials_and_query_never_shown():
    url = f"http://user:PASS-SECRET@127.0.0.1:{_closed_port()}/jaeger?token=TOKEN-SECRET"
    settings = Settings(prometheus_url=f"http://127.0.0.1:{_closed_port()}", jaeger_url=url)
    client = create_app(settings).server.test_client()
    seen = [
        client.get("/api/traces?namespace=bookinfo&service=reviews").get_data(as_text=True),
        client.get("/readyz").get_data(as_text=True),
        client.get("/traces?namespace=bookinfo&service=reviews").get_data(as_text=True),
    ]
    assert "cannot connect to http://127.0.0.1:" in seen[0]
    for text in seen:
        assert "SECRET" not in text and "user:" not in text
