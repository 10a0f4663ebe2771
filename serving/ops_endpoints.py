"""Operations endpoints on the Flask server: /healthz, /readyz, /metrics, and request timing.

create_app calls `register_ops(server, services)` once. The metrics live on services.metrics
(one registry per app), so tests can build many apps in one process.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flask import Flask, Response, g, jsonify, request

from ops.self_metrics import CONTENT_TYPE
from serving.readiness import readiness

if TYPE_CHECKING:  # services imports ops.self_metrics; no import cycle at run time
    from wiring.services import Services

OPS_PATHS: tuple[str, ...] = ("/healthz", "/readyz", "/metrics")
UNMATCHED = "<unmatched>"


def register_ops(server: Flask, services: Services) -> None:
    metrics = services.metrics

    @server.get("/healthz")
    def healthz():
        """Liveness: the process serves requests. It asks no backend, so a backend outage never
        gets healthy pods restarted."""
        return jsonify({"status": "ok"})

    @server.get("/readyz")
    def readyz():
        body, status = readiness(services)
        return jsonify(body), status

    @server.get("/metrics")
    def metrics_endpoint():
        return Response(metrics.exposition(), mimetype=CONTENT_TYPE)

    @server.before_request
    def _start_timer():
        g.meshdash_t0 = time.perf_counter()

    @server.after_request
    def _observe(response):
        start = g.pop("meshdash_t0", None)
        if start is not None:
            # The route template, not the path: label values stay few whatever users type.
            rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            metrics.observe_http(
                rule, request.method, response.status_code, time.perf_counter() - start
            )
        return response
