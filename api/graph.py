"""GET /api/graph: the topology as JSON, through the same view the page uses."""

from __future__ import annotations

from flask import Blueprint, Response, request

from views.graph import graph_view_json, parse_graph_params
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/graph")
    def graph():
        svc = services()
        params = parse_graph_params(request.args, svc.settings.default_namespaces, shaped=True)
        return Response(graph_view_json(svc, params), mimetype="application/json")
