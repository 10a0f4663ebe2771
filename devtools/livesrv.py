"""Run a meshdash app on a free loopback port in a background thread, for browser and HTTP tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests
from werkzeug.serving import make_server

from devtools.ports import free_port


@dataclass
class LiveApp:
    url: str
    app: object
    _server: object
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


def serve(app) -> LiveApp:
    """Serve a Dash app (its Flask server) threaded, and wait until it answers."""
    port = free_port()
    server = make_server("127.0.0.1", port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"meshdash-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/_dash-layout", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    return LiveApp(url, app, server, thread)
