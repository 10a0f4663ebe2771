"""GET /api/traces (search) and GET /api/traces/<trace_id> (one trace), through the page's view."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from views.traces import parse_search_params, parse_trace_id, search_view, trace_view_json
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/traces")
    def traces():
        params = parse_search_params(request.args)
        return jsonify(search_view(services(), params))

    @bp.get("/traces/<trace_id>")
    def trace(trace_id: str):
        # streamed, a few hundred spans at a time: 100,000 spans are ~250 MB of JSON
        return Response(
            trace_view_json(services(), parse_trace_id(trace_id)), mimetype="application/json"
        )
