"""GET /api/traces (search) and GET /api/traces/<trace_id> (one trace), through the page's view."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from api import services
from views.traces import parse_search_params, parse_trace_id, search_view, trace_view


def register(bp: Blueprint) -> None:
    @bp.get("/traces")
    def traces():
        params = parse_search_params(request.args)
        return jsonify(search_view(services(), params))

    @bp.get("/traces/<trace_id>")
    def trace(trace_id: str):
        return jsonify(trace_view(services(), parse_trace_id(trace_id)))
