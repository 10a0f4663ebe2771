"""GET /api/metrics: a service's (or workload's) series by version, through the page's view."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import services
from views.metrics import metrics_view, parse_metrics_params


def register(bp: Blueprint) -> None:
    @bp.get("/metrics")
    def metrics():
        params = parse_metrics_params(request.args)
        return jsonify(metrics_view(services(), params))
