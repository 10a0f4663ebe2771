"""GET /api/investigate: "Why is it red?" as JSON, through the same view the page uses."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from views.investigation import investigate_view, parse_investigate_params
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/investigate")
    def investigate():
        svc = services()
        params = parse_investigate_params(request.args, svc.settings.default_namespaces)
        return jsonify(investigate_view(svc, params))
