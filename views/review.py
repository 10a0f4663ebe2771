"""The release review: one code path for /api/review/NS/SERVICE (and its report downloads) and
the review page and panel.

Query keys (the canary analysis's, views/canary.py, plus one): namespace, service, baseline,
canary, window (default 10m), at (UNIX seconds, default now), gate overrides, and `before`: the
time the canary started, for the graph diff. Without `before`, the start is read from the audit
log (mesh.releases.markers.canary_start: the change that gave the canary weight).

The verdict is the review: when the canary analysis fails, the whole review fails with its
typed error. Every other section (time series, weight markers, graph diff, traces, audit) fails
on its own, as {"error": "..."} in its place, so a missing Jaeger never hides the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import urlencode

from mesh import validate
from mesh.errors import BackendError, BadRequest, MeshdashError, NotConfigured
from mesh.graph.diff import DiffThresholds, diff_graphs, diff_json
from mesh.releases.audit import iso_time, merge_entries
from mesh.releases.markers import WeightMarker, canary_start, markers_json
from mesh.releases.state import release_pair
from mesh.series import Target
from mesh.telemetry_records import GraphView
from mesh.traces.records import TraceQuery
from mesh.traces.version_time import SAMPLER_TAG, time_by_version, version_time_json
from mesh.validate import TimeWindow
from usecases.canary_verdict import CanaryParams
from usecases.markers import markers_between, weight_history
from usecases.release_context import release_context
from views.canary import canary_view, parse_canary_params
from views.graph import GraphParams, graph_view
from views.history import MetricsParams, metrics_view
from views.params import instant_of
from views.traces import jaeger_service
from wiring.services import ROUTES, TRACES, Services

AUDIT_ROWS = 50  # audit entries listed in a review and its report
TRACES_PER_VERSION = 60  # traces searched per version for "where time goes"
MIN_AFTER_S = 60  # the shortest "since the canary started" window for the graph diff
MIN_CHART_S = 30 * 60
MAX_CHART_S = 24 * 3600

# The verdict -> what to do next, as the releases page's deep links (?action=) name it.
ACTIONS: dict[str, tuple[str | None, str]] = {
    "promote": ("promote", "Promote {canary}: take over all traffic"),
    "continue": ("step", "Continue: +10% to {canary}"),
    "hold": (None, "Hold the split and investigate"),
    "rollback": ("rollback", "Roll back to {baseline}"),
    "insufficient_traffic": (None, "Wait for more traffic"),
    "nothing_to_judge": (None, "Open the releases page"),
}


@dataclass(frozen=True, slots=True)
class ReviewParams:
    canary: CanaryParams
    before: float | None = None  # explicit canary start; None: from the audit log

    @property
    def namespace(self) -> str:
        return self.canary.namespace

    @property
    def service(self) -> str:
        return self.canary.service


def parse_review_params(
    args: Any, namespace: str | None = None, service: str | None = None
) -> ReviewParams:
    """Validate everything before any backend sees it; raise BadRequest with the reason."""
    canary = parse_canary_params(args, namespace=namespace, service=service)
    before = instant_of(args, "before")
    if before is not None and canary.at is not None and before > canary.at:
        raise BadRequest("before (the canary's start) must not be after at", field="before")
    return ReviewParams(canary, before)


def review_query(params: ReviewParams) -> dict[str, str]:
    """The page URL's (and the API's) query string for these parameters."""
    c = params.canary
    out = {"namespace": c.namespace, "service": c.service, "baseline": c.baseline}
    out |= {"canary": c.canary, "window": c.window.text}
    if c.at is not None:
        out["at"] = _num_text(c.at)
    if params.before is not None:
        out["before"] = _num_text(params.before)
    return out | dict(c.overrides)


def _num_text(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else str(t)


def releases_link(
    namespace: str, service: str, baseline: str, canary: str, action: str | None
) -> str:
    """The releases page for the pair; with ?action= it opens that action's preview."""
    query = {"namespace": namespace, "service": service}
    if action:
        query["action"] = action
    query |= {"baseline": baseline, "canary": canary}
    return "/releases?" + urlencode(query)


def recommended_action(
    verdict: str, params: ReviewParams, split: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """What the verdict asks for next, and the link into the releases preview/confirm flow.

    Never an action that would change nothing in the live split: no promote or step for a
    canary that already has all traffic, no roll back when the canary has none.
    """
    c = params.canary
    action, label = ACTIONS.get(verdict, (None, "Open the releases page"))
    weight = None if not split else split.get(c.canary, 0)
    if weight is not None and (
        (action in ("promote", "step") and weight >= 100) or (action == "rollback" and weight <= 0)
    ):
        action, label = None, "Open the releases page"
    return {
        "action": action,
        "label": label.format(canary=c.canary, baseline=c.baseline),
        "href": releases_link(c.namespace, c.service, c.baseline, c.canary, action),
    }


def verdict_view(services: Services, params: ReviewParams) -> dict[str, Any]:
    """The verdict alone (2 queries, no traces or graphs): the releases page's canary panel, and
    the head of every review (review_view adds its sections to it)."""
    c = params.canary
    analysis = canary_view(services, c)
    return {
        "namespace": c.namespace,
        "service": c.service,
        "baseline": c.baseline,
        "canary": c.canary,
        "window": c.window.text,
        "at": analysis["at"],
        "query": review_query(params),
        "analysis": analysis,
        "action": recommended_action(analysis["verdict"], params, analysis.get("split")),
    }


def _section(run: Callable[[], Any]) -> Any:
    """One review section: its result, or {"error": why} when its backend failed (with the
    backend, its cause and the HTTP status the API would give, for the page's banner)."""
    try:
        return run()
    except BackendError as exc:
        return {"error": str(exc), "backend": exc.backend, "cause": exc.cause, "status": exc.status}
    except NotConfigured as exc:
        if not exc.backend:  # routing: answered as a missing thing, as the API does
            return {"error": str(exc)}
        # No trace backend at all is a set-up choice, not a failure: the page says so calmly.
        return {
            "error": str(exc),
            "backend": exc.backend,
            "cause": exc.cause,
            "status": exc.status,
            "configured": False,
        }
    except MeshdashError as exc:
        return {"error": str(getattr(exc, "message", None) or exc)}


def _failures(sections: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The sections a backend failure left out, named with that backend and its cause."""
    return [
        {
            "section": name,
            **{k: part[k] for k in ("backend", "cause", "status")},
            "configured": part.get("configured", True),
        }
        for name, part in sections.items()
        if isinstance(part, Mapping) and "backend" in part
    ]


def release_roles(
    services: Services, namespace: str, service: str
) -> tuple[list[str], str | None, str | None]:
    """The service's versions and the pair being released now (mesh.releases.state): the
    canary is the version the split moves traffic to, never one at 0 %."""
    routes = getattr(services, "routes", None)  # a Services without routing has none
    context = release_context(routes, namespace, service, services.clock())
    baseline, canary = release_pair(context.split, context.markers)
    return list(context.versions), baseline, canary


def _routing(services: Services, params: ReviewParams, at: float) -> dict[str, Any]:
    """The current split, the weight markers up to `at` and the audit entries of the service."""
    facts = weight_history(services.need(ROUTES), params.namespace, params.service, at)
    return {
        "split": facts.split,
        "markers": facts.markers,
        "audit": [e.summary_json() for e in merge_entries(facts.history) if e.when <= at][
            :AUDIT_ROWS
        ],
    }


def markers_for(
    services: Services, namespace: str, service: str, start: float, end: float
) -> list[dict[str, Any]]:
    """A service's weight-change markers in [start, end] for any time chart: [] when routing is
    not configured or cannot be read (a chart never fails for want of its markers)."""
    routes = partial(services.need, ROUTES)
    return markers_json(markers_between(routes, namespace, service, start, end))


def workload_markers(
    services: Services, namespace: str, served_as: Sequence[str], start: float, end: float
) -> list[dict[str, Any]]:
    """A workload's markers: the weight changes of every service routing to it (`served_as`, read
    from its own series, views.history `services`), oldest first, each change once.

    A VirtualService splits a service, not a workload, so these are the changes that moved
    traffic onto or off the workload. With more than one service a label names its service.
    """
    names = sorted(set(served_as))
    seen: set[tuple[str, str, float]] = set()
    out: list[dict[str, Any]] = []
    for name in names:
        for m in markers_for(services, namespace, name, start, end):
            key = (name, m["change_id"], m["when"])
            if key in seen:
                continue
            seen.add(key)
            out.append({**m, "service": name})
            if len(names) > 1:
                out[-1]["label"] = f"{name}: {m['label']}"
    out.sort(key=lambda m: (m["when"], m["service"]))
    return out


def _start(params: ReviewParams, markers: Sequence[WeightMarker]) -> dict[str, Any] | None:
    if params.before is not None:
        return {
            "when": params.before,
            "time": iso_time(params.before),
            "source": "before",
            "description": "given as before=",
        }
    m = canary_start(markers, params.canary.canary)
    if m is None:
        return None
    return {
        "when": m.when,
        "time": iso_time(m.when),
        "source": "audit",
        "description": m.description,
    }


def chart_window_s(at: float, window_s: int, start: float | None) -> int:
    """Enough time to see the canary's whole run and a window before it, in whole minutes."""
    want = 3 * window_s if start is None else at - start + 2 * window_s
    want = min(max(want, MIN_CHART_S, window_s), MAX_CHART_S)
    return int(math.ceil(want / 60.0) * 60)


def _series(services: Services, params: ReviewParams, at: float, start: float | None):
    c = params.canary
    window = TimeWindow.of(chart_window_s(at, c.window.seconds, start))
    query = MetricsParams(
        c.namespace, c.service, Target.SERVICE, window.text, window.seconds, None, at
    )
    body = metrics_view(services, query)
    versions = [v for v in (c.baseline, c.canary)]
    s = body["series"]

    def pick(key: str) -> dict[str, Any]:
        return {v: s[key][v] for v in versions if v in s[key]}

    return {
        "window": body["window"],
        "step": body["step"],
        "start": body["start"],
        "end": body["end"],
        "versions": versions,
        "success_rate": pick("success_rate"),
        "rps": pick("rps"),
        "p50_ms": pick("p50_ms"),
        "p95_ms": pick("p95_ms"),
        "p99_ms": pick("p99_ms"),
        "source": body["source"],
    }


def _graph(services: Services, namespace: str, end: float, window_s: int) -> dict[str, Any]:
    window = TimeWindow.of(window_s)
    params = GraphParams((namespace,), GraphView.WORKLOAD, window.text, window.seconds, end)
    return graph_view(services, params)


def _diff(services: Services, params: ReviewParams, at: float, start: float | None):
    c = params.canary
    if start is None:
        return {
            "note": (
                f"No recorded change gave {c.canary} weight, so there is no 'before the canary'"
                " to compare with. Pass before=UNIX time to choose one."
            )
        }
    if start >= at:
        raise BadRequest("the canary's start is not before the review time", field="before")
    after_s = int(min(max(at - start, MIN_AFTER_S), c.window.seconds))
    before = _graph(services, c.namespace, start, c.window.seconds)
    after = _graph(services, c.namespace, at, after_s)
    diff = diff_json(diff_graphs(before, after, DiffThresholds(), home_namespace=c.namespace))
    notes = []
    if at - start < MIN_AFTER_S:
        notes.append(
            f"The canary started {at - start:.0f} s ago: the 'now' window ({MIN_AFTER_S} s) "
            "still includes time before it."
        )
    return {
        "view": GraphView.WORKLOAD.value,
        "before": {"start": before["at"] - c.window.seconds, "end": before["at"]},
        "after": {"start": after["at"] - after_s, "end": after["at"]},
        "notes": notes,
        **diff,
    }


def _time_by_version(services: Services, params: ReviewParams, at: float) -> dict[str, Any]:
    """Self time by version, like with like: per version, the randomly sampled traces
    (`sampler.type=probabilistic` on the version's spans); when a tracer tags only the root span
    that search finds nothing, and the version's traces are searched plainly, then filtered by
    their root's tag in mesh.traces.version_time (untagged traces are marked as a possibly biased
    sample)."""
    c = params.canary
    source = services.need(TRACES)
    name = jaeger_service(services, c.namespace, c.service)

    def search(version: str, random_only: bool) -> list[Any]:
        tags = [("istio.canonical_revision", version)]
        if random_only:
            tags.append((SAMPLER_TAG, "probabilistic"))
        query = TraceQuery(
            service=name,
            start_us=int((at - c.window.seconds) * 1e6),
            end_us=int(at * 1e6),
            tags=tuple(tags),
            limit=TRACES_PER_VERSION,
        )
        return list(source.find_traces(query))

    traces = [t for v in (c.baseline, c.canary) for t in search(v, True)]
    if not traces:
        traces = [t for v in (c.baseline, c.canary) for t in search(v, False)]
    rows = time_by_version(traces, c.namespace, c.service, (c.baseline, c.canary))
    return {"jaeger_service": name, "window": c.window.text, **version_time_json(rows)}


def review_view(services: Services, params: ReviewParams) -> dict[str, Any]:
    """Everything the review page, its panel and its reports show, as JSON."""
    now = services.clock()
    c = params.canary
    at = validate.at_or_now(c.at, now)
    if params.before is not None and params.before > at:
        raise BadRequest("before (the canary's start) must not be after at", field="before")
    fixed = replace(params, canary=replace(c, at=at))  # every section describes one instant
    head = verdict_view(services, fixed)
    routes = _section(lambda: _routing(services, fixed, at))
    markers: Sequence[WeightMarker] = routes.get("markers", ()) if "error" not in routes else ()
    start = _start(fixed, markers)
    start_when = None if start is None else start["when"]
    sections = {
        "routing": routes,
        "series": _section(lambda: _series(services, fixed, at, start_when)),
        "diff": _section(lambda: _diff(services, fixed, at, start_when)),
        "time_by_version": _section(lambda: _time_by_version(services, fixed, at)),
    }
    return {
        **head,
        "time": iso_time(at),
        "split": routes.get("split"),
        "markers": markers_json(markers),
        "routing_error": routes.get("error"),
        "start": start,
        "series": sections["series"],
        "diff": sections["diff"],
        "time_by_version": sections["time_by_version"],
        "audit": routes.get("audit", []),
        "failures": _failures(sections),
        "mode": services.mode,
    }
