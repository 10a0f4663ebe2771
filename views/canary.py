"""The canary analysis view: one code path for /api/canary/NS/SERVICE and the release pages.

Query keys (the same in the API and a page URL): namespace, service (the API takes both from
its path), baseline, canary, window (default 10m), at (UNIX seconds, default now), and optional
gate overrides named as CanaryConfig's fields (min_requests, min_success_rate, max_p99_ms,
alpha, max_error_increase, slower_effect). Per-service defaults come from
`settings.canary_gates` ({"NAMESPACE/SERVICE": {field: value}}). The verdict itself is the use
case usecases/canary_verdict.py; here the request is parsed and the answer shaped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mesh import validate
from mesh.canary.serialise import analysis_json
from mesh.canary.verdict_text import headline, sentences
from mesh.errors import BadRequest
from mesh.releases.audit import iso_time
from usecases import assemble
from usecases.canary_verdict import GATE_KEYS, CanaryModel, CanaryParams, question
from views.params import get_one, instant_of, window_of
from wiring.services import Services

DEFAULT_WINDOW = "10m"


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
    window = window_of(args, DEFAULT_WINDOW)
    at = instant_of(args, "at")
    overrides = {k: v for k in GATE_KEYS if (v := get_one(args, k)) is not None}
    return replace(question(ns, svc, baseline, canary, window, overrides), at=at)


def _window_json(params: CanaryParams, model: CanaryModel) -> dict[str, Any]:
    """The window the evidence comes from, and why it is shorter than asked when it is."""
    at = model.telemetry.query.at
    change = model.context.change
    cut = model.window_s < params.window.seconds
    return {
        "requested": params.window.text,
        "seconds": model.window_s,
        "start": at - model.window_s,
        "start_time": iso_time(at - model.window_s),
        "since_change": cut,
        "last_change": None if change is None else change.json(),
        "routing_error": model.routing_error or None,
        "note": (
            f"evidence since the weight change at {iso_time(change.when)[11:19]} UTC "
            f"({_span_text(model.window_s)} of the {params.window.text} asked)"
            if cut and change is not None
            else f"the last {params.window.text}"
        ),
    }


def _span_text(seconds: int) -> str:
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60:02d} s"


def canary_view(services: Services, params: CanaryParams) -> dict[str, Any]:
    """Ask the canary source once and return the JSON-ready analysis (the API's exact body)."""
    at = validate.at_or_now(params.at, services.clock())
    model = assemble.canary_verdict(services).judge(params, at)
    q = model.telemetry.query
    return {
        "namespace": q.namespace,
        "service": q.service,
        "window": params.window.text,
        "at": int(q.at) if float(q.at).is_integer() else q.at,
        **analysis_json(model.analysis),
        "headline": headline(model.analysis),
        "summary": list(sentences(model.analysis)),
        "analysis_window": _window_json(params, model),
        "split": dict(model.context.split) if model.context.split else None,
        "queries": model.telemetry.queries_sent,
        "source": model.source,
    }
