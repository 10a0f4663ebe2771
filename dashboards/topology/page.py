"""Topology page: who calls whom, how much, how badly, how slowly. The whole view is in the URL."""

from __future__ import annotations

from typing import Any

import dash_cytoscape as cyto
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboards.components.banner import error_banner, partial_banner
from dashboards.components.namespace_options import namespace_options
from dashboards.kit import (
    FAST_REFRESH,
    WINDOWS,
    UrlParam,
    control,
    control_bar,
    past_banner,
    refresh_control,
    refresh_now,
    refresh_timer,
    register_refresh,
    register_time,
    register_url_sync,
    time_control,
    url_at,
    window_control,
)
from dashboards.topology import investigation_panel as why_red
from dashboards.topology import replay, selection
from dashboards.topology import scale_controls as scale
from dashboards.topology.elements import EDGE_LABELS, elements, stylesheet
from dashboards.topology.graph_store import graph_of, store_of
from dashboards.topology.legend import facts_of, legend, legend_facts
from dashboards.topology.not_found import not_found_message
from dashboards.topology.side_panel import HOT_SPOT
from dashboards.topology.summary import summary_cards
from mesh import validate
from mesh.errors import MeshdashError
from views.graph import GRAPH_CHOICES, WAYPOINT_CHOICES, GraphParams, graph_view, parse_graph_params
from views.inventory import Window, namespaces_not_found
from views.params import get_list, get_one
from wiring.services import services

# The layered layout (klay) keeps namespace boxes apart; it ships with dash-cytoscape.
cyto.load_extra_layouts()

LAYOUTS = {
    "klay": "Layered",
    "breadthfirst": "Hierarchy",
    "cose": "Force-directed",
    "concentric": "Concentric",
    "circle": "Circle",
    "grid": "Grid",
}
VIEW_LABELS = {
    "workload": "Workload graph",
    "app": "App graph",
    "versioned-app": "Versioned app graph",
    "service": "Service graph",
    "namespace": "Namespace graph",
}


def _opt(args: dict[str, Any], key: str, allowed, default: str) -> str:
    try:
        value = get_one(args, key, default)
    except MeshdashError:
        return default
    return value if value in allowed else default


def _namespaces(svc, query: dict[str, Any]) -> list[str]:
    try:
        return list(get_list(query, "namespace")) or list(svc.settings.default_namespaces)
    except MeshdashError:
        return list(svc.settings.default_namespaces)


def _state(query: dict[str, Any]) -> dict[str, str]:
    """The controls' values from the URL; values that are not choices fall back to defaults."""
    return {
        "view": _opt(query, "graph", GRAPH_CHOICES, "workload"),
        "window": _opt(query, "window", WINDOWS, "5m"),
        "refresh": _opt(query, "refresh", tuple(FAST_REFRESH), "15s"),
        "layout": _opt(query, "layout", tuple(LAYOUTS), "klay"),
        "labels": _opt(query, "labels", tuple(EDGE_LABELS), "rps"),
        "security": _opt(query, "security", ("on", "off"), "off"),
        "waypoints": _opt(query, "waypoints", WAYPOINT_CHOICES, "hide"),
    }


def view_args(
    namespaces: list[str] | None,
    view: str,
    window: str,
    waypoints: list[str] | None,
    clusters: list[str] | None,
    at: Any,
    big: dict[str, Any] | None,
    now: float,
) -> dict[str, Any]:
    """The graph view's arguments from the page's controls, as /api/graph takes them: the one
    rule for the load callback and for `prefetch`, so both ask the view's memo by one key.
    "Now" is resolved here, once, so every callback asking for this graph again gets it."""
    args: dict[str, Any] = {
        "namespace": namespaces or [],
        "graph": view,
        "window": window,
        "waypoints": "show" if "show" in (waypoints or []) else "hide",
    }
    if clusters:
        args["cluster"] = list(clusters)
    args["at"] = str(at) if at else str(int(now))
    return scale.with_shape(args, big, view)


def prefetch(query: dict[str, list[str]]) -> None:
    """Build the graph a link to this page names while the browser is still loading the page
    (serving/prefetch.py calls it as the page is requested): Prometheus works meanwhile, and
    the load callback finds the graph in the view's memo, or waits for this build in flight
    (the memo's single flight) instead of starting another. Without a shared cache there is no
    memo to fill, so nothing is built. Raises what the view raises; the memo keeps no failure."""
    svc = services()
    if getattr(svc, "cache", None) is None:
        return
    url = {k: v[0] if len(v) == 1 else v for k, v in query.items()}  # as Dash pages pass it
    state = _state(url)
    waypoints = ["show"] if state["waypoints"] == "show" else []
    args = view_args(
        _namespaces(svc, url),
        state["view"],
        state["window"],
        waypoints,
        _clusters(url),
        url_at(url),
        scale.initial_state(url),
        svc.clock(),
    )
    graph_view(svc, parse_graph_params(args, svc.settings.default_namespaces, shaped=True))


def layout(**query: Any) -> html.Div:
    svc = services()
    namespaces = _namespaces(svc, query)
    state = _state(query)
    at = url_at(query)
    highlight = sorted(set(get_list(query, "highlight"))) if query.get("highlight") else []
    clusters = _clusters(query)
    ns_options = namespace_options(svc, namespaces)
    big = scale.initial_state(query)
    return html.Div(
        [
            _controls(namespaces, ns_options, clusters, state, at),
            past_banner("topo", at),
            replay.bar(query, at),
            scale.bar(big),
            html.Div(id="topo-summary", className="md-summary"),
            *scale.notes(big, svc.telemetry.name),
            html.Div(
                [
                    html.Div(
                        [
                            dcc.Loading(
                                # Elements are drawn by assets/topology_draw.js from the
                                # topo-elements Store, in one batch; this prop stays empty.
                                cyto.Cytoscape(
                                    id="topo-graph",
                                    elements=[],
                                    autoRefreshLayout=False,
                                    layout=_layout(state["layout"]),
                                    stylesheet=scale.stylesheet(
                                        stylesheet(state["labels"], state["security"] == "on")
                                    ),
                                    style={"width": "100%", "height": "100%"},
                                    minZoom=0.2,
                                    maxZoom=3,
                                    wheelSensitivity=0.2,
                                    boxSelectionEnabled=False,
                                ),
                                id="topo-loading",
                                type="dot",
                                delay_show=400,
                                overlay_style={"visibility": "visible", "opacity": 0.6},
                                parent_className="md-graph-loading",
                            ),
                            html.Div(id="topo-empty", className="md-graph-empty"),
                            scale.waiting(
                                namespaces,
                                state["view"],
                                state["window"],
                                svc.telemetry.name,
                                dcc.Store(id="topo-data"),
                            ),
                            html.Div(id="topo-banner", className="md-graph-banner"),
                            html.Div(
                                legend(legend_facts(None, state["security"] == "on")),
                                id="topo-legend",
                                className="md-legend",
                            ),
                        ],
                        className="md-graph-pane",
                    ),
                    html.Div(
                        [
                            why_red.container(),
                            html.Aside(id="topo-panel", className="md-side-panel"),
                        ],
                        className="md-side-column",
                    ),
                ],
                className="md-topology",
            ),
            refresh_timer("topo-interval", FAST_REFRESH, state["refresh"], at),
            dcc.Store(id="topo-at", data=at),
            dcc.Store(id="topo-highlight", data=highlight),
            dcc.Store(id="topo-selected", data=selection.selected_of(query)),
            # the node (or namespace) "Why is it red?" is open for
            dcc.Store(id="topo-why-target", **selection.why_store(query)),
            dcc.Store(id="topo-selection-url"),
            html.Div(id="topo-url-sink", hidden=True),
            # What the graph draws (read by the browser only, never posted back) and what
            # assets/topology_draw.js drew: the selection follows it.
            dcc.Store(id="topo-elements"),
            dcc.Store(id="topo-drawn"),
        ],
        className="md-page md-page-topology",
    )


def _controls(
    namespaces: list[str],
    ns_options: list[str],
    clusters: list[str],
    state: dict[str, str],
    at: str | None = None,
) -> html.Div:
    """The control bar: what the graph shows and how it is drawn."""
    return control_bar(
        [
            control(
                "Namespaces",
                dcc.Dropdown(
                    id="topo-namespaces",
                    options=ns_options,
                    value=namespaces,
                    multi=True,
                    clearable=False,
                    placeholder="Choose namespaces",
                ),
                wide=True,
            ),
            html.Div(
                control(
                    "Clusters",
                    dcc.Dropdown(
                        id="topo-cluster",
                        options=clusters,
                        value=clusters,
                        multi=True,
                        placeholder="All clusters",
                    ),
                ),
                id="topo-cluster-control",
                className="md-cluster-control",
                hidden=not clusters,
            ),
            control("Graph", _dropdown("topo-view", VIEW_LABELS, state["view"])),
            window_control("topo-window", WINDOWS, state["window"]),
            time_control("topo", at),
            refresh_control("topo-refresh", FAST_REFRESH, state["refresh"], at),
            control("Layout", _dropdown("topo-layout", LAYOUTS, state["layout"])),
            control("Edge labels", _dropdown("topo-labels", EDGE_LABELS, state["labels"])),
            control(
                "Display",
                html.Div(
                    [
                        dcc.Checklist(
                            id="topo-security",
                            options=[{"label": " Security (mTLS)", "value": "on"}],
                            value=["on"] if state["security"] == "on" else [],
                            className="md-display-toggle",
                        ),
                        # Ambient waypoint proxies, hidden by default as in Kiali: their reports
                        # already name the real caller and callee (mesh/graph/waypoints.py).
                        dcc.Checklist(
                            id="topo-waypoints",
                            options=[{"label": " Waypoints", "value": "show"}],
                            value=["show"] if state["waypoints"] == "show" else [],
                            className="md-display-toggle",
                        ),
                    ],
                    className="md-display-toggles",
                ),
            ),
            refresh_now("topo-refresh-now"),
        ]
    )


def _clusters(query: dict[str, Any]) -> list[str]:
    """The cluster filter from the URL; names that are not valid cluster ids are dropped."""
    try:
        found = get_list(query, "cluster")
    except MeshdashError:
        return []
    out = []
    for name in found:
        try:
            out.append(validate.cluster(name))
        except MeshdashError:
            continue
    return sorted(set(out))


def _dropdown(id_: str, options: dict[str, str], value: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=id_,
        options=[{"label": v, "value": k} for k, v in options.items()],
        value=value,
        clearable=False,
        searchable=False,
    )


def _layout(name: str) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "animate": False, "fit": True, "padding": 30}
    if name in ("concentric", "circle", "grid"):  # room for the labels, not only the shapes
        base.update({"nodeDimensionsIncludeLabels": True, "avoidOverlap": True})
        base.update({"spacingFactor": 1.2})
    if name == "klay":
        base.update(
            {
                "klay": {
                    "direction": "RIGHT",
                    "spacing": 45,
                    "edgeSpacingFactor": 0.6,
                    "thoroughness": 10,
                }
            }
        )
    if name == "breadthfirst":
        base.update({"directed": True, "spacingFactor": 1.15, "roots": "[[indegree = 0]]"})
    if name == "cose":
        base.update({"nodeRepulsion": 9000, "idealEdgeLength": 110})
    return base


def _not_found(svc, params: GraphParams) -> dict[str, Any] | None:
    """The chosen namespaces that do not exist, with the nearest names; None when discovery
    cannot say (the graph's empty message stands)."""
    when = Window(params.window, params.window_s, params.at)
    try:
        return namespaces_not_found(svc, params.namespaces, when)
    except MeshdashError:
        return None


def _empty_message(graph: dict[str, Any]) -> Any:
    if graph["nodes"]:
        return ""
    if graph.get("not_found"):
        return not_found_message(graph["not_found"], graph["window"])
    if graph.get("cluster_filter"):
        return (
            f"No traffic in cluster {', '.join(graph['cluster_filter'])} for "
            f"{', '.join(graph['namespaces'])} during the last {graph['window']}. "
            "Choose another cluster, or clear the cluster filter."
        )
    return (
        f"No traffic in {', '.join(graph['namespaces'])} during the last {graph['window']}. "
        "Choose another namespace or a longer window."
    )


def register_callbacks(app) -> None:
    why_red.register_callbacks(app)
    replay.register_callbacks(app)
    selection.register_callbacks(app)
    scale.register_callbacks(app)
    _register_graph(app)
    _register_selection(app)
    _register_browser(app)


def drawing(graph: dict[str, Any], highlight: list[str] | None, layout_name: str) -> dict[str, Any]:
    """What assets/topology_draw.js draws: the elements and the layout to run when they change."""
    return {
        "elements": scale.decorate(elements(graph, frozenset(highlight or [])), graph),
        "layout": scale.layout_for(_layout(layout_name), graph),
    }


def _register_graph(app) -> None:
    """Load the graph on every change and refresh, draw and style it."""

    @app.callback(
        Output("topo-data", "data"),
        Output("topo-elements", "data"),
        Output("topo-banner", "children"),
        Output("topo-summary", "children"),
        Output("topo-empty", "children"),
        Output("topo-namespaces", "options"),
        Input("topo-namespaces", "value"),
        Input("topo-view", "value"),
        Input("topo-window", "value"),
        Input("topo-interval", "n_intervals"),
        Input("topo-refresh-now", "n_clicks"),
        Input("topo-cluster", "value"),
        Input("topo-waypoints", "value"),
        Input("topo-scale", "data"),
        Input("topo-at", "data"),  # a replay step changes it
        State("topo-namespaces", "options"),
        State("topo-highlight", "data"),
        State("topo-layout", "value"),
    )
    def load(
        namespaces, view, window, _n, _clicks, clusters, waypoints, big, at, options, lit, name
    ):
        """One answer draws the page: the graph's elements straight to the browser's drawing
        script, the cards, and the small Store the other callbacks read (graph_store.py)."""
        svc = services()
        try:
            args = view_args(namespaces, view, window, waypoints, clusters, at, big, svc.clock())
            params = parse_graph_params(args, svc.settings.default_namespaces, shaped=True)
            graph = graph_view(svc, params)
            if not graph["nodes"]:  # nothing drawn: a namespace that does not exist says so
                graph = {**graph, "not_found": _not_found(svc, params)}
        except Exception as exc:  # every failure becomes a banner, never a traceback
            if ctx.triggered_id == "topo-interval":
                return no_update, no_update, error_banner(exc), no_update, no_update, no_update
            empty = {"elements": [], "layout": _layout(name)}
            return None, empty, error_banner(exc), [], "", options
        seen = {n.get("namespace") for n in graph["nodes"] if n.get("namespace")}
        known = {o if isinstance(o, str) else o["value"] for o in options or []}
        return (
            store_of(args, graph),
            drawing(graph, lit, name),
            # Some clusters failing while others answer: draw what answered, name what did not.
            partial_banner(graph.get("partial") or []),
            summary_cards(graph),
            scale.empty_message(graph) or _empty_message(graph),
            sorted(known | seen | set(graph["namespaces"])),
        )

    @app.callback(
        Output("topo-elements", "data", allow_duplicate=True),
        Input("topo-highlight", "data"),
        State("topo-data", "data"),
        State("topo-layout", "value"),
        prevent_initial_call=True,
    )
    def rehighlight(lit, store, name):
        """A path highlighted or cleared ("Why is it red?"): the same graph, other classes."""
        try:
            graph = graph_of(store)
        except Exception:  # the graph's own refresh says what failed
            return no_update
        return no_update if graph is None else drawing(graph, lit, name)

    @app.callback(
        Output("topo-cluster", "options"),
        Output("topo-cluster-control", "hidden"),
        Input("topo-data", "data"),
        State("topo-cluster", "value"),
    )
    def cluster_options(store, chosen):
        """The filter lists every cluster the graph spans; it shows only when there are two."""
        known = sorted(set((store or {}).get("clusters") or []) | set(chosen or []))
        return known, len(known) < 2 and not chosen

    @app.callback(
        Output("topo-graph", "stylesheet"),
        Input("topo-labels", "value"),
        Input("topo-security", "value"),
    )
    def restyle(label, security):
        return scale.stylesheet(stylesheet(label, "on" in (security or [])))

    @app.callback(
        Output("topo-legend", "children"),
        Input("topo-data", "data"),
        Input("topo-security", "value"),
        Input("topo-waypoints", "value"),
    )
    def explain(store, security, waypoints):
        """The legend follows what the graph draws."""
        stored = (store or {}).get("legend")
        return legend(facts_of(stored, "on" in (security or []), "show" in (waypoints or [])))

    @app.callback(
        Output("topo-graph", "layout"),
        Input("topo-layout", "value"),
        State("topo-data", "data"),
        State("topo-graph", "layout"),
    )
    def relayout(name, store, current):
        """The user's layout choice; a new graph runs its layout in assets/topology_draw.js."""
        chosen = scale.layout_for(_layout(name), store)  # large graphs: the server's positions
        return no_update if chosen == current else chosen

    register_refresh(app, "topo-interval", "topo-refresh", FAST_REFRESH, at_store="topo-at")
    register_time(app, "topo", at_store="topo-at", drop=replay.URL_KEYS)


def _register_selection(app) -> None:
    """A click on a node or an edge opens its side panel."""

    @app.callback(
        Output("topo-selected", "data"),
        Input("topo-graph", "tapNodeData"),
        Input("topo-graph", "tapEdgeData"),
        Input({"type": HOT_SPOT, "list": ALL, "source": ALL, "target": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def select(node, edge, _rows):
        if ctx.triggered_id is None:
            return no_update
        if isinstance(ctx.triggered_id, dict):  # a hot-spot row: its edge, as a tap selects it
            if not ctx.triggered[0].get("value"):
                return no_update  # the row was drawn, not clicked
            row = ctx.triggered_id
            return {"kind": "edge", "source": row["source"], "target": row["target"]}
        prop = ctx.triggered[0]["prop_id"]
        if prop.endswith("tapNodeData") and node and node.get("kind") != "namespace":
            return {"kind": "node", "id": node["id"]}
        if prop.endswith("tapEdgeData") and edge:
            return {"kind": "edge", "source": edge["source"], "target": edge["target"]}
        return no_update

    @app.callback(
        Output("topo-panel", "children"),
        Input("topo-selected", "data"),
        Input("topo-data", "data"),
        State("topo-at", "data"),
    )
    def panel(selected, store, at):
        from dashboards.topology.side_panel import edge_panel, node_panel, overview_panel

        try:
            graph = graph_of(store)
        except Exception as exc:  # the graph asked again failed: say so, in plain words
            return error_banner(exc)
        if not graph:
            return overview_panel(None)
        if selected and selected.get("kind") == "node":
            node = next((n for n in graph["nodes"] if n["id"] == selected["id"]), None)
            if node:
                return node_panel(node, graph, at)
        if selected and selected.get("kind") == "edge":
            edge = next(
                (
                    e
                    for e in graph["edges"]
                    if e["source"] == selected["source"] and e["target"] == selected["target"]
                ),
                None,
            )
            if edge:
                return edge_panel(edge, graph, at)
        return overview_panel(graph)


def _register_browser(app) -> None:
    """The graph drawn in the browser and the page's state in the address bar."""

    # The elements in one batch, bypassing dash-cytoscape's element-by-element diff (12-17 s
    # for a 1,000-workload graph); also resizes the canvas and keeps boxes apart
    # (assets/topology_draw.js, assets/topology_boxes.js).
    app.clientside_callback(
        "function(drawing) { return window.meshdashTopology.draw(drawing); }",
        Output("topo-drawn", "data"),
        Input("topo-elements", "data"),
    )

    register_url_sync(
        app,
        "topo-url-sink",
        [
            UrlParam("namespace", "topo-namespaces", how="each"),
            UrlParam("cluster", "topo-cluster", how="each"),
            UrlParam("graph", "topo-view", how="always"),
            UrlParam("window", "topo-window", how="always"),
            UrlParam("refresh", "topo-refresh", how="always"),
            UrlParam("layout", "topo-layout", how="always"),
            UrlParam("labels", "topo-labels", how="always"),
            UrlParam("at", "topo-at", "data"),
            UrlParam("highlight", "topo-highlight", "data", how="joined"),
            UrlParam("security", "topo-security", how="on_flag"),
            UrlParam("waypoints", "topo-waypoints", how="joined"),
            *selection.URL_PARAMS,
            *replay.URL_PARAMS,
            *scale.URL_PARAMS,
        ],
    )
