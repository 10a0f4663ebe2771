"""The topology side panel: the figures of a clicked node or edge, or the hot spots."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.components.links import service_link, traces_link, workload_link
from dashboards.topology.investigation_panel import namespace_why_button, why_button
from mesh.envoy_flags import explain
from presentation import numbers as fmt
from presentation import palette


def health_chip(health: str | None) -> html.Span:
    h = health or "idle"
    return html.Span(palette.HEALTH_LABELS.get(h, h), className=f"md-chip md-chip-{h}")


def _rows(pairs: list[tuple[str, Any]]) -> html.Table:
    return html.Table(
        html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in pairs]),
        className="md-kv",
    )


def name_span(name: str) -> html.Span:
    """A node id that never breaks mid-word: whole, or cut with an ellipsis and the full name
    on hover; the line wraps between names, not inside one. A namespace node of the namespace
    graph (`namespace:NS`) reads as its namespace."""
    shown = name.replace("namespace:", "", 1) if "namespace:" in name else name
    return html.Span(shown, className="md-name", title=name)


def _edge_list(title: str, edges: list[dict[str, Any]], key: str) -> html.Div:
    if not edges:
        return html.Div()
    items = [
        html.Li(
            [
                html.Span(name_span(e[key]), className="md-edge-peer"),
                html.Span(
                    f"{fmt.rps(e.get('rps'))} · {fmt.percent(e.get('error_rate'), 2)} err · "
                    f"p95 {fmt.ms(e.get('p95_ms'))}"
                    if e.get("protocol") != "tcp"
                    else fmt.bytes_per_s(e.get("bps")),
                    className="md-edge-figures",
                ),
            ],
            className=f"md-edge-item md-edge-{e.get('health', 'idle')}",
        )
        for e in sorted(edges, key=lambda e: -(e.get("rps") or 0))
    ]
    return html.Div([html.H4(title), html.Ul(items, className="md-edge-list")])


def _service_of(node: dict[str, Any]) -> str:
    return node.get("service") or node.get("app") or ""


def node_panel(node: dict[str, Any], graph: dict[str, Any], at: str | None = None) -> html.Div:
    """The node's figures and links to its pages, at the page's window and time (`at`)."""
    window = graph["window"]
    ns = node.get("namespace", "")
    title = node.get("workload") or node.get("app") or node.get("service") or node["id"]
    links = []
    svc = _service_of(node)
    if ns and svc and node.get("kind") != "unknown":
        links.append(
            html.A(
                "Service metrics →",
                href=service_link(ns, svc, window, at),
                id="panel-service-link",
            )
        )
        links.append(
            html.A("Traces →", href=traces_link(ns, svc, window, at), id="panel-traces-link")
        )
    if (
        ns
        and node.get("workload")
        and node.get("kind") == "workload"
        and node.get("workload") != "unknown"
    ):
        links.append(
            html.A(
                "Workload metrics →",
                href=workload_link(ns, node["workload"], window, at),
                id="panel-workload-link",
            )
        )
    inbound = [e for e in graph["edges"] if e["target"] == node["id"]]
    outbound = [e for e in graph["edges"] if e["source"] == node["id"]]
    return html.Div(
        [
            html.Div(
                [html.H3(title, id="panel-title"), health_chip(node.get("health"))],
                className="md-panel-head",
            ),
            html.Div(node["id"], className="md-panel-id"),
            _rows(
                [
                    ("Kind", node.get("kind", "")),
                    *([("Cluster", node.get("cluster") or "–")] if several_clusters(graph) else []),
                    ("Namespace", ns or "–"),
                    ("App", node.get("app") or "–"),
                    ("Version", node.get("version") or "–"),
                    ("Inbound", fmt.rps(node.get("rps_in"))),
                    ("Outbound", fmt.rps(node.get("rps_out"))),
                    ("Errors in (5xx, gRPC)", fmt.percent(node.get("error_rate_in"), 2)),
                    ("Client errors in (4xx)", fmt.percent(node.get("error_rate_4xx_in"), 2)),
                ]
            ),
            html.Div(links, className="md-panel-links"),
            why_button(node),
            _edge_list("Called by", inbound, "source"),
            _edge_list("Calls", outbound, "target"),
        ],
        className="md-panel",
        id="panel-node",
    )


def several_clusters(graph: dict[str, Any]) -> bool:
    """Clusters are worth naming only when the graph spans more than one: a one-cluster mesh's
    "Kubernetes → Kubernetes" says nothing."""
    return len(set(graph.get("clusters") or [])) > 1


def security_row(edge: dict[str, Any]) -> tuple[str, str]:
    """The edge's mTLS share in words; unknown says why, never passes for secure."""
    share = edge.get("mtls")
    what = "bytes" if edge.get("protocol") == "tcp" else "requests"
    if share is None:
        return ("mTLS", "unknown: no report from the destination's proxy (no sidecar, or no pod)")
    if share >= 1.0:
        return ("mTLS", f"all {what} over mutual TLS")
    if share <= 0.0:
        return ("mTLS", f"none: all {what} in plain text")
    return (
        "mTLS",
        f"{fmt.percent(share, 1)} of {what} over mutual TLS; "
        f"{fmt.percent(1.0 - share, 1)} in plain text",
    )


def responses_list(edge: dict[str, Any]) -> html.Div | None:
    """Failing or flagged responses of the edge, each Envoy flag explained in plain words."""
    responses = edge.get("responses") or []
    if not responses:
        return None
    items = []
    for r in responses:
        code = r.get("code") or "–"
        if r.get("grpc"):
            code += f" (gRPC {r['grpc']})"
        words = [
            html.Div([html.Span(flag, className="md-flag"), f": {text}"])
            for flag, text in explain(r.get("flags") or "")
        ]
        items.append(
            html.Li(
                [html.Div([html.B(code), f" · {fmt.rps(r.get('rps'))}"]), *words],
                className="md-response",
            )
        )
    return html.Div(
        [html.H4("Failing or flagged responses"), html.Ul(items, className="md-responses")],
        id="panel-responses",
    )


def edge_panel(edge: dict[str, Any], graph: dict[str, Any], at: str | None = None) -> html.Div:
    nodes = {n["id"]: n for n in graph["nodes"]}
    target = nodes.get(edge["target"], {})
    window = graph["window"]
    tcp = edge.get("protocol") == "tcp"
    figures = (
        [
            ("Protocol", "TCP"),
            ("Sent (caller → callee)", fmt.bytes_per_s(edge.get("sent_bps"))),
            ("Received (callee → caller)", fmt.bytes_per_s(edge.get("received_bps"))),
        ]
        if tcp
        else [
            ("Protocol", (edge.get("protocol") or "").upper()),
            ("Request rate", fmt.rps(edge.get("rps"))),
            ("Share of caller's traffic", fmt.percent(edge.get("share"), 1)),
            ("Errors (5xx, gRPC, no response)", fmt.percent(edge.get("error_rate"), 2)),
            ("Client errors (4xx)", fmt.percent(edge.get("error_rate_4xx"), 2)),
            ("p50", fmt.ms(edge.get("p50_ms"))),
            ("p95", fmt.ms(edge.get("p95_ms"))),
            ("p99", fmt.ms(edge.get("p99_ms"))),
        ]
    )
    figures.append(security_row(edge))
    source = nodes.get(edge["source"], {})
    if several_clusters(graph) and (source.get("cluster") or target.get("cluster")):
        route = f"{source.get('cluster') or '–'} → {target.get('cluster') or '–'}"
        crossing = " (crosses clusters)" if edge.get("cross_cluster") else ""
        figures.insert(0, ("Clusters", route + crossing))
    links = []
    svc, ns = _service_of(target), target.get("namespace", "")
    if svc and ns:
        links.append(html.A(f"{svc} metrics →", href=service_link(ns, svc, window, at)))
        links.append(html.A("Traces →", href=traces_link(ns, svc, window, at)))
    return html.Div(
        [
            html.Div(
                [html.H3("Edge", id="panel-title"), health_chip(edge.get("health"))],
                className="md-panel-head",
            ),
            html.Div(
                [
                    name_span(edge["source"]),
                    html.Span(" → ", className="md-arrow"),
                    name_span(edge["target"]),
                ],
                className="md-panel-id md-panel-edge-id",
            ),
            html.P(
                "A call from one cluster into another. Its latency is measured by the "
                "callee's proxy, so it leaves out the network hop between the clusters.",
                className="md-hint md-cross-cluster-note",
                id="panel-cross-cluster",
            )
            if edge.get("cross_cluster")
            else None,
            _rows(figures),
            responses_list(edge),
            html.Div(links, className="md-panel-links"),
        ],
        className="md-panel",
        id="panel-edge",
    )


HOT_SPOT = "topo-hot-spot"


def hot_spot_id(edge: dict[str, Any], list_name: str) -> dict[str, str]:
    """A hot-spot row's id: a click selects its edge as a tap on the graph does."""
    return {"type": HOT_SPOT, "list": list_name, "source": edge["source"], "target": edge["target"]}


def _no_latency(graph: dict[str, Any]) -> str:
    """Why no edge has a p95: a namespace graph's edges join many calls, whose quantiles
    cannot be added up (mesh/graph/namespace_view.py), which is not an absence of data."""
    if graph.get("graph") == "namespace":
        return (
            "Latency is per call between workloads: an edge joining several has no single p95. "
            "Double-click a namespace, or open the workload graph."
        )
    return "No latency data in this window."


def overview_panel(graph: dict[str, Any] | None) -> html.Div:
    if not graph:
        return html.Div([html.H3("Details")], className="md-panel")
    edges = [e for e in graph["edges"] if e.get("protocol") != "tcp"]
    failing = sorted(
        (e for e in edges if (e.get("error_rate") or 0) > 0),
        key=lambda e: -(e.get("error_rate") or 0),
    )[:5]
    slow = sorted(
        (e for e in edges if e.get("p95_ms") is not None), key=lambda e: -(e.get("p95_ms") or 0)
    )[:5]

    def line(e: dict[str, Any], value: str, list_name: str) -> html.Li:
        return html.Li(
            [
                html.Span(
                    [
                        name_span(e["source"]),
                        html.Span(" → ", className="md-arrow"),
                        name_span(e["target"]),
                    ],
                    className="md-edge-peer",
                ),
                html.Span(value, className="md-edge-figures"),
            ],
            className=f"md-edge-item md-edge-{e.get('health', 'idle')} md-hot-row",
            id=hot_spot_id(e, list_name),
            title=f"{e['source']} → {e['target']}: select it on the graph",
            n_clicks=0,
            role="button",
            tabIndex="0",
        )

    head = html.Div([html.H3("Hot spots"), namespace_why_button(graph)], className="md-panel-head")
    if not edges:  # nothing to rank is not "no errors"
        return html.Div(
            [head, html.P("No requests in this window: nothing to rank.", className="md-hint")],
            className="md-panel",
            id="panel-overview",
        )
    return html.Div(
        [
            head,
            html.P("Click a node, an edge or a row below for its figures.", className="md-hint"),
            html.H4("Highest error rate"),
            html.Ul(
                [line(e, fmt.percent(e.get("error_rate"), 2), "errors") for e in failing],
                className="md-edge-list",
            )
            if failing
            else html.P("No errors in this window.", className="md-hint"),
            html.H4("Slowest p95"),
            html.Ul(
                [line(e, fmt.ms(e.get("p95_ms")), "slow") for e in slow],
                className="md-edge-list",
            )
            if slow
            else html.P(_no_latency(graph), className="md-hint"),
        ],
        className="md-panel",
        id="panel-overview",
    )
