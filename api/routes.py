"""/api/routes and /api/audit: read splits, preview and apply canary actions, read the audit log.

GET answers anyone (a read-only user sees everything); POST goes through
security.require_writer (writes enabled, identity, allowed user/group, CSRF token).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from access import security
from mesh.errors import BadRequest
from views.routes import (
    audit_list,
    change_route,
    parse_audit_params,
    parse_namespace,
    route_detail,
    routes_list,
)
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/routes")
    def routes_index():
        svc = services()
        namespace = parse_namespace(request.args, svc.settings.default_namespaces)
        return jsonify(routes_list(svc, namespace, security.current_identity(svc.settings)))

    @bp.get("/routes/<namespace>/<service>")
    def route_show(namespace: str, service: str):
        svc = services()
        return jsonify(
            route_detail(svc, namespace, service, security.current_identity(svc.settings))
        )

    @bp.post("/routes/<namespace>/<service>")
    def route_change(namespace: str, service: str):
        svc = services()
        identity = security.require_writer(svc.settings)
        payload = request.get_json(silent=True)
        if payload is None:
            raise BadRequest("send a JSON object with Content-Type: application/json")
        return jsonify(change_route(svc, namespace, service, payload, identity))

    @bp.get("/audit")
    def audit_index():
        svc = services()
        return jsonify(audit_list(svc, **parse_audit_params(request.args)))
