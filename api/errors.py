"""One mapping from typed errors to JSON HTTP answers, so no traceback reaches a user."""

from __future__ import annotations

import logging

from flask import Flask, jsonify

from mesh.errors import (
    BackendError,
    BadRequest,
    Conflict,
    Forbidden,
    MeshdashError,
    NamespaceNotFound,
    NotConfigured,
    NotFound,
    RateLimited,
)

log = logging.getLogger("meshdash.api")


def error_body(exc: Exception) -> tuple[dict, int]:
    """The JSON body and status for an error; shared by the API and the page banners."""
    if isinstance(exc, BadRequest):
        return {"error": exc.message, "field": exc.field}, 400
    if isinstance(exc, Forbidden):
        return {"error": str(exc)}, 403
    if isinstance(exc, NamespaceNotFound):
        return {"error": str(exc), "field": exc.field, "suggestions": exc.suggestions}, 404
    if isinstance(exc, NotFound):
        return {"error": str(exc)}, 404
    if isinstance(exc, RateLimited):
        return {"error": str(exc), "retry_after_s": exc.retry_after_s}, 429
    if isinstance(exc, Conflict):
        body = {"error": str(exc), "diff": exc.diff, "current": exc.current}
        if getattr(exc, "verdict", None) is not None:  # usecases.release_guard.AgainstVerdict
            body["verdict"] = exc.verdict
        return body, 409
    if isinstance(exc, BackendError):
        return {"error": str(exc), "backend": exc.backend, "cause": exc.cause}, exc.status
    if isinstance(exc, NotConfigured):  # each role's status and body as it has always been
        if exc.backend:
            return {"error": str(exc), "backend": exc.backend, "cause": exc.cause}, exc.status
        return {"error": str(exc)}, exc.status
    return {"error": "internal error; see the server log"}, 500


def install(server: Flask) -> None:
    @server.errorhandler(MeshdashError)
    def _typed(exc: MeshdashError):
        body, status = error_body(exc)
        return jsonify(body), status
