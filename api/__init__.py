"""The JSON API under /api/. Each module holds one resource's blueprint."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from api import errors
from mesh.errors import MeshdashError
from wiring.services import SERVICES_KEY, Services


def register(server: Flask, svc: Services) -> None:
    from access import security
    from api import canary, graph, history, inventory, investigate, review, rollouts, routes, traces

    server.extensions[SERVICES_KEY] = svc
    errors.install(server)
    security.install(server, svc.settings)
    bp = Blueprint("api", __name__, url_prefix="/api")
    for module in (
        graph,
        investigate,
        history,
        canary,
        review,
        traces,
        routes,
        inventory,
        rollouts,
    ):
        module.register(bp)

    @bp.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return jsonify({"error": exc.description or exc.name}), exc.code

    @bp.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # Blueprint handlers are tried before the app's, so typed errors arrive here too:
        # only a truly unexpected one deserves a traceback in the log.
        if not isinstance(exc, MeshdashError):
            errors.log.exception("unexpected error in the API")
        body, status = errors.error_body(exc)
        return jsonify(body), status

    @bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def _no_such_endpoint(rest: str):
        # Without this, Dash's catch-all page route would answer unknown /api/ paths with HTML.
        return jsonify({"error": f"no API endpoint /api/{rest}"}), 404

    server.register_blueprint(bp)

    @server.before_request
    def _api_paths_stay_json():
        # Paths such as /api// slip past the blueprint's rules into Dash's page route.
        rule = request.url_rule
        if request.path.startswith("/api/") and (
            rule is None or rule.endpoint.split(".")[0] != "api"
        ):
            return jsonify({"error": "no such API endpoint"}), 404
        return None

    @server.errorhandler(404)
    def _not_found(exc: HTTPException):
        # Paths the routing cannot match at all (a newline in a segment) still answer JSON under /api/.
        if request.path.startswith("/api/"):
            return jsonify({"error": "no such API endpoint"}), 404
        return exc
