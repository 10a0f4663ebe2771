"""/api/rollouts: start, read, list and steer guided rollouts (views/rollouts.py).

GET answers anyone; POST goes through security.require_writer (writes enabled, identity,
allowed user/group, CSRF token), as route writes do.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from access import security
from mesh.errors import BadRequest
from views.rollouts import control, parse_command, rollout_detail, rollouts_list, start_rollout
from views.routes import parse_namespace
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/rollouts")
    def rollouts_index():
        svc = services()
        return jsonify(
            rollouts_list(svc, parse_namespace(request.args, svc.settings.default_namespaces))
        )

    @bp.get("/rollouts/<namespace>/<service>")
    def rollout_show(namespace: str, service: str):
        return jsonify(rollout_detail(services(), namespace, service))

    @bp.post("/rollouts/<namespace>/<service>")
    def rollout_start(namespace: str, service: str):
        svc = services()
        identity = security.require_writer(svc.settings)
        payload = request.get_json(silent=True)
        if payload is None:
            raise BadRequest("send a JSON object with Content-Type: application/json")
        return jsonify(start_rollout(svc, namespace, service, payload, identity)), 201

    @bp.post("/rollouts/<namespace>/<service>/<command>")
    def rollout_command(namespace: str, service: str, command: str):
        svc = services()
        parse_command(command)
        identity = security.require_writer(svc.settings)
        payload = request.get_json(silent=True) if request.content_length else None
        if payload is not None and not isinstance(payload, dict):
            raise BadRequest("the request body must be a JSON object")
        return jsonify(control(svc, namespace, service, command, payload, identity))
