"""The canary verdict: the evidence on a baseline and a canary version, judged.

One use case for /api/canary, the review, the write guard and the guided rollout's driver. No
evidence, no promote: a version that is neither in the service's routing nor in its traffic is
a 400 naming it, and the window starts no earlier than the last weight change (audit log, the
route's annotation, or the VirtualService's own write times), so evidence gathered under another
split is not counted. A canary with no weight, or all of it, is not being released: the verdict
is nothing_to_judge with the release's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from mesh import validate
from mesh.canary.config import CanaryConfig
from mesh.canary.records import CanaryQuery, CanaryTelemetry, version_figures
from mesh.canary.verdict import CanaryAnalysis, analyze_telemetry, settled, withhold_promote
from mesh.errors import BackendError, BadRequest
from mesh.releases.state import nothing_to_judge, window_since
from mesh.sources import CanarySource, RouteStore
from mesh.validate import TimeWindow
from usecases.release_context import ReleaseContext, release_context

GATE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CanaryConfig))


@dataclass(frozen=True, slots=True)
class CanaryParams:
    """The question: which versions of which service, over which window, at which time."""

    namespace: str
    service: str
    baseline: str
    canary: str
    window: TimeWindow
    at: float | None  # None: now, resolved once against the service's clock
    overrides: tuple[tuple[str, str], ...] = ()  # gate settings from the request


def question(
    namespace: str,
    service: str,
    baseline: str,
    canary: str,
    window: TimeWindow,
    overrides: Mapping[str, str] | None = None,
) -> CanaryParams:
    """The question validated before any backend sees it (BadRequest naming the field): a
    request's (views.canary) and meshdash's own (the write guard, the rollout driver), whose
    version names come from the routing and still go into PromQL."""
    baseline = validate.label_value(baseline, field="baseline")
    canary = validate.label_value(canary, field="canary")
    if baseline == canary:
        raise BadRequest("baseline and canary must be different versions", field="canary")
    namespace, service = validate.namespace(namespace), validate.service_name(service)
    pairs = tuple((k, overrides[k]) for k in GATE_KEYS if overrides and k in overrides)
    CanaryConfig.from_mapping(dict(pairs))  # refuse bad gate values now, with the field
    return CanaryParams(namespace, service, baseline, canary, window, None, pairs)


@dataclass(frozen=True, slots=True)
class CanaryModel:
    analysis: CanaryAnalysis
    telemetry: CanaryTelemetry
    context: ReleaseContext
    window_s: int  # the window used: the requested one, cut at the last weight change
    routing_error: str = ""  # why the split could not be read ("" when it was)
    source: str = ""  # the canary source's name


@dataclass(frozen=True)
class CanaryVerdict:
    """The collaborators: where per-version counts come from (raising the typed error when no
    source is configured), the route store (None without routing) and the per-service gates
    (settings.canary_gates, {"NAMESPACE/SERVICE": {field: value}})."""

    source: Callable[[], CanarySource]
    routes: RouteStore | None
    gates: Mapping[str, Mapping[str, Any]]

    def config(self, params: CanaryParams) -> CanaryConfig:
        """Flagger's defaults, then the service's configured gates, then the request's."""
        per_service = self.gates.get(f"{params.namespace}/{params.service}", {})
        return CanaryConfig.from_mapping(
            dict(params.overrides), CanaryConfig.from_mapping(per_service)
        )

    def judge(self, params: CanaryParams, at: float) -> CanaryModel:
        """The analysis at `at` (already checked against the clock), the telemetry behind it
        (pages chart its buckets) and the routing facts."""
        config = self.config(params)
        try:
            context = release_context(self.routes, params.namespace, params.service, at)
            unplaced = ""
        except BackendError as exc:  # the verdict stands without the split, but cannot promote
            context = ReleaseContext(routed=False)
            unplaced = (
                f"The routing could not be read ({exc}), so the evidence could not be cut at the "
                "last weight change: no promote until it can."
            )
        window_s = window_since(at, params.window.seconds, context.change)
        query = CanaryQuery(
            params.namespace, params.service, params.baseline, params.canary, window_s, at
        )
        source = self.source()
        telemetry = source.canary_telemetry(query)
        _check_versions(params, context, telemetry)
        analysis = analyze_telemetry(telemetry, config)
        state = nothing_to_judge(context.split, params.baseline, params.canary, context.change)
        if state is not None:
            analysis = settled(analysis, state)
        if unplaced:
            analysis = withhold_promote(analysis, unplaced)
        return CanaryModel(analysis, telemetry, context, window_s, unplaced, source.name)


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
