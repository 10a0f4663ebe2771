"""One Kubernetes API call under a whole-request deadline, its transport failures typed.

The route store, the audit trail's ConfigMaps and the rollout store all speak to the same API
server through the official client; they share this one mapping, so each gets the deadline
however the server trickles (collectors/http.py) and the same errors.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import urllib3
from kubernetes.client.exceptions import ApiException

from collectors.backend_status import connection_reason
from collectors.http import deadline
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendTimeout,
    BackendUnavailable,
)

BACKEND = "kubernetes"
T = TypeVar("T")


def status_message(exc: ApiException) -> str:
    """The API server's own message for a refused request, else its status line."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        body = None
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])
    return f"{exc.status} {exc.reason or ''}".strip()


def read_body(fn: Callable[..., Any]) -> Callable[..., bytes]:
    """`fn` answering its raw body, read inside the call (a stall or a cut mid-body then maps
    like a failed request) and its connection released."""

    def send(*args: Any, **kwargs: Any) -> bytes:
        resp = fn(*args, _preload_content=False, **kwargs)
        try:
            return resp.data
        finally:
            resp.release_conn()

    return send


def call_api(fn: Callable[..., T], *args: Any, host: str, timeout_s: float, **kwargs: Any) -> T:
    """fn(*args) within `timeout_s` as a whole, however the server trickles: a BackendTimeout
    past it; transport failures become typed backend errors (an ApiException other than
    401/403 passes, for the caller to read its status)."""
    with deadline(timeout_s) as d:
        try:
            result = _call_once(fn, args, kwargs, host, float(timeout_s))
        except (BackendDataError, BackendUnavailable):
            if d.expired:
                raise BackendTimeout(BACKEND, f"no answer within {timeout_s:g}s") from None
            raise
        if d.expired:  # what arrived before the cut is not the whole answer
            raise BackendTimeout(BACKEND, f"no answer within {timeout_s:g}s")
        return result


def _call_once(fn: Callable[..., T], args: tuple, kwargs: dict, host: str, timeout_s: float) -> T:
    try:
        return fn(*args, _request_timeout=(timeout_s, timeout_s), **kwargs)
    except ApiException as exc:
        if exc.status == 0:
            raise BackendUnavailable(BACKEND, exc.reason or "TLS failure") from None
        if exc.status in (401, 403):
            raise BackendAuthError(BACKEND, status_message(exc)) from None
        raise
    except urllib3.exceptions.MaxRetryError as exc:
        # NewConnectionError subclasses ConnectTimeoutError in urllib3: test it first.
        if isinstance(exc.reason, urllib3.exceptions.NewConnectionError):
            raise _unreachable(host, exc) from None
        if isinstance(exc.reason, urllib3.exceptions.TimeoutError):
            raise BackendTimeout(BACKEND, f"no answer within {timeout_s:g}s") from None
        raise _unreachable(host, exc) from None
    except urllib3.exceptions.NewConnectionError as exc:
        raise _unreachable(host, exc) from None
    except urllib3.exceptions.TimeoutError:
        raise BackendTimeout(BACKEND, f"no answer within {timeout_s:g}s") from None
    except urllib3.exceptions.ProtocolError as exc:
        if any(isinstance(a, http.client.IncompleteRead) for a in exc.args):
            raise BackendDataError(
                BACKEND, "the answer was cut short (the connection closed mid-body)"
            ) from None
        raise _unreachable(host, exc) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _unreachable(host, exc) from None


def _unreachable(host: str, exc: BaseException) -> BackendUnavailable:
    return BackendUnavailable(BACKEND, f"cannot reach {host}: {connection_reason(exc)}")
