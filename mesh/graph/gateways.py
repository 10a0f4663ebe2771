"""Which graph nodes are gateways: where traffic enters or leaves the mesh.

Istio's telemetry carries no "this is a gateway" label, so, as a reader of the graph would, the
rule goes by name: Istio's own deployments (`istio-ingressgateway`, `istio-egressgateway`, any
`*-ingressgateway`/`*-egressgateway`) and Gateway API's deployments (`<gateway>-istio`, for a
Gateway whose name says gateway). A node outside the mesh (`unknown`) is never one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mesh.telemetry_records import UNKNOWN


def is_gateway_name(name: str) -> bool:
    """A workload or canonical service named as Istio names its gateways."""
    return "gateway" in name.lower() and name != UNKNOWN


def is_gateway_node(node: Mapping[str, Any]) -> bool:
    """A graph node (graph_json's shape) whose workload or app is a gateway."""
    if node.get("kind") == UNKNOWN:
        return False
    return any(is_gateway_name(node.get(k) or "") for k in ("workload", "app"))
