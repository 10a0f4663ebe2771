"""Issue 17, finding 6 in Chromium: another origin cannot frame meshdash's releases page.

An attacker's page on another port of the same host frames `/releases?...&action=rollback`.
By default (X-Frame-Options: DENY, CSP frame-ancestors 'none') Chromium refuses to render it,
so no click can land inside. With the attacker's origin allowed in MESHDASH_FRAME_ANCESTORS
the same frame renders: the control that shows the refusal comes from the headers.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app import create_app
from devtools.livesrv import serve
from wiring.settings import Settings

pytestmark = pytest.mark.browser

TARGET = "/releases?namespace=bookinfo&service=reviews&action=rollback&baseline=v1&canary=v2"


class Attacker:
    """A page on its own loopback port that frames `target`."""

    def __init__(self, target: str) -> None:
        page = (
            "<!doctype html><html><body><h1>Win a prize</h1>"
            f"<iframe id='victim' src='{target}' width='1200' height='700'></iframe>"
            "</body></html>"
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()


def _framed_page_renders(page, live_url: str) -> bool:
    attacker = Attacker(live_url + TARGET)
    try:
        page.goto(attacker.url)
        page.wait_for_selector("#victim")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            frame = page.frame_locator("#victim")
            if frame.locator("#rel-bar").count() > 0:
                return True
            victim = next((f for f in page.frames if f != page.main_frame), None)
            if victim is not None and victim.url.startswith("chrome-error://"):
                return False
            time.sleep(0.25)
        return False
    finally:
        attacker.close()


def test_a_cross_origin_frame_of_the_releases_page_does_not_render(page, tmp_path, shot):
    live = serve(create_app(Settings(audit_log=tmp_path / "audit.jsonl")))
    try:
        assert _framed_page_renders(page, live.url) is False
        shot("framing-refused")
    finally:
        live.stop()


def test_an_allowed_embedding_origin_does_render(page, tmp_path):
    # The attacker's port is only known once it listens: allow every loopback origin instead.
    settings = Settings(audit_log=tmp_path / "audit.jsonl", frame_ancestors=["http://127.0.0.1:*"])
    live = serve(create_app(settings))
    try:
        assert _framed_page_renders(page, live.url) is True
    finally:
        live.stop()
