"""Settings, from CLI flags or MESHDASH_* environment variables; parsed once in app.py."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mesh import validate
from mesh.canary.config import CanaryConfig
from mesh.errors import BadRequest


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESHDASH_", extra="ignore", frozen=True)

    prometheus_url: str | None = Field(None, description="Prometheus base URL; unset means demo")
    prometheus_clusters: dict[str, str] = Field(
        default_factory=dict,
        description="one Prometheus per cluster instead of the URL: JSON object cluster -> URL",
    )
    jaeger_url: str | None = Field(None, description="Jaeger query base URL")
    kube_context: str | None = Field(None, description="kubeconfig context for route reads/writes")
    kube_enabled: bool = Field(False, description="read Istio routes from Kubernetes")
    demo_ambient: bool = Field(
        False, description="demo mode: Bookinfo in Istio's ambient mode (waypoint telemetry)"
    )

    host: str = Field("127.0.0.1", description="address the dashboard listens on")
    port: int = Field(8050, ge=1, le=65535, description="port the dashboard listens on")

    # 30 s: a 1,000-workload mesh's first graph on a freshly started Prometheus reads ~80,000
    # bucket series from disk (README "Measured figures"); a hung backend still ends in 504.
    prometheus_timeout_s: float = Field(
        30.0, gt=0, le=300, description="per-query timeout (504 past it)"
    )
    jaeger_timeout_s: float = Field(10.0, gt=0, le=300, description="Jaeger request timeout")
    kube_timeout_s: float = Field(10.0, gt=0, le=300, description="Kubernetes API request timeout")

    # Answer limits (issue 17, collectors/http.py): past them a call fails with a 502 naming
    # the limit and this setting, instead of taking the process's memory.
    prometheus_max_response_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="largest Prometheus answer read, in bytes"
    )
    # The graph's latency query answers 20 bucket series per edge: 80,000 for a 1,000-workload,
    # 4,000-edge mesh. The byte limit above bounds the memory an answer can take.
    prometheus_max_series: int = Field(
        200_000, ge=1, description="most series one Prometheus query may answer"
    )
    jaeger_max_response_bytes: int = Field(
        128 * 1024 * 1024, ge=1024, description="largest Jaeger answer read, in bytes"
    )
    jaeger_max_spans: int = Field(
        100_000, ge=1, description="most spans one Jaeger answer may hold (all its traces)"
    )

    # Backend connections (issue 8, collectors/http.py; docs/backends.md). Secrets are SecretStr
    # so they never show in a repr, a log or an error; headers are JSON in the environment, e.g.
    # MESHDASH_PROMETHEUS_HEADERS='{"X-Scope-OrgID": "tenant-a"}'.
    prometheus_bearer_token: SecretStr | None = Field(
        None, description="Prometheus bearer token (prefer the token file)"
    )
    prometheus_bearer_token_file: Path | None = Field(
        None, description="file holding the Prometheus bearer token, re-read when it changes"
    )
    prometheus_basic_auth_user: str | None = Field(None, description="Prometheus basic auth user")
    prometheus_basic_auth_password: SecretStr | None = Field(
        None, description="Prometheus basic auth password"
    )
    prometheus_headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="extra headers sent to Prometheus (JSON object)"
    )
    prometheus_ca_file: Path | None = Field(
        None, description="CA bundle that signs Prometheus's certificate"
    )
    prometheus_cert_file: Path | None = Field(
        None, description="client certificate for Prometheus (mTLS)"
    )
    prometheus_key_file: Path | None = Field(
        None, description="client certificate key for Prometheus (mTLS)"
    )
    prometheus_insecure_skip_verify: bool = Field(
        False, description="do not verify Prometheus's TLS certificate (logs a warning)"
    )
    jaeger_bearer_token: SecretStr | None = Field(
        None, description="Jaeger bearer token (prefer the token file)"
    )
    jaeger_bearer_token_file: Path | None = Field(
        None, description="file holding the Jaeger bearer token, re-read when it changes"
    )
    jaeger_basic_auth_user: str | None = Field(None, description="Jaeger basic auth user")
    jaeger_basic_auth_password: SecretStr | None = Field(
        None, description="Jaeger basic auth password"
    )
    jaeger_headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="extra headers sent to Jaeger (JSON object)"
    )
    jaeger_ca_file: Path | None = Field(
        None, description="CA bundle that signs Jaeger's certificate"
    )
    jaeger_cert_file: Path | None = Field(None, description="client certificate for Jaeger (mTLS)")
    jaeger_key_file: Path | None = Field(
        None, description="client certificate key for Jaeger (mTLS)"
    )
    jaeger_insecure_skip_verify: bool = Field(
        False, description="do not verify Jaeger's TLS certificate (logs a warning)"
    )

    default_namespaces: tuple[str, ...] = Field(
        ("bookinfo",), description='namespaces shown when a link names none (JSON list: ["a","b"])'
    )
    refresh_interval_s: int = Field(15, ge=1, le=3600, description="cache TTL and default refresh")
    # Large meshes (issue 16): the topology opens on the namespace graph above this many nodes,
    # and the server lays out graphs above the second figure (mesh/graph/positions.py).
    graph_namespace_above: int = Field(
        300, ge=1, description="workload graphs above this many nodes open as the namespace graph"
    )
    graph_server_layout_above: int = Field(
        60, ge=0, description="graphs above this many nodes get positions from the server"
    )

    # Health thresholds (fractions), Kiali's defaults.
    health_5xx_degraded: float = Field(
        0.0, ge=0, le=1, description="5xx ratio above which health is degraded"
    )
    health_5xx_failure: float = Field(
        0.10, ge=0, le=1, description="5xx ratio at which health is failure"
    )
    health_4xx_degraded: float = Field(
        0.10, ge=0, le=1, description="4xx ratio at which health is degraded"
    )
    health_4xx_failure: float = Field(
        0.20, ge=0, le=1, description="4xx ratio at which health is failure"
    )

    write_enabled: bool | None = Field(None, description="route writes; default on in demo only")
    rollout_tick_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="guided rollouts: seconds between driver checks; 0 runs no driver here",
    )
    rollout_lease_s: int = Field(
        30,
        ge=2,
        le=600,
        description="guided rollouts: seconds a silent driver keeps its Lease before another "
        "process takes over (leaseDurationSeconds; keep it well above the tick)",
    )
    audit_log: Path = Field(
        Path("var/audit.jsonl"),
        description="JSON Lines audit log of route changes (the local copy; demo mode's only one)",
    )
    audit_in_cluster: bool = Field(
        True,
        description="with Kubernetes, keep the shared audit trail in ConfigMaps (docs/audit.md)",
    )
    audit_namespace: str = Field(
        "meshdash", description="namespace of the audit trail's ConfigMaps (meshdash's own)"
    )

    # Route-write security (issue 5, access/security.py). Lists and maps are JSON in the environment,
    # e.g. MESHDASH_ALLOWED_GROUPS='["release-managers"]', MESHDASH_API_TOKENS='{"ci-bot": "..."}'.
    trusted_proxy: bool = Field(
        False, description="honour X-Forwarded-User/Email/Groups (only behind an auth proxy)"
    )
    allowed_users: tuple[str, ...] = Field(
        (), description="users or emails allowed to change routes; empty with no groups: anyone"
    )
    allowed_groups: tuple[str, ...] = Field((), description="groups allowed to change routes")
    api_tokens: dict[str, SecretStr] = Field(
        default_factory=dict, description="bearer tokens by user name, for scripts and CI"
    )
    csrf_secret: SecretStr | None = Field(
        None, description="signs CSRF cookies; set it when several workers serve one site"
    )

    # Hardening (issue 17, docs/security.md): who may send identity headers, request size,
    # framing, and how many uncached queries one client may start.
    trusted_proxy_cidrs: tuple[str, ...] = Field(
        ("127.0.0.1/32", "::1/128"),
        description="addresses of the auth proxy whose identity headers are honoured (JSON list)",
    )
    trusted_proxy_secret: SecretStr | None = Field(
        None,
        description="shared secret the auth proxy sends in X-Meshdash-Proxy-Secret; with it, "
        "identity headers are honoured from any address that sends it",
    )
    # 8 MiB: Dash callbacks post the page's state back, and the topology's graph of 1,000
    # workloads is about 2 MB of it (1 MiB made that page fail with 413s, issue 16).
    max_request_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="largest request body (API and Dash callbacks); 413 past it",
    )
    frame_ancestors: tuple[str, ...] = Field(
        (),
        description="origins allowed to frame meshdash (CSP frame-ancestors); empty: none may",
    )
    client_uncached_per_minute: int = Field(
        300, ge=1, description="backend queries (cache misses) one client may start per minute"
    )

    # Release review (issue 6, views/canary.py): per-service gates on top of Flagger's defaults,
    # e.g. MESHDASH_CANARY_GATES='{"bookinfo/reviews": {"max_p99_ms": 800, "min_requests": 500}}'.
    canary_gates: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="canary gates per NAMESPACE/SERVICE (JSON); fields as /api/canary's parameters",
    )

    # Serving (issue 7): shared cache, backend bounds, readiness, logs.
    cache_redis_url: str | None = Field(
        None, description="redis://host:port/db shared by workers and replicas; unset: in-process"
    )
    cache_error_ttl_s: float = Field(
        2.0, ge=0, le=60, description="how long a backend failure is served from the cache"
    )
    cache_max_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024 * 1024,
        description="bytes the in-process cache may hold; the entries expiring first go first",
    )
    backend_concurrency: int = Field(8, ge=1, le=256, description="requests in flight per backend")
    backend_waiters: int = Field(
        64,
        ge=1,
        le=1024,
        description="requests per process that may wait on backends at once (503 past it); "
        "keep it below the gunicorn threads so probes always find a free thread",
    )
    ready_required: tuple[str, ...] = Field(
        ("telemetry",), description="source roles whose failure makes /readyz answer 503"
    )
    # Under a second, so /readyz answers within the probe's budget while every backend hangs.
    ready_timeout_s: float = Field(0.8, gt=0, le=60, description="deadline of all /readyz checks")
    log_level: str = Field(
        "INFO",
        description="log level of the JSON logs",
        pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$",
    )

    @field_validator("audit_namespace")
    @classmethod
    def _valid_audit_namespace(cls, value: str) -> str:
        try:
            return validate.namespace(value)
        except BadRequest as exc:
            raise ValueError(f"audit_namespace: {exc}") from None

    @field_validator("frame_ancestors")
    @classmethod
    def _valid_ancestors(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Origins only: anything else could smuggle another directive into the CSP header."""
        for origin in value:
            if not re.fullmatch(r"'self'|https?://[A-Za-z0-9.*:\[\]-]+(:[0-9]+)?", origin):
                raise ValueError(f"frame_ancestors: {origin[:60]!r} is not an http(s) origin")
        return value

    @field_validator("trusted_proxy_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"trusted_proxy_cidrs: {cidr[:60]!r} is not a CIDR") from None
        return value

    @field_validator("canary_gates")
    @classmethod
    def _valid_gates(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        """Refuse a bad gate at start-up, not at the first review of that service."""
        for key, gates in value.items():
            namespace, _, service = key.partition("/")
            try:
                validate.namespace(namespace)
                validate.service_name(service)
                CanaryConfig.from_mapping(gates)
            except BadRequest as exc:
                raise ValueError(f"canary_gates[{key!r}]: {exc}") from None
        return value

    @property
    def demo(self) -> bool:
        """No backend URL at all means the embedded Bookinfo simulator."""
        return (
            not self.prometheus_url
            and not self.prometheus_clusters
            and not self.jaeger_url
            and not self.kube_enabled
        )

    @property
    def writes_allowed(self) -> bool:
        return self.demo if self.write_enabled is None else self.write_enabled
