"""One Prometheus per cluster (issue 8): the graph from every cluster's endpoint, merged.

A multi-cluster Istio mesh often keeps one Prometheus per cluster and no global view. Each
Istio series then lives in exactly one of them: the source proxy's series (reporter="source") in
the caller's cluster, the destination proxy's (reporter="destination") in the callee's. So the
graph's three queries (collectors/prometheus.py), sent unchanged to every endpoint, return
disjoint parts of the answer one global endpoint (Thanos, Mimir) would give:

- requests and TCP bytes: the source reporter's series, in the caller's cluster, plus unknown
  callers from the destination reporter, in the callee's: each edge comes from one cluster;
- latency: the destination reporter's buckets, in the callee's cluster (the source reporter's
  only where no sidecar reports, in the caller's), from which each endpoint's collector computes
  the quantiles: the quantile of an edge is computed from all its buckets, since grouping by
  source_cluster and destination_cluster keeps every group inside one cluster.

Merging is a union of records, and each endpoint receives the same three queries
as a single cluster's Prometheus does. The endpoints are asked concurrently, each through the
shared cache under its own scope, so a dead cluster costs one attempt per error TTL while the
live ones are served from the cache. When some endpoints fail and others answer, the graph is
drawn from the others and GraphTelemetry.partial names each failing cluster and its cause; when
all fail, the error is raised as one BackendError (504 only when every cluster timed out).

The service history and the canary analysis send their queries to every endpoint too and
merge each answer (merge_results): sums of disjoint series add up, and their one non-additive
step, latency buckets from the destination reporter else the source reporter, is tagged in
the query and chosen after the merge. They need every cluster: a failing one is an error
naming it, since a history or a verdict from part of a service's traffic would mislead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from collectors.backend_status import ready_entry
from collectors.prometheus import BACKEND, REPORTER_TAG
from collectors.prometheus_series import series_telemetry
from mesh.errors import BackendDataError, BackendError, BackendTimeout, BackendUnavailable
from mesh.series import SeriesQuery, SeriesTelemetry
from mesh.telemetry_records import GraphQuery, GraphTelemetry, MissingPart

T = TypeVar("T")


def fan_out(
    sources: Mapping[str, Any], call: Callable[[Any], T]
) -> tuple[dict[str, T], dict[str, BackendError]]:
    """call(source) for every cluster at once: (answers, failures) by cluster name.

    A thread per cluster and call rather than a shared pool: a hanging cluster must never hold
    the threads another refresh needs for the clusters that answer. Errors that are not
    BackendError (bad input, bugs) are raised as they are.
    """
    names = sorted(sources)
    if len(names) == 1:
        try:
            return {names[0]: call(sources[names[0]])}, {}
        except BackendError as exc:
            return {}, {names[0]: exc}
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="prom-cluster") as pool:
        futures = {name: pool.submit(call, sources[name]) for name in names}
        answers: dict[str, T] = {}
        failures: dict[str, BackendError] = {}
        for name, future in futures.items():
            try:
                answers[name] = future.result()
            except BackendError as exc:
                failures[name] = exc
    return answers, failures


def all_failed(failures: Mapping[str, BackendError]) -> BackendError:
    """One error for a refresh where no cluster answered: 504 only if every one timed out."""
    cause = "; ".join(f"cluster {name}: {failures[name].cause}" for name in sorted(failures))
    kinds = {type(e) for e in failures.values()}
    if kinds == {BackendTimeout}:
        return BackendTimeout(BACKEND, cause)
    kind = kinds.pop() if len(kinds) == 1 else BackendUnavailable
    if issubclass(kind, BackendTimeout):
        kind = BackendUnavailable
    return kind(BACKEND, cause)


def _points(sample: Any, matrix: bool) -> tuple[dict[str, str], list[Any]]:
    try:
        labels = dict(sample["metric"])
        points = sample["values"] if matrix else [sample["value"]]
        return labels, [(float(t), float(v)) for t, v in points]
    except (KeyError, TypeError, ValueError):
        raise BackendDataError(BACKEND, "a result sample has no metric labels or values") from None


def merge_results(results: Iterable[list[Any]], matrix: bool) -> list[dict[str, Any]]:
    """Several clusters' answers to one query as one Prometheus holding all their series would
    give it. Every query meshdash sends is a `sum by (...)` of disjoint series (each series lives
    in one cluster), so equal label sets add up, step by step. Answers tagged with REPORTER_TAG
    (collectors.prometheus.destination_else_source) then resolve as `or` would: the
    destination reporter's value where any cluster has one at that step, else the source's.
    """
    sums: dict[tuple[frozenset[tuple[str, str]], str], dict[float, float]] = {}
    labels_of: dict[frozenset[tuple[str, str]], dict[str, str]] = {}
    for result in results:
        for sample in result:
            labels, points = _points(sample, matrix)
            tag = labels.pop(REPORTER_TAG, "")
            key = frozenset(labels.items())
            labels_of.setdefault(key, labels)
            acc = sums.setdefault((key, tag), {})
            for t, v in points:
                acc[t] = acc.get(t, 0.0) + v
    out: list[dict[str, Any]] = []
    for key, labels in labels_of.items():
        points = {
            **sums.get((key, ""), {}),
            **sums.get((key, "source"), {}),
            **sums.get((key, "destination"), {}),
        }
        values = [[t, repr(points[t])] for t in sorted(points)]
        out.append(
            {"metric": labels, "values": values}
            if matrix
            else {"metric": labels, "value": values[0]}
        )
    return out


def merge_graph(query: GraphQuery, parts: Mapping[str, GraphTelemetry]) -> GraphTelemetry:
    """The union of the clusters' records, in cluster order so the output is stable."""
    names = sorted(parts)
    return GraphTelemetry(
        query=parts[names[0]].query if names else query,
        requests=tuple(r for n in names for r in parts[n].requests),
        latencies=tuple(r for n in names for r in parts[n].latencies),
        tcp=tuple(r for n in names for r in parts[n].tcp),
        queries_sent=max((parts[n].queries_sent for n in names), default=0),
    )


class ClusterPrometheus:
    """TelemetrySource over one Prometheus per cluster, merged (see the module docstring).

    `graph_sources` are what the graph asks, usually each cluster's collector behind the shared
    cache (collectors.cache.CachedTelemetry with a per-cluster scope); `collectors` are the raw
    PrometheusCollector objects, used for readiness. Both are keyed by cluster name.
    """

    name = BACKEND
    tags_reporters = True  # their `dst or src` choices are made in merge_results

    def __init__(
        self, collectors: Mapping[str, Any], graph_sources: Mapping[str, Any] | None = None
    ) -> None:
        if not collectors:
            raise ValueError("at least one cluster endpoint is needed")
        self.collectors = dict(collectors)
        self.graph_sources = dict(graph_sources or collectors)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={self.collectors[n]!r}" for n in sorted(self.collectors))
        return f"ClusterPrometheus({inner})"

    @property
    def clusters(self) -> tuple[str, ...]:
        return tuple(sorted(self.collectors))

    def graph_telemetry(self, query: GraphQuery) -> GraphTelemetry:
        """Every cluster's three queries at once; what answered, merged."""
        answers, failures = fan_out(self.graph_sources, lambda src: src.graph_telemetry(query))
        if not answers:
            raise all_failed(failures)
        merged = merge_graph(query, answers)
        missing = tuple(
            MissingPart(BACKEND, name, failures[name].cause) for name in sorted(failures)
        )
        return GraphTelemetry(
            query=merged.query,
            requests=merged.requests,
            latencies=merged.latencies,
            tcp=merged.tcp,
            queries_sent=merged.queries_sent,
            partial=missing,
            clusters=self.clusters,
            endpoints=len(self.graph_sources),
        )

    def query(self, text: str, at: float) -> list[Any]:
        """One instant query on every cluster at once, merged (merge_results)."""
        return self._merged(lambda c: c.query(text, at), matrix=False)

    def query_range(self, text: str, start: float, end: float, step_s: int) -> list[Any]:
        """One range query on every cluster at once, merged step by step (merge_results)."""
        return self._merged(lambda c: c.query_range(text, start, end, step_s), matrix=True)

    def _merged(self, call: Callable[[Any], list[Any]], matrix: bool) -> list[Any]:
        """Every cluster or an error naming the first that failed: a service's history or a
        canary verdict drawn from part of its traffic would read as real and be wrong."""
        answers, failures = fan_out(self.collectors, call)
        if failures and not answers:
            raise all_failed(failures)
        if failures:
            name = min(failures)
            exc = failures[name]
            raise type(exc)(exc.backend, f"cluster {name}: {exc.cause}")
        return merge_results((answers[n] for n in sorted(answers)), matrix)

    def series_telemetry(self, query: SeriesQuery) -> SeriesTelemetry:
        """The service history from every cluster: the same 6 range queries to each endpoint."""
        return series_telemetry(query, self.query_range, tagged=self.tags_reporters)

    def ready_parts(self) -> dict[str, Callable[[], dict[str, object]]]:
        """/readyz: one check per cluster endpoint, named `prometheus:<cluster>`."""
        return {f"{BACKEND}:{name}": self.collectors[name].ready for name in self.clusters}

    def ready(self) -> dict[str, object]:
        """Serving while at least one cluster answers (the graph then renders partly)."""
        answers = {name: self.collectors[name].ready() for name in self.clusters}
        up = [n for n, a in answers.items() if a.get("ok")]
        down = [f"{n}: {answers[n].get('detail')}" for n in answers if n not in up]
        detail = f"{len(up)} of {len(answers)} clusters reachable"
        if down:
            detail += " (" + "; ".join(down) + ")"
        reached = any(a.get("reachable") for a in answers.values())
        return ready_entry(bool(up), detail, reachable=reached)

    def close(self) -> None:
        for collector in self.collectors.values():
            collector.close()
