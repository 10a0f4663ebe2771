"""A generic description of a simulated mesh: workloads, the calls between them, their errors
and latencies.

Frozen data only, so tests and benchmarks can describe any mesh (Bookinfo is one instance, see
demo/bookinfo.py) and the traffic model (demo/traffic.py) can turn it into rates at any time.
A call goes from a caller WORKLOAD to a destination SERVICE; the service's versions share it by
weights held in demo/state.py, which is how a canary shift moves traffic downstream too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from mesh.quantiles import ISTIO_BUCKETS_MS

PROTOCOLS = ("http", "grpc", "tcp")

# Envoy's mapping of an HTTP status to a gRPC status (Grpc::Utility::httpToGrpcStatus), used when
# a gRPC call fails at the HTTP level.
_HTTP_TO_GRPC = {400: 13, 401: 16, 403: 7, 404: 12, 429: 14, 502: 14, 503: 14, 504: 14}


def grpc_status_for_http(code: int) -> int:
    return _HTTP_TO_GRPC.get(code, 2)


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Server time of one workload: lognormal with the given median and log-space sigma.

    Bucket probabilities come straight from the CDF, so every histogram the demo reports is
    deterministic (no sampling) and its quantiles are reproducible to the last digit.
    """

    median_ms: float = 5.0
    sigma: float = 0.5

    def __post_init__(self) -> None:
        if not (self.median_ms > 0 and math.isfinite(self.median_ms)):
            raise ValueError("median_ms must be positive")
        if not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError("sigma must be positive")

    def cdf(self, x_ms: float, factor: float = 1.0, shift_ms: float = 0.0) -> float:
        """P(latency <= x) for the model slowed by `factor` plus a constant `shift_ms`."""
        x = x_ms - shift_ms
        if x <= 0:
            return 0.0
        z = (math.log(x) - math.log(self.median_ms * factor)) / self.sigma
        return 0.5 * math.erfc(-z / math.sqrt(2.0))

    def bucket_cdf(
        self,
        factor: float = 1.0,
        shift_ms: float = 0.0,
        bounds: tuple[float, ...] = ISTIO_BUCKETS_MS,
    ) -> tuple[float, ...]:
        """Cumulative share of requests at or below each finite bound (the +Inf bucket is 1)."""
        return tuple(self.cdf(b, factor, shift_ms) for b in bounds)

    def mean_ms(self, factor: float = 1.0, shift_ms: float = 0.0) -> float:
        return self.median_ms * factor * math.exp(self.sigma**2 / 2.0) + shift_ms


@dataclass(frozen=True, slots=True)
class Outcome:
    """One response class as Istio labels it."""

    response_code: str  # "200", "503", "0" (no response)
    grpc_status: str  # "" for HTTP, "0" OK, "1".."16" for gRPC
    response_flags: str = "-"


@dataclass(frozen=True, slots=True)
class ErrorModel:
    """Shares of failing requests on a call (fractions of all requests).

    http_5xx/http_4xx/no_response are HTTP-level (for gRPC calls Envoy maps the HTTP code to a
    gRPC status, e.g. 503 -> 14). grpc_errors are (status 1..16, share) answered with HTTP 200,
    the way gRPC servers fail: DESIGN.md counts them as errors even though response_code is 200.
    """

    http_5xx: float = 0.0
    http_4xx: float = 0.0
    no_response: float = 0.0
    grpc_errors: tuple[tuple[int, float], ...] = ()
    code_5xx: int = 503
    code_4xx: int = 404
    # Envoy's response flags on the everyday 5xx: a connection to a pod failed (UF), or, on a
    # call with retries, the upstream kept answering 503 until they ran out (URX). A fault's
    # own failures are UF too, so they add to the same series as a real burst does. An app's
    # own 4xx carries none ("-"): Envoy saw nothing wrong.
    flags_5xx: str = "UF"

    def __post_init__(self) -> None:
        shares = [self.http_5xx, self.http_4xx, self.no_response, *(s for _, s in self.grpc_errors)]
        if any(s < 0 or not math.isfinite(s) for s in shares) or sum(shares) > 1.0 + 1e-12:
            raise ValueError("error shares must be non-negative and sum to at most 1")
        if any(not 1 <= st <= 16 for st, _ in self.grpc_errors):
            raise ValueError("gRPC error statuses are 1..16")
        if not (500 <= self.code_5xx <= 599 and 400 <= self.code_4xx <= 499):
            raise ValueError("code_5xx must be 5xx and code_4xx must be 4xx")

    def outcomes(
        self, protocol: str, extra_5xx: float = 0.0, own_5xx: float | None = None
    ) -> tuple[tuple[Outcome, float], ...]:
        """(outcome, share) pairs summing to 1; `extra_5xx` is a fault's error rate on top.

        A fault takes its share from every outcome proportionally, as a broken version would.
        `own_5xx` (all of `extra_5xx` when None) is the part the destination's own fault causes,
        flagged as Envoy does: UF (the connection to a failing pod failed) or, when every request
        fails, UH (outlier detection ejected every endpoint: no healthy upstream). The rest is
        failures passed on from further down, which the application answers itself ("-").
        """
        extra = min(max(extra_5xx, 0.0), 1.0)
        own = extra if own_5xx is None else min(max(own_5xx, 0.0), extra)
        own_flags = "UH" if own >= 1.0 else "UF"
        keep = 1.0 - extra
        grpc = protocol == "grpc"
        out: list[tuple[Outcome, float]] = []

        def add(outcome: Outcome, share: float) -> None:
            if share > 0:
                out.append((outcome, share))

        def http(code: int, flags: str = "-") -> Outcome:
            return Outcome(str(code), str(grpc_status_for_http(code)) if grpc else "", flags)

        failing = self.http_5xx + self.http_4xx + self.no_response
        failing += sum(s for _, s in self.grpc_errors)
        add(Outcome("200", "0" if grpc else ""), keep * (1.0 - failing))
        for status, share in self.grpc_errors:
            add(Outcome("200", str(status) if grpc else ""), keep * share)
        add(http(self.code_5xx, self.flags_5xx), keep * self.http_5xx)
        add(http(self.code_4xx), keep * self.http_4xx)
        add(Outcome("0", "", "DC"), keep * self.no_response)
        if grpc:  # Envoy answers a failed gRPC upstream with status 14 (UNAVAILABLE)
            add(Outcome("200", "14", own_flags), own)
            add(Outcome("200", "14"), extra - own)
        else:
            add(http(self.code_5xx, own_flags), own)
            add(http(self.code_5xx), extra - own)
        merged: dict[Outcome, float] = {}
        for o, s in out:
            merged[o] = merged.get(o, 0.0) + s
        return tuple(merged.items())

    def extra_outcome(self, protocol: str) -> Outcome:
        """The outcome `outcomes` gives its `extra_5xx` share: how a fault, or a failure passed
        on from a callee, answers on this call."""
        if protocol == "grpc":
            return Outcome("200", "14")
        return Outcome(str(self.code_5xx), "")


@dataclass(frozen=True, slots=True)
class Workload:
    """A deployment with a sidecar (meshed) or without (its calls show as source "unknown").

    `service` is the Kubernetes service it is reached through ("" for a pure caller such as a
    load generator). app/version are the canonical service and revision labels.
    """

    namespace: str
    name: str
    app: str
    version: str = "v1"
    service: str = ""
    meshed: bool = True
    cluster: str = ""
    latency: LatencyModel = field(default_factory=LatencyModel)
    service_account: str = ""
    # False: its callers reach it in plain text (a DestinationRule with tls mode DISABLE, or
    # a PERMISSIVE port taking plain text): its destination reports say
    # connection_security_policy="none", what a security review looks for before STRICT mode.
    mtls: bool = True

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def principal(self) -> str:
        sa = self.service_account or self.app
        return f"spiffe://cluster.local/ns/{self.namespace}/sa/{sa}"


@dataclass(frozen=True, slots=True)
class Call:
    """Traffic from a caller workload to a destination service.

    Requests per second are `rps` (fixed) plus `per_request` times the caller's inbound request
    rate, so a split upstream flows downstream (productpage calls reviews once per request).
    For tcp, `rps` is connections opened per second and sent_bps/received_bps are the bytes per
    second client->server and server->client.

    `propagate` is the share of this call's failures the caller answers with a 5xx of its own
    (0: the caller degrades gracefully; 1: any failure of the callee fails the caller's
    request), so a failing leaf turns its callers red, as an outage does on call.
    """

    source_namespace: str
    source: str
    namespace: str
    service: str
    protocol: str = "http"
    rps: float = 0.0
    per_request: float = 0.0
    errors: ErrorModel = field(default_factory=ErrorModel)
    sent_bps: float = 0.0
    received_bps: float = 0.0
    propagate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.propagate <= 1.0:
            raise ValueError("propagate must be between 0 and 1")
        if self.propagate and not self.per_request:
            raise ValueError("only per-request calls pass their failures on to the caller")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}")
        if self.rps < 0 or self.per_request < 0 or self.sent_bps < 0 or self.received_bps < 0:
            raise ValueError("rates must be non-negative")
        if self.protocol == "tcp" and self.per_request:
            raise ValueError("tcp calls have fixed rates (rps = connections/s, bytes/s)")
        if self.protocol != "grpc" and self.errors.grpc_errors:
            raise ValueError("grpc_errors only apply to grpc calls")

    @property
    def source_key(self) -> tuple[str, str]:
        return (self.source_namespace, self.source)

    @property
    def service_key(self) -> tuple[str, str]:
        return (self.namespace, self.service)


@dataclass(frozen=True, slots=True)
class MeshSpec:
    """A whole mesh. `splits` are default version weights per (namespace, service); a service
    without one splits equally across its versions."""

    workloads: tuple[Workload, ...]
    calls: tuple[Call, ...]
    splits: tuple[tuple[str, str, tuple[tuple[str, int], ...]], ...] = ()
    mtls: bool = True
    # Namespaces in Istio's ambient mode (no sidecars): their L7 telemetry is reported by the
    # destination's waypoint, never by an ambient caller (demo/series.py ambient_reporter).
    ambient_namespaces: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        keys = [w.key for w in self.workloads]
        if len(set(keys)) != len(keys):
            raise ValueError("workload (namespace, name) pairs must be unique")
        versions: dict[tuple[str, str], set[str]] = {}
        for w in self.workloads:
            if w.service:
                seen = versions.setdefault((w.namespace, w.service), set())
                if w.version in seen:
                    raise ValueError(f"two workloads serve {w.namespace}/{w.service} {w.version}")
                seen.add(w.version)
        by_key = dict(zip(keys, self.workloads, strict=True))
        for c in self.calls:
            if c.source_key not in by_key:
                raise ValueError(f"call from unknown workload {c.source_namespace}/{c.source}")
            targets = self.versions(c.namespace, c.service)
            if not targets:
                raise ValueError(f"call to service {c.namespace}/{c.service} that has no workload")
            for w in targets.values():
                if not w.meshed:
                    raise ValueError(f"{w.namespace}/{w.name} is called but has no sidecar")
        for ns, svc, weights in self.splits:
            _check_weights(dict(weights), set(self.versions(ns, svc)), f"{ns}/{svc}")

    def workload(self, namespace: str, name: str) -> Workload:
        for w in self.workloads:
            if w.namespace == namespace and w.name == name:
                return w
        raise KeyError(f"{namespace}/{name}")

    def versions(self, namespace: str, service: str) -> dict[str, Workload]:
        """The workloads behind a service, by version, in spec order."""
        return {
            w.version: w
            for w in self.workloads
            if w.namespace == namespace and w.service == service
        }

    def services(self) -> tuple[tuple[str, str], ...]:
        return tuple(dict.fromkeys((w.namespace, w.service) for w in self.workloads if w.service))

    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({w.namespace for w in self.workloads}))

    def default_split(self, namespace: str, service: str) -> dict[str, int]:
        """The spec's weights for a service, or an equal split (remainder to the first ones)."""
        for ns, svc, weights in self.splits:
            if (ns, svc) == (namespace, service):
                return dict(weights)
        versions = list(self.versions(namespace, service))
        if not versions:
            return {}
        base, extra = divmod(100, len(versions))
        return {v: base + (1 if i < extra else 0) for i, v in enumerate(versions)}


def check_weights(weights: Mapping[str, int], versions: set[str], what: str) -> dict[str, int]:
    """Weights are integers 0..100 summing to 100 over known versions (DESIGN.md routing)."""
    return _check_weights(dict(weights), versions, what)


def _check_weights(weights: dict[str, int], versions: set[str], what: str) -> dict[str, int]:
    for v, w in weights.items():
        if v not in versions:
            raise ValueError(f"{what} has no version {v!r}")
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 100:
            raise ValueError(f"{what} weight for {v} must be an integer 0..100")
    if sum(weights.values()) != 100:
        raise ValueError(f"{what} weights must sum to 100, not {sum(weights.values())}")
    return weights
