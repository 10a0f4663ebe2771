"""Envoy's response flags in plain words, for the on-call engineer reading an edge.

Istio copies Envoy's `%RESPONSE_FLAGS%` into the `response_flags` label ("-" when none, several
joined by commas, e.g. "UH,URX"). A 503 with NR means the route is missing, not that the service
is broken: the words below say what to look at.
"""

from __future__ import annotations

FLAG_WORDS: dict[str, str] = {
    "NR": "no route configured (no VirtualService route or listener for this host)",
    "UH": "no healthy upstream (every endpoint ejected, failing health checks, or none exist)",
    "UF": "upstream connection failure (the callee refused or dropped the connection)",
    "URX": "retry limit reached (every retry or connect attempt failed)",
    "DC": "downstream closed the connection (the caller gave up)",
    "UO": "circuit breaker open (upstream overflow: too many pending requests or connections)",
    "UC": "upstream connection closed mid-request",
    "UT": "upstream request timeout",
    "LR": "connection reset locally",
    "UR": "upstream reset the connection",
    "DI": "delayed by fault injection",
    "FI": "aborted by fault injection",
    "RL": "rate limited locally",
    "UAEX": "refused by the external authorization service",
    "NC": "no upstream cluster found",
    "DT": "request or connection exceeded its maximum duration",
    "SI": "stream idle timeout",
}


def split_flags(flags: str) -> tuple[str, ...]:
    """The individual flags of one label value; "-" and "" mean none."""
    return tuple(f for f in (part.strip() for part in flags.split(",")) if f and f != "-")


def explain(flags: str) -> tuple[tuple[str, str], ...]:
    """(flag, plain words) for every flag in `flags`; an unknown flag is named as such."""
    return tuple(
        (flag, FLAG_WORDS.get(flag, "an Envoy response flag meshdash does not describe"))
        for flag in split_flags(flags)
    )
