"""The canary analysis view: one code path for /api/canary/NS/SERVICE and the release pages.

Query keys (the same in the API and a page URL): namespace, service (the API takes both from
its path), baseline, canary, window (default 10m), at (UNIX seconds, default now), and optional
gate overrides named as CanaryConfig's fields (min_requests, min_success_rate, max_p99_ms,
alpha, max_error_increase, slower_effect). Per-service defaults come from
`settings.canary_gates` ({"NAMESPACE/SERVICE": {field: value}}).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mesh import validate
from mesh.canary import (
    CanaryAnalysis,
    CanaryConfig,
    CanaryQuery,
    CanaryTelemetry,
    analysis_json,
    analyze_telemetry,
)
from mesh.errors import BackendUnavailable, BadRequest
from mesh.sources import CanarySource
from services import Services
from views.params import get_one

DEFAULT_WINDOW = "10m"
GATE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CanaryConfig))
_FAR_FUTURE = 4102444800.0  # parse-time bound; the real clock is applied in the view


@dataclass(frozen=True, slots=True)
class CanaryParams:
    namespace: str
    service: str
    baseline: str
    canary: str
    window: str
    window_s: int
    at: float | None  # None: now, resolved when the view is computed
    overrides: tuple[tuple[str, str], ...] = ()  # gate settings from the request


def parse_canary_params(
    args: Any, namespace: str | None = None, service: str | None = None
) -> CanaryParams:
    """Validate everything before any backend sees it; raise BadRequest with the reason."""
    ns = namespace if namespace is not None else get_one(args, "namespace")
    svc = service if service is not None else get_one(args, "service")
    if not ns:
        raise BadRequest("namespace is required", field="namespace")
    if not svc:
        raise BadRequest("service is required", field="service")
    baseline = get_one(args, "baseline")
    canary = get_one(args, "canary")
    if not baseline:
        raise BadRequest("baseline (the stable version, e.g. v1) is required", field="baseline")
    if not canary:
        raise BadRequest("canary (the new version, e.g. v2) is required", field="canary")
    baseline = validate.label_value(baseline, field="baseline")
    canary = validate.label_value(canary, field="canary")
    if baseline == canary:
        raise BadRequest("baseline and canary must be different versions", field="canary")
    window_s = validate.duration_seconds(get_one(args, "window", DEFAULT_WINDOW) or DEFAULT_WINDOW)
    at_raw = get_one(args, "at")
    at = None if not at_raw else validate.unix_time(at_raw, now=_FAR_FUTURE)
    overrides = tuple((k, v) for k in GATE_KEYS if (v := get_one(args, k)) is not None)
    params = CanaryParams(
        validate.namespace(ns),
        validate.service_name(svc),
        baseline,
        canary,
        validate.format_duration(window_s),
        window_s,
        at,
        overrides,
    )
    CanaryConfig.from_mapping(dict(overrides))  # refuse bad gate values now, with the field
    return params


def canary_config(services: Services, params: CanaryParams) -> CanaryConfig:
    """Flagger's defaults, then the service's configured gates, then the request's overrides."""
    per_service = services.settings.canary_gates.get(f"{params.namespace}/{params.service}", {})
    base = CanaryConfig.from_mapping(per_service)
    return CanaryConfig.from_mapping(dict(params.overrides), base)


def canary_source(services: Services) -> CanarySource:
    """Services.canary when wired, else a telemetry source that also offers canary counts."""
    for candidate in (getattr(services, "canary", None), services.telemetry):
        if candidate is not None and isinstance(candidate, CanarySource):
            return candidate
    raise BackendUnavailable("canary", "no source of per-version counts is configured")


def canary_query(services: Services, params: CanaryParams) -> CanaryQuery:
    now = services.clock()
    at = now if params.at is None else validate.unix_time(params.at, now=now)
    return CanaryQuery(
        params.namespace, params.service, params.baseline, params.canary, params.window_s, at
    )


def canary_model(
    services: Services, params: CanaryParams
) -> tuple[CanaryAnalysis, CanaryTelemetry]:
    """The analysis and the telemetry behind it (pages chart the buckets from the latter)."""
    config = canary_config(services, params)
    telemetry = canary_source(services).canary_telemetry(canary_query(services, params))
    return analyze_telemetry(telemetry, config), telemetry


def canary_view(services: Services, params: CanaryParams) -> dict[str, Any]:
    """Ask the canary source once and return the JSON-ready analysis (the API's exact body)."""
    analysis, telemetry = canary_model(services, params)
    q = telemetry.query
    return {
        "namespace": q.namespace,
        "service": q.service,
        "window": params.window,
        "at": int(q.at) if float(q.at).is_integer() else q.at,
        **analysis_json(analysis),
        "queries": telemetry.queries_sent,
        "source": canary_source(services).name,
    }
