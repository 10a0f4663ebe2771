"""What every collector says about a backend: why a connection failed (credential-free), and
its /readyz entry, split into reachable and authenticated."""

from __future__ import annotations

import errno

import requests

from mesh.errors import BackendAuthError, BackendError, BackendTimeout, BackendUnavailable


def connection_reason(exc: BaseException) -> str:
    """A short, credential-free reason for a failed connection, found in the exception chain."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if "Name or service not known" in str(e) or "nodename nor servname" in str(e):
            return "host name not found"
        if isinstance(e, requests.exceptions.SSLError) or "SSL" in type(e).__name__:
            return "TLS handshake failed"
        if isinstance(e, ConnectionResetError) or "RemoteDisconnected" in type(e).__name__:
            return "the connection was closed by the server"
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return "connection failed"


def ready_entry(
    ok: bool,
    detail: str,
    version: str | None = None,
    *,
    reachable: bool | None = None,
    authenticated: bool | None = None,
) -> dict[str, object]:
    """One backend's /readyz report. reachable and authenticated are None where the check
    cannot tell (the demo, a source without a check, a check that missed the deadline)."""
    return {
        "ok": ok,
        "detail": detail,
        "version": version,
        "reachable": reachable,
        "authenticated": authenticated,
    }


def ready_answer(
    detail: str, version: str | None = None, *, authenticated: bool | None = True
) -> dict[str, object]:
    """A passing /readyz check: the backend answered, and (by default) accepted our credentials."""
    return ready_entry(True, detail, version, reachable=True, authenticated=authenticated)


def not_ready(exc: BackendError, version: str | None = None) -> dict[str, object]:
    """A failing /readyz check split into reachable and authenticated, so whoever reads it knows
    whether to look at the network or at the credentials. None: this failure cannot tell."""
    if isinstance(exc, BackendUnavailable | BackendTimeout):
        reachable, authenticated = False, None
    elif isinstance(exc, BackendAuthError):
        reachable, authenticated = True, False
    else:  # it answered, but wrongly: whether it checked our credentials is unknown
        reachable, authenticated = True, None
    return ready_entry(False, exc.cause, version, reachable=reachable, authenticated=authenticated)
