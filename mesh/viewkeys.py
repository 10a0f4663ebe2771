"""Which Istio labels identify an edge in each graph view.

The Prometheus collector groups by exactly these labels (one `sum by` per metric family), and the
demo aggregates its own series the same way, so both hand the model identical records.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesh.records import Endpoint, GraphView

_SRC_WORKLOAD = ("source_workload_namespace", "source_workload")
_SRC_APP = ("source_workload_namespace", "source_canonical_service")
_DST_SERVICE = ("destination_service_namespace", "destination_service_name")

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


def source_endpoint(labels: Mapping[str, str], view: GraphView) -> Endpoint:
    keep = SOURCE_LABELS[view]

    def get(name: str) -> str:
        return labels.get(name, "") if name in keep else ""

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
        return labels.get(name, "") if name in keep else ""

    return Endpoint(
        namespace=get("destination_workload_namespace") or get("destination_service_namespace"),
        workload=get("destination_workload"),
        app=get("destination_canonical_service"),
        version=get("destination_canonical_revision"),
        service=get("destination_service_name"),
        service_namespace=get("destination_service_namespace"),
        cluster=labels.get("destination_cluster", ""),
    )
