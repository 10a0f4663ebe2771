"""Fakes for the use cases' collaborators (usecases/): a route store with its audit trail,
metric counters and a canary source. In memory, with the rules of the real backends the use cases rely on."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from mesh.canary.records import BucketCount, CanaryQuery, CanaryTelemetry, OutcomeCount
from mesh.errors import AuditNotShared, BadRequest, Conflict
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets
from mesh.routing.objects import resource_version
from mesh.routing.selection import ServiceRoutes


def virtual_service(w1: int, w2: int, rv: str = "10") -> dict:
    route = [
        {"destination": {"host": "reviews", "subset": "v1"}, "weight": w1},
        {"destination": {"host": "reviews", "subset": "v2"}, "weight": w2},
    ]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "shop", "resourceVersion": rv},
        "spec": {"hosts": ["reviews"], "http": [{"retries": {"attempts": 3}, "route": route}]},
    }


DESTINATION_RULE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {
        "name": "reviews",
        "namespace": "shop",
        "resourceVersion": "20",
        "managedFields": [{"manager": "kubectl"}],
    },
    "spec": {
        "host": "reviews",
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"}},
            {"name": "v2", "labels": {"version": "v2"}},
        ],
    },
}


class FakeRoutes:
    """A RouteStore in memory with the API server's rules that matter here: a replace must
    carry the current resourceVersion (409 otherwise), a dry run changes nothing, and a
    rejected dry run fails the whole change."""

    name = "fake"

    def __init__(self, vs: dict, dr: dict | None = None) -> None:
        self.objects = {"VirtualService": vs, "DestinationRule": copy.deepcopy(dr)}
        self.writes: list[tuple[str, bool]] = []  # (kind, dry_run) in order
        self.recorded: list = []
        self.record_calls = 0
        self.reject_dry_run: str | None = None  # a kind whose dry run the server refuses
        self.audit_down = False
        self.version = 100

    def get_service(self, namespace: str, service: str) -> ServiceRoutes:
        return ServiceRoutes(
            namespace,
            service,
            copy.deepcopy(self.objects["VirtualService"]),
            copy.deepcopy(self.objects["DestinationRule"]),
            ("v1", "v2"),
        )

    def write(self, write, *, dry_run: bool) -> dict:
        self.writes.append((write.kind, dry_run))
        current = self.objects[write.kind]
        if resource_version(write.before) != resource_version(current):
            raise Conflict(f"{write.kind} changed", current=current)
        if dry_run and write.kind == self.reject_dry_run:
            raise BadRequest(f"admission webhook refused {write.kind}")
        if dry_run:
            return copy.deepcopy(write.after)
        self.version += 1
        stored = copy.deepcopy(write.after)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[write.kind] = stored
        return copy.deepcopy(stored)

    def snapshot(self, kind, namespace, name, resource_version):
        return None

    def record(self, entries) -> None:
        self.record_calls += 1
        self.recorded.extend(entries)
        if self.audit_down and entries:
            raise AuditNotShared("the audit ConfigMap is unreachable")

    def history(self, namespace=None, service=None, limit=50):
        return list(reversed(self.recorded))[:limit]


class Counter:
    def __init__(self) -> None:
        self.counts: list[tuple[str, str]] = []

    def count_write(self, action: str, outcome: str) -> None:
        self.counts.append((action, outcome))

    def count_rollout(self, event: str) -> None:
        self.counts.append(("rollout", event))


def rows(version: str, ok: float, failed: float):
    outcomes = [OutcomeCount(version, "200", "", ok), OutcomeCount(version, "503", "", failed)]
    per = [0.0] * len(ISTIO_BUCKETS_MS) + [0.0]
    per[3] = ok + failed  # every request within 10 ms
    buckets = [BucketCount(version, le, c) for le, c in cumulative_buckets(ISTIO_BUCKETS_MS, per)]
    return outcomes, buckets


@dataclass
class CountsSource:
    """Per-version counts: the baseline clean, the canary with `canary_failed` 5xx."""

    name: str = "counts"
    canary_failed: float = 0.0
    calls: list[CanaryQuery] = field(default_factory=list)

    def canary_telemetry(self, query: CanaryQuery) -> CanaryTelemetry:
        self.calls.append(query)
        ob, bb = rows(query.baseline, 5000.0, 0.0)
        oc, bc = rows(query.canary, 5000.0 - self.canary_failed, self.canary_failed)
        return CanaryTelemetry(query, tuple(ob + oc), tuple(bb + bc), queries_sent=2)
