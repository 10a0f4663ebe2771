"""The canary analysis view: one code path for /api/canary/NS/SERVICE and the release pages.

Query keys (the same in the API and a page URL): namespace, service (the API takes both from
its path), baseline, canary, window (default 10m), at (UNIX seconds, default now), and optional
gate overrides named as CanaryConfig's fields (min_requests, min_success_rate, max_p99_ms,
alpha, max_error_increase, slower_effect). Per-service defaults come from
`settings.canary_gates` ({"NAMESPACE/SERVICE": {field: value}}).

No evidence, no promote: a version that is neither in the service's routing nor in its traffic
is a 400 naming it, and the window starts no earlier than the last weight change (audit log,
the route's annotation, or the VirtualService's own write times), so evidence gathered under
another split is not counted. A canary with no weight, or all of it, is not being released:
the verdict is nothing_to_judge with the release's state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from mesh import validate
from mesh.canary.config import CanaryConfig
from mesh.canary.records import CanaryQuery, CanaryTelemetry, version_figures
from mesh.canary.serialise import analysis_json
from mesh.canary.verdict import CanaryAnalysis, analyze_telemetry, settled, withhold_promote
from mesh.canary.verdict_text import headline, sentences
from mesh.errors import BackendError, BadRequest
from mesh.releases.audit import iso_time
from mesh.releases.state import nothing_to_judge, window_since
from views.params import get_one
from views.release_context import ReleaseContext, release_context
from wiring.services import CANARY, Services

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


def canary_query(
    services: Services, params: CanaryParams, window_s: int | None = None
) -> CanaryQuery:
    now = services.clock()
    at = now if params.at is None else validate.unix_time(params.at, now=now)
    return CanaryQuery(
        params.namespace,
        params.service,
        params.baseline,
        params.canary,
        window_s or params.window_s,
        at,
    )


def _check_versions(
    params: CanaryParams, context: ReleaseContext, telemetry: CanaryTelemetry
) -> None:
    """400 for a version that is neither in the routing nor in the window's traffic."""
    for key, version in (("baseline", params.baseline), ("canary", params.canary)):
        if version in context.versions or version_figures(telemetry, version).requests > 0:
            continue
        known = ", ".join(context.versions) or "none in its routing"
        raise BadRequest(
            f"{key} {version} is not a version of {params.service}: it is not in its routing "
            f"and served no requests in the analysis window; its versions: {known}",
            field=key,
        )


@dataclass(frozen=True, slots=True)
class CanaryModel:
    analysis: CanaryAnalysis
    telemetry: CanaryTelemetry
    context: ReleaseContext
    window_s: int  # the window used: the requested one, cut at the last weight change
    routing_error: str = ""  # why the split could not be read ("" when it was)


def canary_model(services: Services, params: CanaryParams) -> CanaryModel:
    """The analysis, the telemetry behind it (pages chart its buckets) and the routing facts."""
    config = canary_config(services, params)
    query = canary_query(services, params)
    try:
        context = release_context(services, params.namespace, params.service, query.at)
        unplaced = ""
    except BackendError as exc:  # the verdict stands without the split, but cannot promote
        context = ReleaseContext(routed=False)
        unplaced = (
            f"The routing could not be read ({exc}), so the evidence could not be cut at the "
            "last weight change: no promote until it can."
        )
    window_s = window_since(query.at, params.window_s, context.change)
    query = canary_query(services, params, window_s)
    telemetry = services.need(CANARY).canary_telemetry(query)
    _check_versions(params, context, telemetry)
    analysis = analyze_telemetry(telemetry, config)
    state = nothing_to_judge(context.split, params.baseline, params.canary, context.change)
    if state is not None:
        analysis = settled(analysis, state)
    if unplaced:
        analysis = withhold_promote(analysis, unplaced)
    return CanaryModel(analysis, telemetry, context, window_s, unplaced)


def _window_json(params: CanaryParams, model: CanaryModel) -> dict[str, Any]:
    """The window the evidence comes from, and why it is shorter than asked when it is."""
    at = model.telemetry.query.at
    change = model.context.change
    cut = model.window_s < params.window_s
    return {
        "requested": params.window,
        "seconds": model.window_s,
        "start": at - model.window_s,
        "start_time": iso_time(at - model.window_s),
        "since_change": cut,
        "last_change": None if change is None else change.json(),
        "routing_error": model.routing_error or None,
        "note": (
            f"evidence since the weight change at {iso_time(change.when)[11:19]} UTC "
            f"({_span_text(model.window_s)} of the {params.window} asked)"
            if cut and change is not None
            else f"the last {params.window}"
        ),
    }


def _span_text(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60:02d} s"


def canary_view(services: Services, params: CanaryParams) -> dict[str, Any]:
    """Ask the canary source once and return the JSON-ready analysis (the API's exact body)."""
    model = canary_model(services, params)
    q = model.telemetry.query
    return {
        "namespace": q.namespace,
        "service": q.service,
        "window": params.window,
        "at": int(q.at) if float(q.at).is_integer() else q.at,
        **analysis_json(model.analysis),
        "headline": headline(model.analysis),
        "summary": list(sentences(model.analysis)),
        "analysis_window": _window_json(params, model),
        "split": dict(model.context.split) if model.context.split else None,
        "queries": model.telemetry.queries_sent,
        "source": services.need(CANARY).name,
    }
