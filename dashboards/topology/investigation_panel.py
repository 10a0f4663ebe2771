""" "Why is it red?" on the topology page: the action buttons, the answer card, and the path
highlighted on the graph. The answer is views/investigation's, the same as /api/investigate.

The card sits at the top of the side column. It follows the page: a refresh, another window or
a past time (`at`) asks again for the node or namespace that is open.
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, html, no_update

from dashboards.components.banner import error_banner
from dashboards.components.links import page_link, service_link
from dashboards.topology.graph_store import graph_of
from presentation import numbers as fmt
from views.investigation import investigate_view, parse_investigate_params
from wiring.services import services

BUTTON = "why-red"
CLOSE = "why-red-close"


def container() -> html.Div:
    """Where the answer goes; empty (and hidden by CSS) until someone asks."""
    return html.Div(id="topo-why", className="md-why")


def why_button(node: dict[str, Any] | None) -> html.Button | None:
    """The action for a failing or degraded node, or (node None) for the whole namespace."""
    if node is not None and node.get("health") not in ("failure", "degraded"):
        return None
    label = "Why is it red?" if node is None or node.get("health") == "failure" else "Why amber?"
    return html.Button(
        label,
        id={"type": BUTTON, "node": "" if node is None else node["id"]},
        className="md-button md-button-small md-why-button"
        + (" md-why-button-amber" if label == "Why amber?" else ""),
        title="Find the hop where these failures start",
    )


def namespace_why_button(graph: dict[str, Any]) -> html.Button | None:
    """The namespace action, when anything in the graph is failing or degraded."""
    bad = any(n.get("health") in ("failure", "degraded") for n in graph.get("nodes", []))
    return why_button(None) if bad else None


# ---------------------------------------------------------------------------------------------
# The answer card (pure: answer and graph in, components out)


def _name(node_id: str, nodes: dict[str, dict[str, Any]]) -> str:
    n = nodes.get(node_id, {})
    return n.get("workload") or n.get("service") or n.get("app") or node_id


def _chip(node_id: str, nodes: dict[str, dict[str, Any]]) -> html.Span:
    health = nodes.get(node_id, {}).get("health", "idle")
    return html.Span(
        _name(node_id, nodes), className=f"md-why-node md-why-node-{health}", title=node_id
    )


def _path(path: list[str], edges: list[list[str]], nodes: dict[str, dict[str, Any]]) -> html.Div:
    """The path as steps: nodes at the same distance from the start share a step."""
    depth: dict[str, int] = {path[0]: 0} if path else {}
    for node in path[1:]:
        parents = [depth[s] for s, t in edges if t == node and s in depth]
        depth[node] = (max(parents) + 1) if parents else len(depth)
    steps: dict[int, list[str]] = {}
    for node in path:
        steps.setdefault(depth[node], []).append(node)
    parts: list[Any] = []
    for i, (_, group) in enumerate(sorted(steps.items())):
        if i:
            parts.append(html.Span("→", className="md-why-arrow"))
        parts.append(html.Span([_chip(n, nodes) for n in group], className="md-why-step"))
    return html.Div(parts, className="md-why-path", id="why-path")


def _origin_links(
    origin: dict[str, Any], nodes: dict[str, dict[str, Any]], window: str, at: str | None = None
) -> list[Any]:
    n = nodes.get(origin["id"], {})
    ns, svc = n.get("namespace", ""), n.get("service") or n.get("app") or ""
    links: list[Any] = []
    if ns and svc and ns != "unknown" and origin.get("determined"):
        links.append(
            html.A(
                f"{svc} service page →",
                href=service_link(ns, svc, window, at),
                className="md-why-service-link",
            )
        )
        links.append(
            html.A(
                "Failing traces →",
                href=page_link(
                    "/traces", namespace=ns, service=svc, lookback=window, error="true", at=at
                ),
            )
        )
    return links


def _origin(
    origin: dict[str, Any],
    rank: int,
    nodes: dict[str, dict[str, Any]],
    window: str,
    at: str | None = None,
) -> html.Li:
    examples = origin.get("traces") or []
    trace_links = (
        html.Div(
            [html.Span("Example traces: ", className="md-why-label")]
            + [
                html.A(
                    t["trace_id"][:12],
                    href=t["href"],
                    className="md-why-trace",
                    title=t["trace_id"],
                )
                for t in examples
            ],
            className="md-why-traces",
        )
        if examples
        else None
    )
    return html.Li(
        [
            html.Div(
                [
                    html.Span(f"{rank}.", className="md-why-rank"),
                    _chip(origin["id"], nodes),
                    html.Span(
                        f"explains {fmt.percent(origin['explains_share'], 1)}",
                        className="md-why-share",
                    ),
                ],
                className="md-why-origin-head",
            ),
            html.Div(origin["id"], className="md-panel-id"),
            html.Ul(
                [html.Li(e["text"]) for e in origin.get("evidence", [])],
                className="md-why-evidence",
            ),
            trace_links,
            html.Div(_origin_links(origin, nodes, window, at), className="md-panel-links"),
        ],
        className=f"md-why-origin md-why-origin-{nodes.get(origin['id'], {}).get('health', 'idle')}"
        + ("" if origin.get("determined") else " md-why-unsure"),
    )


def _headline(answer: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> html.Div:
    status = answer["status"]
    origins = answer.get("origins") or []
    if status == "found":
        top = origins[0]
        return html.Div(
            [
                "Failures start at ",
                html.B(_name(top["id"], nodes)),
                f" ({fmt.percent(top['explains_share'], 1)} of them).",
            ],
            className="md-why-headline",
            id="why-headline",
        )
    if status == "undetermined":
        return html.Div(
            [html.B("Cannot tell for sure: "), answer.get("undetermined") or ""],
            className="md-why-headline md-why-headline-unsure",
            id="why-headline",
        )
    return html.Div(
        answer.get("undetermined") or "Nothing to explain.",
        className="md-why-headline md-why-headline-none",
        id="why-headline",
    )


def _victims(answer: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> html.Div | None:
    victims = answer.get("victims") or []
    if not victims:
        return None
    items = [
        html.Li(
            [
                _chip(v["id"], nodes),
                html.Span(
                    f"{fmt.percent(v['error_rate'], 1)} failing, "
                    f"{fmt.percent(v['explained_share'], 0)} from its callees"
                    + (
                        f" ({', '.join(_name(c['id'], nodes) for c in v['failing_callees'][:3])})"
                        if v.get("failing_callees")
                        else ""
                    ),
                    className="md-edge-figures",
                ),
            ],
            className="md-why-victim",
        )
        for v in victims
    ]
    return html.Div(
        [html.H4("Victims (red because of a callee)"), html.Ul(items, className="md-why-list")],
        id="why-victims",
    )


def _traces(answer: dict[str, Any]) -> html.Div | None:
    t = answer.get("traces") or {}
    if not answer.get("origins"):
        return None
    rows: list[Any] = []
    if t.get("disagreement"):
        rows.append(
            html.Div(t["disagreement"], className="md-banner md-banner-warning", id="why-disagree")
        )
    found = t.get("origins") or []
    if found:
        sampled = t.get("sampled") or sum(o["count"] for o in found)
        rows.append(
            html.P(
                f"Where {sampled} sampled failing traces through "
                f"{(t.get('searched') or {}).get('service', '')} start (deepest failing span):",
                className="md-hint",
            )
        )
        rows.append(
            html.Ul(
                [
                    html.Li(
                        [
                            html.Span(f"{o['count']} ×", className="md-why-count"),
                            html.Span(o["service"], className="md-edge-peer"),
                            html.Span(o["operation"], className="md-edge-figures"),
                        ],
                        className="md-why-trace-origin",
                    )
                    for o in found[:5]
                ],
                className="md-why-list",
            )
        )
    if t.get("unavailable"):
        rows.append(html.P(f"Traces: {t['unavailable']}.", className="md-hint"))
    return html.Div([html.H4("Confirmed by traces"), *rows], id="why-traces") if rows else None


def _latency(answer: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> html.Div | None:
    lat = answer.get("latency") or {}
    if not lat.get("origin") or len(lat.get("path") or []) < 2:
        return None
    text = f"p95 {fmt.ms(lat.get('p95_ms'))}"
    if lat.get("own_ms") is not None:
        text += f", about {fmt.ms(lat['own_ms'])} of it its own"
    return html.Div(
        [
            html.H4("Slowness"),
            html.P(
                [
                    "Most of the time is spent in ",
                    html.B(_name(lat["origin"], nodes)),
                    f" ({text}).",
                ]
                + ([" ", lat["undetermined"]] if lat.get("undetermined") else []),
                className="md-hint",
            ),
        ],
        id="why-latency",
    )


def render(answer: dict[str, Any], graph: dict[str, Any] | None, at: str | None = None) -> html.Div:
    """The answer card for one investigation."""
    nodes = {n["id"]: n for n in (graph or {}).get("nodes", [])}
    if answer.get("node"):
        subject = _name(answer["node"], nodes)
        colour = "amber" if nodes.get(answer["node"], {}).get("health") == "degraded" else "red"
    else:
        subject = ", ".join(answer["namespaces"])
        failing = any(n.get("health") == "failure" for n in nodes.values())
        colour = "red" if failing or not nodes else "amber"
    origins = answer.get("origins") or []
    return html.Div(
        [
            html.Div(
                [
                    html.H3(f"Why is {subject} {colour}?"),
                    html.Button(
                        "×",
                        id={"type": CLOSE, "id": "card"},
                        className="md-why-close",
                        title="Close and clear the highlight",
                    ),
                ],
                className="md-panel-head",
            ),
            html.Div(
                f"window {answer['window']} · {answer.get('failing_requests', 0)} failing requests",
                className="md-hint md-why-meta",
            ),
            _headline(answer, nodes),
            _path(answer.get("path") or [], answer.get("path_edges") or [], nodes)
            if answer.get("path")
            else None,
            html.Div(
                [
                    html.H4("Where failures start"),
                    html.Ol(
                        [
                            _origin(o, i + 1, nodes, answer["window"], at)
                            for i, o in enumerate(origins)
                        ],
                        className="md-why-list",
                    ),
                ],
                id="why-origins",
            )
            if origins
            else None,
            _victims(answer, nodes),
            _traces(answer),
            _latency(answer, nodes),
        ],
        className="md-panel md-why-card",
        id="why-card",
    )


# ---------------------------------------------------------------------------------------------
# Callbacks


def register_callbacks(app) -> None:
    @app.callback(
        Output("topo-why-target", "data"),
        Input({"type": BUTTON, "node": ALL}, "n_clicks"),
        Input({"type": CLOSE, "id": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def ask(_opens, _closes):
        """A click opens the node's (or the namespace's) answer; the close button ends it.
        Buttons appearing with a redraw fire too, with no click: those change nothing."""
        trigger = ctx.triggered_id
        if not trigger or not any(t.get("value") for t in ctx.triggered):
            return no_update
        if trigger.get("type") == CLOSE:
            return None
        return {"node": trigger.get("node") or None}

    @app.callback(
        Output("topo-why", "children"),
        Output("topo-highlight", "data"),
        Input("topo-why-target", "data"),
        Input("topo-data", "data"),
        State("topo-namespaces", "value"),
        State("topo-view", "value"),
        State("topo-window", "value"),
        State("topo-cluster", "value"),
        State("topo-at", "data"),
        State("topo-highlight", "data"),
        prevent_initial_call=True,
    )
    def answer(target, store, namespaces, view, window, clusters, at, highlight):
        """Ask again whenever the graph is redrawn, so the answer follows the page."""
        if not target:
            closing = ctx.triggered_id == "topo-why-target"
            return None, ([] if closing and highlight else no_update)
        # On the namespace graph, the workloads of the same namespaces are what can be red.
        shown = "workload" if view == "namespace" else view
        args: dict[str, Any] = {"namespace": namespaces or [], "graph": shown, "window": window}
        if clusters:
            args["cluster"] = list(clusters)
        if at:
            args["at"] = at
        if target.get("node"):
            args["node"] = target["node"]
        try:
            svc = services()
            result = investigate_view(
                svc, parse_investigate_params(args, svc.settings.default_namespaces)
            )
        except Exception as exc:  # a banner in plain words, never a traceback
            return html.Div(error_banner(exc), className="md-panel md-why-card"), no_update
        try:
            graph = graph_of(store)  # the drawn graph's names and health, asked again
        except Exception:
            graph = None
        path = sorted(result["path"])
        return render(result, graph, at), (path if path != sorted(highlight or []) else no_update)
