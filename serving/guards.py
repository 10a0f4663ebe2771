"""Guards on every request the Flask server answers: body size, framing, who counts as one
client, and no 500 from a Dash callback given a value of the wrong type.

- Bodies over Settings.max_request_bytes answer 413 before they are read (Content-Length), or
  as soon as the limit is crossed (chunked): one large POST must not take the pod's memory.
- Every answer carries `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`, unless
  Settings.frame_ancestors names the origins that may embed meshdash (then CSP only, since
  X-Frame-Options cannot list origins): no other site can frame a page under a user's click.
- CLIENT (collectors/cache.py) is set per request for the per-client quota of uncached queries:
  the user the trusted proxy names, else the peer address.
- A Dash callback that raises on an unexpected input (a list where a string was expected, a
  crafted POST) answers 400 naming the input that changed, in the API's JSON shape; the log
  keeps the traceback. One handler for every page, so pages need no per-callback guards.
"""

from __future__ import annotations

import logging
from typing import Any

from dash.exceptions import CallbackException
from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import WSGIRequestHandler

from access import security
from collectors.cache import CLIENT

log = logging.getLogger("meshdash.http")

DASH_CALLBACK_PATH = "_dash-update-component"
# What a callback raises when handed a type it never expected, or echoes one Dash cannot send
# back (an integer past JSON's safe range): the input's fault, so a 400, not a 500.
_INPUT_ERRORS = (
    TypeError,
    ValueError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    CallbackException,  # e.g. InvalidCallbackReturnValue, or outputs not as declared
)


def frame_headers(frame_ancestors: tuple[str, ...]) -> dict[str, str]:
    """The anti-framing headers for the configured embedding origins (none by default)."""
    if not frame_ancestors:
        return {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
    return {"Content-Security-Policy": "frame-ancestors " + " ".join(frame_ancestors)}


def client_key(settings: Any) -> str:
    """Who counts as one client: the identified user; else, behind the trusted proxy, the
    address it appended to X-Forwarded-For (the last one: earlier ones the client may forge);
    else the peer address."""
    identity = security.current_identity(settings)
    if identity is not None and identity.source != "demo":
        return f"user:{identity.user}"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and security.from_trusted_proxy(request.headers, request.remote_addr, settings):
        return f"addr:{forwarded.split(',')[-1].strip()[:64]}"
    return f"addr:{request.remote_addr or '?'}"


def _changed_input() -> str:
    body = request.get_json(silent=True)
    changed = body.get("changedPropIds") if isinstance(body, dict) else None
    if isinstance(changed, list) and changed and isinstance(changed[0], str):
        return changed[0][:200]
    return "inputs"


def install(server: Flask, settings: Any) -> None:
    server.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    headers = frame_headers(tuple(settings.frame_ancestors))

    @server.before_request
    def _limits():
        length = request.content_length
        if length is not None and length > settings.max_request_bytes:
            raise RequestEntityTooLarge()
        CLIENT.set(client_key(settings))
        return None

    @server.after_request
    def _no_framing(response):
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        return response

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(exc: RequestEntityTooLarge):
        limit = settings.max_request_bytes
        body = {
            "error": f"the request body is over the limit of {limit:,} bytes "
            "(MESHDASH_MAX_REQUEST_BYTES)",
            "field": "body",
        }
        response = jsonify(body)
        response.status_code = 413
        response.headers["Connection"] = "close"  # do not read the rest of a huge body
        return response

    @server.errorhandler(Exception)
    def _callback_crash(exc: Exception):
        if isinstance(exc, HTTPException):
            return exc
        if request.path.endswith(DASH_CALLBACK_PATH) and isinstance(exc, _INPUT_ERRORS):
            field = _changed_input()
            log.warning("a Dash callback refused its input %s", field, exc_info=exc)
            return jsonify(
                {"error": "the page sent a value this view cannot use; reload it", "field": field}
            ), 400
        log.error("unexpected error", exc_info=exc)
        return jsonify({"error": "internal error; see the server log"}), 500


class DevRequestHandler(WSGIRequestHandler):
    """The development server (`python app.py`), marking identity headers sent twice as
    gunicorn.conf.py's pre_request does: WSGI joins repeats, so only the server can tell."""

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ.pop("HTTP_" + security.REPEATED_HEADER.upper().replace("-", "_"), None)
        repeated = security.repeated_identity_headers(self.headers.keys())
        if repeated:
            environ[security.REPEATED_ENVIRON] = ",".join(repeated)
        return environ
