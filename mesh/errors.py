"""Typed errors shared by every layer, so pages and the API can answer without knowing wire details.

Collectors raise BackendError subclasses; the API maps them to 502/504 and pages to a banner.
BadRequest is raised for user input before anything reaches a backend (400).
"""

from __future__ import annotations


class MeshdashError(Exception):
    """Base of every error meshdash reports to a user."""


class BadRequest(MeshdashError, ValueError):
    """User input that is refused before any backend is asked (HTTP 400)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(MeshdashError):
    """A named thing (trace id, service, route) that does not exist (HTTP 404)."""


class NamespaceNotFound(NotFound):
    """Namespaces with no traffic that Kubernetes does not know either (HTTP 404), with the
    nearest known names, so a typo costs one click."""

    def __init__(self, missing: list[str], suggestions: list[str], why: str) -> None:
        names = ", ".join(repr(n) for n in missing)
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        plural = "s" if len(missing) > 1 else ""
        super().__init__(f"namespace{plural} {names} not found: {why}.{hint}")
        self.missing = missing
        self.suggestions = suggestions
        self.why = why
        self.field = "namespace"


# Per role: the backend the answer names ("" for none), what to do, and the HTTP status. The
# words and statuses are the ones each role has always answered with: traces 503 (the request is
# valid and no upstream failed), routes and rollouts 404, the metrics roles 502.
_NOT_CONFIGURED: dict[str, tuple[str, str, int]] = {
    "traces": ("jaeger", "no trace backend is configured (start meshdash with --jaeger URL)", 503),
    "series": ("metrics", "no time-series source is configured", 502),
    "canary": ("canary", "no source of per-version counts is configured", 502),
    "inventory": ("telemetry", "no source of request metrics is configured", 502),
    "routes": (
        "",
        "routing is not configured: start meshdash with --kube to read Istio routes",
        404,
    ),
    "rollouts": ("", "guided rollouts need routing: start meshdash with --kube (or --demo)", 404),
    "demo": (
        "",
        "the traffic simulator runs in demo mode only (start meshdash without --prometheus)",
        404,
    ),
}


class NotConfigured(MeshdashError):
    """The server was started without the source a request needs (`role`: traces, routes,
    rollouts, series, canary, inventory, demo): a set-up fact, not a backend failure.

    `backend` and `cause` are set for the roles whose answers name a backend (as BackendError's
    do); `status` is the HTTP status api/errors.py answers with.
    """

    def __init__(self, role: str) -> None:
        backend, cause, status = _NOT_CONFIGURED[role]
        super().__init__(f"{backend}: {cause}" if backend else cause)
        self.role = role
        self.backend = backend
        self.cause = cause
        self.status = status


class Forbidden(MeshdashError):
    """The caller may not do this (HTTP 403); the message says why."""


class Conflict(MeshdashError):
    """The object changed since it was read (HTTP 409); carries what changed."""

    def __init__(self, message: str, *, current: object = None, diff: str = "") -> None:
        super().__init__(message)
        self.current = current
        self.diff = diff


class BackendError(MeshdashError):
    """A backend failed. `backend` names it ("prometheus", "jaeger", "kubernetes")."""

    status = 502

    def __init__(self, backend: str, cause: str) -> None:
        super().__init__(f"{backend}: {cause}")
        self.backend = backend
        self.cause = cause


class BackendUnavailable(BackendError):
    """Connection refused, DNS failure, TLS failure: nothing answered."""


class BackendTimeout(BackendError):
    """The backend did not answer within the configured timeout (HTTP 504)."""

    status = 504


class BackendQueryError(BackendError):
    """The backend answered with an error status or an error payload."""


class BackendDataError(BackendError):
    """The backend answered 200 but the payload is unusable: invalid JSON, NaN/Inf, missing fields."""


class BackendAuthError(BackendError):
    """The backend refused our credentials (401/403 from the backend, reported as 502)."""


class AuditNotShared(MeshdashError):
    """An applied change whose audit record is not yet in the shared (cluster) trail: it is in
    the local copy and retried. Never an HTTP error: the change itself was applied."""


class RateLimited(MeshdashError):
    """One client started more uncached backend queries than its share (HTTP 429)."""

    def __init__(self, message: str, *, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Busy(BackendError):
    """Every request slot that may wait on a backend is taken (HTTP 503): answering at once keeps
    a thread free for the probes and for cached pages while backends hang."""

    status = 503
