"""A loopback HTTP server that misbehaves on demand, for the fault matrix.

Modes: "ok" (answers like a healthy backend with an empty result), "500", "garbage" (invalid
JSON), "nan" (a Prometheus vector holding NaN), "partial" (a truncated body), "hang" (sleeps past
any client timeout). Switch `mode` while it runs to test recovery.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OK_PROMETHEUS = {"status": "success", "data": {"resultType": "vector", "result": []}}
NAN_VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {
                "metric": {
                    "source_workload": "a",
                    "source_workload_namespace": "bookinfo",
                    "destination_workload": "b",
                    "destination_workload_namespace": "bookinfo",
                    "destination_service_namespace": "bookinfo",
                    "destination_service_name": "b",
                    "request_protocol": "http",
                    "response_code": "200",
                },
                "value": [1767225600, "NaN"],
            }
        ],
    },
}


class FaultServer:
    def __init__(self, ok_body: dict | None = None, hang_s: float = 5.0) -> None:
        self.mode = "ok"
        self.ok_body = ok_body or OK_PROMETHEUS
        self.hang_s = hang_s
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner._answer(self)

            do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "hang":
            time.sleep(self.hang_s)
        status, body = 200, json.dumps(self.ok_body).encode()
        if mode == "500":
            status, body = 500, b'{"status":"error","error":"internal"}'
        elif mode == "garbage":
            body = b"<html>this is not JSON"
        elif mode == "nan":
            body = json.dumps(NAN_VECTOR).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if mode == "partial":
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
