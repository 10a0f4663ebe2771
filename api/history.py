"""GET /api/metrics: a service's (or workload's) series by version, through the page's view."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from views.history import metrics_view, parse_metrics_params
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/metrics")
    def metrics():
        params = parse_metrics_params(request.args)
        return jsonify(metrics_view(services(), params))
