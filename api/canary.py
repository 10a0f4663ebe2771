"""GET /api/canary/NS/SERVICE: the canary-vs-baseline analysis, through the same view the
release pages use."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from views.canary import canary_view, parse_canary_params
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/canary/<namespace>/<service>")
    def canary(namespace: str, service: str):
        params = parse_canary_params(request.args, namespace=namespace, service=service)
        return jsonify(canary_view(services(), params))
