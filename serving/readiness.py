"""What /readyz reports: each configured backend, checked concurrently under one deadline.

A source may implement mesh.sources.Readiness (`ready() -> {"ok", "detail", "version"}`); one that
does not is reported as serving, with that said in `detail`. Which roles are required comes from
Settings.ready_required (default: the telemetry source only, since the topology needs it). The
cache is reported but never required: calls go to the backends directly without it.

Why concurrently with a deadline: a backend that hangs must not hang the probe past the kubelet's
timeoutSeconds, which would look like this pod failing rather than that backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collectors.backend_status import not_ready, ready_entry
from mesh.errors import BackendError

if TYPE_CHECKING:  # services imports ops.self_metrics; no import cycle at run time
    from wiring.services import Services

ROLES: tuple[str, ...] = ("telemetry", "series", "canary", "traces", "routes")


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # the key in the report: the source's name ("prometheus", "jaeger", ...)
    roles: tuple[str, ...]  # what it serves: telemetry, series, canary, traces, routes, cache
    required: bool
    probe: Callable[[], dict[str, Any]] | None  # None: the source offers no readiness check
    # Checks of one group serve together (one Prometheus per cluster): a required group is
    # ready while any of its checks is, since the graph then renders from the clusters that are.
    group: str = ""


def checks_of(services: Services) -> list[Check]:
    """One check per backend name: several roles often share one backend (Prometheus serves
    telemetry, series and canary counts), and a cache wrapper is the backend it wraps."""
    required = set(services.settings.ready_required)
    groups: dict[str, tuple[list[str], list[Any]]] = {}
    for role in ROLES:
        source = getattr(services, role, None)
        if source is None:
            continue
        name = str(getattr(source, "name", role))
        roles, sources = groups.setdefault(name, ([], []))
        roles.append(role)
        sources.append(source)
    out: list[Check] = []
    for name, (roles, sources) in groups.items():
        needed = bool(required & set(roles))
        parts = next((p for p in map(_parts_of, sources) if p), None)
        if parts:
            out += [Check(part, tuple(roles), needed, probe, name) for part, probe in parts.items()]
            continue
        probe = next((p for p in map(_probe_of, sources) if p is not None), None)
        out.append(Check(name, tuple(roles), needed, probe, name))
    cache = getattr(services, "cache", None)
    if cache is not None and _probe_of(cache) is not None:
        out.append(Check("cache", ("cache",), "cache" in required, cache.ready))
    return out


def _probe_of(source: Any) -> Callable[[], dict[str, Any]] | None:
    """source.ready when it implements mesh.sources.Readiness.

    getattr rather than isinstance: wrappers such as collectors.cache.CachedSource delegate
    `ready` dynamically, which Python 3.12's static Protocol check would not see.
    """
    probe = getattr(source, "ready", None)
    return probe if callable(probe) else None


def _parts_of(source: Any) -> dict[str, Callable[[], dict[str, Any]]] | None:
    """source.ready_parts(): one probe per endpoint of a backend with several (per cluster)."""
    parts = getattr(source, "ready_parts", None)
    return dict(parts()) if callable(parts) else None


def _run(check: Check) -> dict[str, Any]:
    if check.probe is None:
        return ready_entry(True, "serving; this source has no readiness check")
    try:
        answer = dict(check.probe())
    except BackendError as exc:
        return not_ready(exc)
    except Exception as exc:  # a readiness check must report, never crash the probe
        return ready_entry(False, f"readiness check failed: {type(exc).__name__}")
    return ready_entry(
        bool(answer.get("ok")),
        str(answer.get("detail", "")),
        answer.get("version"),
        reachable=answer.get("reachable"),
        authenticated=answer.get("authenticated"),
    )


def readiness(services: Services, timeout_s: float | None = None) -> tuple[dict[str, Any], int]:
    """The /readyz body and status: 503 when a required check fails or misses the deadline."""
    timeout = services.settings.ready_timeout_s if timeout_s is None else timeout_s
    checks = checks_of(services)
    report: dict[str, dict[str, Any]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="readyz")
    try:
        started = time.perf_counter()
        futures = {pool.submit(_run, c): c for c in checks}
        done, _ = wait(futures, timeout=timeout)
        for future, check in futures.items():
            if future in done:
                result = future.result()
            else:
                result = ready_entry(False, f"no answer within {timeout:g}s")
            result["roles"] = list(check.roles)
            result["required"] = check.required
            report[check.name] = result
        elapsed = time.perf_counter() - started
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    groups: dict[str, bool] = {}
    for check in checks:
        if check.required:
            groups[check.group] = groups.get(check.group, False) or report[check.name]["ok"]
    ready = all(groups.values())
    body = {
        "ready": ready,
        "mode": services.mode,
        "backends": report,
        "seconds": round(elapsed, 3),
    }
    return body, 200 if ready else 503
