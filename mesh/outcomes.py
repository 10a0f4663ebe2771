"""Which requests failed: the one rule every figure uses (graph, history, inventory, canary).

DESIGN.md's error rules: HTTP 5xx, and 0 (no response: reset, timeout, no healthy upstream);
gRPC statuses 1-16 even under HTTP 200, because gRPC reports failures in a trailer while the
HTTP status stays 200. 4xx are client errors, judged apart with their own thresholds. Label
values are read as Prometheus gives them: surrounding blanks are ignored, and anything that
is not a plain ASCII number ("", "-", "5xx") is no error code at all.
"""

from __future__ import annotations

ERROR = "error"
CLIENT_ERROR = "client_error"
OK = "ok"


def _number(text: str | None) -> int | None:
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def classify(response_code: str, grpc_status: str = "") -> str:
    """ "error", "client_error" or "ok" for one (response_code, grpc_response_status) pair."""
    grpc = _number(grpc_status)
    if grpc is not None and 1 <= grpc <= 16:
        return ERROR
    code = _number(response_code)
    if code is None:
        return OK
    if code == 0 or 500 <= code <= 599:
        return ERROR
    if 400 <= code <= 499:
        return CLIENT_ERROR
    return OK
