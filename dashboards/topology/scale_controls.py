"""The topology's controls for big meshes: find, hide, focus with hops, expand a namespace of the
namespace graph, hide quiet edges; the note saying why the page opened on the namespace graph;
and what the page is waiting for on a cold start. Translation only: the rules are in
views/graph_shape.py and mesh/graph/ (find_hide, namespace_view, focus, positions)."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.kit import UrlParam, control, control_bar
from dashboards.topology.graph_store import graph_of
from mesh.errors import MeshdashError
from mesh.graph.find_hide import EDGE_QUIET
from mesh.graph.focus import MAX_HOPS
from presentation import numbers as fmt
from views.params import get_list, get_one

HOPS = tuple(str(h) for h in range(1, MAX_HOPS + 1))
QUIET_LABELS = {"idle": " Hide idle edges", "healthy": " Hide healthy edges"}

URL_PARAMS: tuple[UrlParam, ...] = (
    UrlParam("find", "topo-find"),
    UrlParam("hide", "topo-hide"),
    UrlParam("focus", "topo-focus"),
    UrlParam("hops", "topo-hops"),
    UrlParam("expand", "topo-expand", how="joined"),
    UrlParam("hide_edges", "topo-hide-edges", how="joined"),
)


def _text(query: dict[str, Any], key: str) -> str:
    try:
        return get_one(query, key) or ""
    except MeshdashError:
        return ""


def _texts(query: dict[str, Any], key: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    try:
        found = get_list(query, key)
    except MeshdashError:
        return []
    return [v for v in dict.fromkeys(found) if allowed is None or v in allowed]


def initial_state(query: dict[str, Any]) -> dict[str, Any]:
    """The big-mesh part of the view from the URL; bad values are kept as typed (find, hide)
    so the banner can say what is wrong with them, or dropped (lists, hops)."""
    raw_find = query.get("find")
    raw_hide = query.get("hide")
    hops = _text(query, "hops")
    return {
        "find": raw_find if isinstance(raw_find, str) else "",
        "hide": raw_hide if isinstance(raw_hide, str) else "",
        "focus": _text(query, "focus"),
        "hops": hops if hops in HOPS else "1",
        "expand": _texts(query, "expand"),
        "hide_edges": _texts(query, "hide_edges", EDGE_QUIET),
        # No graph= in the link: the namespace graph when the mesh is too big to draw.
        "auto": not _text(query, "graph"),
    }


def _expression(label: str, id_: str, value: str, placeholder: str) -> html.Label:
    """A find or hide expression box: read when typing stops (debounce), not per key."""
    return control(
        label,
        dcc.Input(
            id=id_,
            value=value,
            debounce=True,
            placeholder=placeholder,
            className="md-expression",
            type="text",
        ),
        wide=True,
    )


def bar(state: dict[str, Any]) -> html.Div:
    """The second control row."""
    return control_bar(
        [
            _expression(
                "Find", "topo-find", state["find"], "rps > 10, health = failure, p95 > 500"
            ),
            _expression("Hide", "topo-hide", state["hide"], "ns = istio-system, rps < 0.1"),
            control(
                "Focus on",
                dcc.Dropdown(
                    id="topo-focus",
                    options=[state["focus"]] if state["focus"] else [],
                    value=state["focus"] or None,
                    placeholder="Any node",
                ),
                wide=True,
            ),
            control(
                "Hops",
                dcc.Dropdown(
                    id="topo-hops",
                    options=[{"label": h, "value": h} for h in HOPS],
                    value=state["hops"],
                    clearable=False,
                    searchable=False,
                ),
            ),
            html.Div(
                control(
                    "Expanded namespaces",
                    dcc.Dropdown(
                        id="topo-expand",
                        options=state["expand"],
                        value=state["expand"],
                        multi=True,
                        placeholder="Double-click a namespace",
                    ),
                    wide=True,
                ),
                id="topo-expand-control",
            ),
            control(
                "Edges",
                dcc.Checklist(
                    id="topo-hide-edges",
                    options=[{"label": QUIET_LABELS[q], "value": q} for q in EDGE_QUIET],
                    value=state["hide_edges"],
                    className="md-display-toggle",
                ),
            ),
        ],
        class_name="md-controls md-scale-controls",
    )


def notes(state: dict[str, Any], source: str) -> list[Any]:
    """The notes under the summary (why the namespace graph, what find found) and the stores."""
    return [
        html.Div(id="topo-opened-note", className="md-scale-note md-scale-opened"),
        html.Div(id="topo-scale-note", className="md-scale-note"),
        dcc.Store(id="topo-scale", data=state),
        dcc.Store(id="topo-source", data=source),
        dcc.Store(id="topo-dbltap"),  # assets/topology_scale.js: a namespace node double-clicked
    ]


def waiting(namespaces: list[str], view: str, window: str, source: str, store: Any) -> Any:
    """The graph's data Store inside a Loading that says what the page is waiting for."""
    return dcc.Loading(
        store,
        id="topo-waiting",
        custom_spinner=waiting_text(namespaces, view, window, source),
        parent_className="md-graph-waiting",
        # Over the whole graph pane (dcc.Loading's own style would put it below the graph).
        parent_style={"position": "absolute", "inset": "0", "pointerEvents": "none", "zIndex": 4},
        delay_show=250,
    )


VIEW_WORDS = {
    "workload": "workload graph",
    "app": "app graph",
    "versioned-app": "versioned app graph",
    "service": "service graph",
    "namespace": "namespace graph",
}


def waiting_text(namespaces: list[str], view: str, window: str, source: str) -> html.Div:
    """ "Asking Prometheus for 20 namespaces' traffic..." with what makes it slow on big meshes."""
    who = "the simulated mesh" if source == "demo" else source.capitalize()
    count = len(namespaces)
    what = f"{count} namespaces'" if count != 1 else f"{namespaces[0] if namespaces else 'the'}"
    return html.Div(
        [
            html.Strong(f"Asking {who} for {what} traffic over the last {window}…"),
            html.Span(
                f" then building the {VIEW_WORDS.get(view, 'graph')}. A large mesh's first "
                "answer can take several seconds; later refreshes reuse it.",
            ),
        ],
        className="md-waiting",
        role="status",
    )


def with_shape(args: dict[str, Any], scale: dict[str, Any] | None, view: str) -> dict[str, Any]:
    """The page's graph arguments with the big-mesh ones (as /api/graph takes them)."""
    scale = scale or {}
    out = dict(args)
    if scale.get("auto") and view == "workload":
        out.pop("graph", None)  # the view decides: the namespace graph above the threshold
    for key in ("find", "hide", "focus"):
        if scale.get(key):
            out[key] = scale[key]
    if scale.get("focus"):
        out["hops"] = str(scale.get("hops") or "1")
    if scale.get("expand"):  # the view opens them only on the namespace graph
        out["expand"] = list(scale["expand"])
    if scale.get("hide_edges"):
        out["hide_edges"] = list(scale["hide_edges"])
    return out


# ---------------------------------------------------------------------------------------------
# Elements


def _namespace_label(node: dict[str, Any]) -> str:
    members = node.get("members") or 0
    noun = "node" if members == 1 else "nodes"
    return f"{node.get('namespace')}\n{members} {noun} · {fmt.rps(node.get('rps_in') or 0.0)} in"


def stylesheet(style: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The page's stylesheet with the namespace graph's nodes (bigger, rounded, filled), and
    no text drawn where it would be too small to read: a fitted 1,000-node graph is drawn at a
    fifth of its size, and its 4,000 edge labels were most of the browser's drawing time."""
    return [
        *style,
        {"selector": "node, edge", "style": {"min-zoomed-font-size": 7}},
        # A large graph seen whole (assets/topology_draw.js): straight edges, no arrows or
        # labels, which at that zoom are a pixel or not drawn; half the first frame's time.
        {
            "selector": "edge.far",
            "style": {
                "curve-style": "haystack",
                "haystack-radius": 0,
                "target-arrow-shape": "none",
                "label": "",
                "text-background-opacity": 0,
            },
        },
        # A box drawn as a plain node (flat_boxes): its size is its members' extent, and it is
        # drawn first, under the edges and nodes it holds.
        {
            "selector": "node.flat",
            "style": {"width": "data(w)", "height": "data(h)", "z-compound-depth": "bottom"},
        },
        # Its title sized to the box (flat_boxes), so it is drawn at the zoom that fits the
        # whole graph, where a 13 px title would be 3 px and left out.
        {"selector": "node.flat[title]", "style": {"font-size": "data(title)"}},
        {
            "selector": "node.ns-node",
            "style": {
                "shape": "round-rectangle",
                "width": 80,
                "height": 50,
                "border-width": 6,
                "background-color": "#f4f6f8",
                "font-weight": "bold",
                # Read at the zoom that fits a 20-namespace circle (about a third), where a
                # workload's 12 px label is not drawn: a namespace's name stays readable.
                "font-size": 22,
            },
        },
    ]


def decorate(els: list[dict[str, Any]], graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Elements for the namespace graph, find and server positions: namespace nodes drawn as
    nodes (not boxes), boxes left empty dropped, what find found highlighted and the rest
    faded, and preset positions when the server laid the graph out."""
    spaces = {n["id"]: n for n in graph.get("nodes", []) if n.get("kind") == "namespace"}
    placed = graph.get("positions") or {}
    find = graph.get("find")
    focus = (graph.get("focus") or {}).get("node")
    hit_nodes = set(find["nodes"]) if find else set()
    hit_edges = {f"{e['source']}->{e['target']}" for e in find["edges"]} if find else set()
    box_parent = {
        e["data"]["id"]: e["data"].get("parent")
        for e in els
        if "namespace" in e.get("classes", "").split()
    }
    out: list[dict[str, Any]] = []
    for el in els:
        data = dict(el["data"])
        classes = el.get("classes", "").split()
        is_edge = "source" in data and "target" in data
        if data.get("id") in spaces and not is_edge:
            classes = ["ns-node" if c == "namespace" else c for c in classes]
            data["label"] = _namespace_label(spaces[data["id"]])
            parent = data.pop("parent", None)
            if parent and parent.startswith("ns:"):  # out of its own box, into its cluster's
                parent = box_parent.get(parent)
            if parent:
                data["parent"] = parent
        box = "namespace" in classes or "cluster" in classes
        if focus and data.get("id") == focus and not is_edge and "path" not in classes:
            classes.append("path")  # the focused node stands out among its neighbours
        if find and not box:
            hit = data["id"] in (hit_edges if is_edge else hit_nodes)
            classes = [c for c in classes if c not in ("path", "faded")] + [
                "path" if hit else "faded"
            ]
        new = {**el, "data": data, "classes": " ".join(classes)}
        if not is_edge and data["id"] in placed:
            new["position"] = dict(placed[data["id"]])
        out.append(new)
    used = {e["data"].get("parent") for e in out}
    kept = [
        e for e in out if not ("namespace" in e["classes"].split() and e["data"]["id"] not in used)
    ]
    return flat_boxes(kept) if placed else kept


BOX_PAD = 40.0  # around a box's members: a node's half size and its label
CLUSTER_PAD = 30.0  # more around a cluster's, so its namespaces' boxes sit inside it
TITLE_MIN, TITLE_MAX = 14, 120  # px, a flat box's title: a tenth of its shorter side


def flat_boxes(els: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With the server's positions, boxes become plain nodes drawn behind their members, sized
    to hold them, and no node has a parent: Cytoscape recomputes a compound box for every change
    to a child, which doubled the first frame of a 1,000-workload graph (2.2 s against 1.2 s)."""
    parent_of = {e["data"]["id"]: e["data"].get("parent") for e in els if "source" not in e["data"]}
    points: dict[str, list[dict[str, float]]] = {}
    for el in els:
        box = el["data"].get("parent") if el.get("position") else None
        while box:  # the node's box, and the boxes holding that box
            points.setdefault(box, []).append(el["position"])
            box = parent_of.get(box)
    out: list[dict[str, Any]] = []
    for el in els:
        data = {k: v for k, v in el["data"].items() if k != "parent"}
        new = {**el, "data": data}
        found = points.get(data["id"])
        if found:
            pad = BOX_PAD + (CLUSTER_PAD if "cluster" in el["classes"].split() else 0.0)
            xs, ys = [p["x"] for p in found], [p["y"] for p in found]
            new["position"] = {"x": (min(xs) + max(xs)) / 2, "y": (min(ys) + max(ys)) / 2}
            data["w"] = round(max(xs) - min(xs) + 2 * pad, 1)
            data["h"] = round(max(ys) - min(ys) + 2 * pad, 1)
            data["title"] = round(min(TITLE_MAX, max(TITLE_MIN, min(data["w"], data["h"]) / 10)))
            new["classes"] = f"{el['classes']} flat"
        out.append(new)
    return out


def layout_for(chosen: dict[str, Any], graph: dict[str, Any] | None) -> dict[str, Any]:
    """The user's layout, or the server's positions as they are when it sent some."""
    if graph and graph.get("positions"):
        return {"name": "preset", "animate": False, "fit": True, "padding": 30}
    return chosen


def empty_message(graph: dict[str, Any]) -> str | None:
    """Why the graph is empty when it is the big-mesh controls' doing; None otherwise."""
    if graph.get("nodes"):
        return None
    focus = graph.get("focus")
    if focus and not focus.get("found"):
        return (
            f"{focus['node']} had no traffic in the last {graph['window']}: there is nothing "
            "around it to show. Clear the focus, or choose a longer window."
        )
    if graph.get("hide"):
        return f"Hide ({graph['hide']}) leaves nothing to show. Change or clear it."
    return None


def note_text(graph: dict[str, Any] | None) -> str:
    """What find found, and where the positions come from."""
    if not graph:
        return ""
    parts = []
    find = graph.get("find")
    if find:
        n, e = len(find["nodes"]), len(find["edges"])
        if n or e:
            parts.append(f"Find {find['expression']}: {n:,} nodes and {e:,} edges highlighted.")
        else:
            parts.append(f"Find {find['expression']}: nothing matches.")
    if graph.get("positions"):
        parts.append(f"{len(graph['nodes']):,} nodes laid out on the server.")
    return " ".join(parts)


def register_callbacks(app) -> None:
    """Controls to the Store the graph loads from, and the namespace-graph opening rule."""

    @app.callback(
        Output("topo-scale", "data"),
        Input("topo-find", "value"),
        Input("topo-hide", "value"),
        Input("topo-focus", "value"),
        Input("topo-hops", "value"),
        Input("topo-expand", "value"),
        Input("topo-hide-edges", "value"),
        Input("topo-dbltap", "data"),
        State("topo-scale", "data"),
        prevent_initial_call=True,
    )
    def collect(find, hide, focus, hops, expand, quiet, dbltap, scale):
        scale = dict(scale or {})
        expand = list(expand or [])
        if ctx.triggered_id == "topo-dbltap" and dbltap and dbltap.get("namespace"):
            if dbltap["namespace"] in expand:
                return no_update
            expand.append(dbltap["namespace"])
        scale.update(
            find=(find or "").strip(),
            hide=(hide or "").strip(),
            focus=focus or "",
            hops=hops or "1",
            expand=expand,
            hide_edges=list(quiet or []),
        )
        return scale

    @app.callback(
        Output("topo-expand", "value"),
        Output("topo-expand", "options"),
        Input("topo-scale", "data"),
        State("topo-expand", "value"),
        prevent_initial_call=True,
    )
    def expanded(scale, current):
        want = list((scale or {}).get("expand") or [])
        if want == list(current or []):
            return no_update, no_update
        return want, want

    @app.callback(
        Output("topo-view", "value", allow_duplicate=True),
        Output("topo-opened-note", "children"),
        Output("topo-scale", "data", allow_duplicate=True),
        Output("topo-scale-note", "children"),
        Output("topo-focus", "options"),
        Input("topo-data", "data"),
        State("topo-scale", "data"),
        State("topo-focus", "value"),
        prevent_initial_call=True,
    )
    def opened(store, scale, focus):
        try:
            graph = graph_of(store)
        except Exception:  # the graph's own banner says what failed
            return no_update, no_update, no_update, no_update, no_update
        ids = sorted(
            n["id"] for n in (graph or {}).get("nodes", []) if n.get("kind") != "namespace"
        )
        options = ids if not focus or focus in ids else [focus, *ids]
        why = (graph or {}).get("opened_as_namespace_graph")
        if not why:
            return no_update, no_update, no_update, note_text(graph), options
        note = (
            f"Opened on the namespace graph: {why['reason']}. Double-click a namespace to see its "
            "nodes, or choose another graph above."
        )
        return "namespace", note, {**(scale or {}), "auto": False}, note_text(graph), options

    @app.callback(
        Output("topo-opened-note", "children", allow_duplicate=True),
        Input("topo-view", "value"),
        prevent_initial_call=True,
    )
    def forget_why(view):
        return no_update if view == "namespace" else ""

    @app.callback(
        Output("topo-waiting", "custom_spinner"),
        Input("topo-namespaces", "value"),
        Input("topo-view", "value"),
        Input("topo-window", "value"),
        State("topo-source", "data"),
    )
    def waiting_for(namespaces, view, window, source):
        return waiting_text(list(namespaces or []), view, window, source or "")
