"""The demo's InventorySource: the rows collectors/prometheus_inventory.py would read from a
Prometheus holding the demo's series (demo/series.py labels, every reporter, in ambient mode the
waypoint's as demo/series.ambient_reporter says, the same namespace selection and `sum by`),
computed from the traffic model. It sends no query anywhere."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from demo.series import ambient_reporter
from demo.series import edge_labels as series_edge_labels
from demo.traffic import NBUCKETS, TrafficModel
from mesh.inventory import (
    ENTITY_LABELS,
    LIST_LABELS,
    OVERVIEW_LABELS,
    BucketRow,
    InventoryQuery,
    InventoryTelemetry,
    RequestRow,
)
from mesh.quantiles import ISTIO_BUCKETS_MS
from mesh.telemetry_records import UNKNOWN

_BOUNDS = (*ISTIO_BUCKETS_MS, float("inf"))
_FIELDS = (
    ("reporter", "reporter"),
    ("source_namespace", "source_workload_namespace"),
    ("destination_service_namespace", "destination_service_namespace"),
    ("source_workload", "source_workload"),
    ("source_app", "source_canonical_service"),
    ("source_version", "source_canonical_revision"),
    ("destination_service", "destination_service_name"),
    ("destination_namespace", "destination_workload_namespace"),
    ("destination_workload", "destination_workload"),
    ("destination_app", "destination_canonical_service"),
    ("destination_version", "destination_canonical_revision"),
)


class DemoInventory:
    name = "demo"

    def __init__(self, model: TrafficModel) -> None:
        self.model = model

    def inventory_telemetry(self, query: InventoryQuery) -> InventoryTelemetry:
        grouped = set(OVERVIEW_LABELS if query.kind is None else LIST_LABELS)
        wanted = set(query.namespaces)
        mtls = self.model.spec.mtls
        ambient = frozenset(self.model.spec.ambient_namespaces)
        rates: dict[tuple[tuple[str, str], ...], float] = defaultdict(float)
        buckets: dict[tuple[str, str], np.ndarray] = {}
        for w in self.model.window(query.at, query.window_s):
            if w.edge.is_tcp:
                continue
            for reporter in w.edge.reporters:
                said = ambient_reporter(w.edge, reporter, ambient)
                if said is None:
                    continue  # an ambient caller has no proxy of its own
                labels = series_edge_labels(w.edge, reporter, mtls, full=False)
                labels["reporter"] = said
                ends = (
                    labels["destination_service_namespace"],
                    labels["source_workload_namespace"],
                )
                if wanted and not wanted.intersection(ends):
                    continue
                key = tuple((f, labels.get(lbl, "")) for f, lbl in _FIELDS if lbl in grouped)
                unanswered = labels.get("destination_workload") == UNKNOWN
                if query.kind is None and unanswered:
                    if said != "source":
                        continue  # as the overview query: only the source reports these
                    key = (*key, ("destination_workload", UNKNOWN))
                for outcome, rps in w.requests:
                    rates[(*key, ("response_code", outcome.response_code),
                           ("grpc_status", outcome.grpc_status))] += rps  # fmt: skip
                if query.kind is not None and said in ("destination", "waypoint"):
                    ns_label, name_label = ENTITY_LABELS[query.kind]
                    if wanted and labels.get(ns_label, "") not in wanted:
                        continue
                    entity = (labels.get(ns_label, ""), labels.get(name_label, ""))
                    acc = buckets.setdefault(entity, np.zeros(NBUCKETS + 1))
                    acc += np.asarray(w.buckets[reporter])
        rows = tuple(RequestRow(rps=rps, **dict(key)) for key, rps in sorted(rates.items()))
        bucket_rows = tuple(
            BucketRow(ns, name, le, float(rate))
            for (ns, name), acc in sorted(buckets.items())
            for le, rate in zip(_BOUNDS, acc, strict=True)
        )
        return InventoryTelemetry(query, rows, bucket_rows, 0)
