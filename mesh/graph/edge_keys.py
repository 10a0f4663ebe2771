"""Which Istio labels identify an edge in each graph view.

The Prometheus collector groups by exactly these labels (one `sum by` per metric family), and the
demo aggregates its own series the same way, so both hand the model identical records.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesh.telemetry_records import Endpoint, GraphView

_SRC_WORKLOAD = ("source_workload_namespace", "source_workload")
_SRC_APP = ("source_workload_namespace", "source_canonical_service")
# The host (destination_service) names the service of a request that reached no pod, whose
# destination_service_namespace is often "unknown"; otherwise it is one per service name.
_DST_SERVICE = ("destination_service_namespace", "destination_service_name", "destination_service")

SOURCE_LABELS: dict[GraphView, tuple[str, ...]] = {
    GraphView.WORKLOAD: (*_SRC_WORKLOAD, "source_canonical_service", "source_canonical_revision"),
    GraphView.APP: _SRC_APP,
    GraphView.VERSIONED_APP: (*_SRC_APP, "source_canonical_revision"),
    GraphView.SERVICE: _SRC_APP,
}

DESTINATION_LABELS: dict[GraphView, tuple[str, ...]] = {
    GraphView.WORKLOAD: (
        *_DST_SERVICE,
        "destination_workload_namespace",
        "destination_workload",
        "destination_canonical_service",
        "destination_canonical_revision",
    ),
    GraphView.APP: (
        *_DST_SERVICE,
        "destination_workload_namespace",
        "destination_canonical_service",
    ),
    GraphView.VERSIONED_APP: (
        *_DST_SERVICE,
        "destination_workload_namespace",
        "destination_canonical_service",
        "destination_canonical_revision",
    ),
    GraphView.SERVICE: _DST_SERVICE,
}


# Multi-cluster meshes (issue 8): the same workload name in two clusters is two nodes, so every
# view groups by the clusters too. Single-cluster meshes have one value (or none): same edges.
CLUSTER_LABELS: tuple[str, str] = ("source_cluster", "destination_cluster")


def edge_labels(view: GraphView) -> tuple[str, ...]:
    """All labels that identify an edge in `view`, sources first, each side's cluster last."""
    return (*SOURCE_LABELS[view], CLUSTER_LABELS[0], *DESTINATION_LABELS[view], CLUSTER_LABELS[1])


# Workloads without app or canonical-service labels (Istio then reports "unknown", or nothing):
# the app and versioned-app graphs name them by their workload, as Istio's canonical service
# does, and the service graph draws a workload whose calls name no service. Grouping every
# series by the workload as well would split each app's latency histogram per workload, so only
# the series whose name label is absent or "unknown" are grouped by these extra labels: the
# queries add one arm per case (collectors/prometheus.py), the demo does the same.
ABSENT = "|unknown"  # an RE2 alternation: the empty value (label absent) or "unknown"
SOURCE_FALLBACK: tuple[str, tuple[str, ...]] = ("source_canonical_service", ("source_workload",))


def destination_fallback(view: GraphView) -> tuple[str, tuple[str, ...]]:
    """(the destination label whose absence calls for the workload, the labels to add)."""
    name = (
        "destination_service_name" if view is GraphView.SERVICE else "destination_canonical_service"
    )
    return name, ("destination_workload", "destination_workload_namespace")


def fallback_arms(
    view: GraphView,
) -> tuple[tuple[tuple[tuple[str, str, str], ...], tuple[str, ...]], ...]:
    """(matchers, extra `by` labels) per arm of a graph query; one arm without extras in the
    workload view, which groups by both workloads already. The arms select disjoint series."""
    if view is GraphView.WORKLOAD:
        return (((), ()),)
    src_name, src_extra = SOURCE_FALLBACK
    dst_name, dst_extra = destination_fallback(view)
    arms = []
    for src_absent in (False, True):
        for dst_absent in (False, True):
            matchers = (
                (src_name, "=~" if src_absent else "!~", ABSENT),
                (dst_name, "=~" if dst_absent else "!~", ABSENT),
            )
            extra = (*(src_extra if src_absent else ()), *(dst_extra if dst_absent else ()))
            arms.append((matchers, extra))
    return tuple(arms)


def fallback_labels(labels: Mapping[str, str], view: GraphView) -> tuple[str, ...]:
    """The extra labels the arm holding a series with `labels` groups it by (for the demo)."""
    if view is GraphView.WORKLOAD:
        return ()
    src_name, src_extra = SOURCE_FALLBACK
    dst_name, dst_extra = destination_fallback(view)
    absent = ("", "unknown")
    return (
        *(src_extra if labels.get(src_name, "") in absent else ()),
        *(dst_extra if labels.get(dst_name, "") in absent else ()),
    )


FALLBACK_LABELS: tuple[str, ...] = (
    *SOURCE_FALLBACK[1],
    "destination_workload",
    "destination_workload_namespace",
)


def source_endpoint(labels: Mapping[str, str], view: GraphView) -> Endpoint:
    keep = SOURCE_LABELS[view]

    def get(name: str) -> str:
        # A fallback label is only present on the series that need it (fallback_arms).
        return labels.get(name, "") if name in keep or name in FALLBACK_LABELS else ""

    return Endpoint(
        namespace=get("source_workload_namespace"),
        workload=get("source_workload"),
        app=get("source_canonical_service"),
        version=get("source_canonical_revision"),
        cluster=labels.get("source_cluster", ""),
    )


def destination_endpoint(labels: Mapping[str, str], view: GraphView) -> Endpoint:
    keep = DESTINATION_LABELS[view]

    def get(name: str) -> str:
        return labels.get(name, "") if name in keep or name in FALLBACK_LABELS else ""

    return Endpoint(
        namespace=get("destination_workload_namespace") or get("destination_service_namespace"),
        workload=get("destination_workload"),
        app=get("destination_canonical_service"),
        version=get("destination_canonical_revision"),
        service=get("destination_service_name"),
        service_namespace=get("destination_service_namespace"),
        cluster=labels.get("destination_cluster", ""),
        host=get("destination_service"),
    )
