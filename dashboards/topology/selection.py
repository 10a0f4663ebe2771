"""The topology's selection in the URL: the selected node (`node=`) or edge (`edge=SRC,DST`)
and the open "Why is it red?" panel (`why=NODE`, or `why=namespace` for the namespace's), so a
pasted link opens on what the sender saw: selected, highlighted, its panel open.

Node ids are the graph's own (`bookinfo/reviews-v2`); a malformed value selects nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Input, Output

from dashboards.kit import UrlParam
from mesh.errors import MeshdashError
from views.params import get_list, get_one

WHY_NAMESPACE = "namespace"  # `why=` for the namespace's answer (no node)
MAX_ID = 512


def _one(query: Mapping[str, Any], key: str) -> str | None:
    try:
        value = get_one(query, key)
    except MeshdashError:
        return None
    return value if value and len(value) <= MAX_ID else None


def selected_of(query: Mapping[str, Any]) -> dict[str, str] | None:
    """The topo-selected Store's value for `node=` or `edge=` (node wins)."""
    node = _one(query, "node")
    if node:
        return {"kind": "node", "id": node}
    try:
        ends = get_list(query, "edge")
    except MeshdashError:
        return None
    if len(ends) == 2 and all(len(e) <= MAX_ID for e in ends):
        return {"kind": "edge", "source": ends[0], "target": ends[1]}
    return None


def why_of(query: Mapping[str, Any]) -> dict[str, str | None] | None:
    """The topo-why-target Store's value for `why=`."""
    why = _one(query, "why")
    if not why:
        return None
    return {"node": None if why == WHY_NAMESPACE else why}


def why_store(query: Mapping[str, Any]) -> dict[str, Any]:
    """The topo-why-target Store's keyword arguments: `data` only when `why=` is given. Created
    with data=None, the Store made the answer's callback take the page's start for a close,
    which cleared a trace's highlighted path (tests/browser/test_traces_page.py)."""
    why = why_of(query)
    return {"data": why} if why else {}


def url_fields(selected: Mapping[str, Any] | None, why: Mapping[str, Any] | None) -> dict:
    """The URL parameters for a selection and an open answer."""
    out: dict[str, str] = {}
    if selected and selected.get("kind") == "node" and selected.get("id"):
        out["node"] = selected["id"]
    elif selected and selected.get("kind") == "edge":
        out["edge"] = f"{selected['source']},{selected['target']}"
    if why:
        out["why"] = why.get("node") or WHY_NAMESPACE
    return out


URL_PARAMS: tuple[UrlParam, ...] = (
    UrlParam("node", "topo-selection-url", "data", field="node"),
    UrlParam("edge", "topo-selection-url", "data", field="edge"),
    UrlParam("why", "topo-selection-url", "data", field="why"),
)


def register_callbacks(app) -> None:
    @app.callback(
        Output("topo-selection-url", "data"),
        Input("topo-selected", "data"),
        Input("topo-why-target", "data"),
    )
    def to_url(selected, why):
        return url_fields(selected, why)

    # Cytoscape's own selection follows the Store: after every redraw (a pasted link, a replay
    # step, a refresh), once assets/topology_draw.js has drawn the new elements (topo-drawn); and when a selection is made elsewhere
    # than on the graph (a hot-spot row, a link), which is also centred. A tap has already
    # selected its element, which stays put.
    app.clientside_callback(
        """
        function(drawn, selected) {
            const cy = window.meshdashTopology && window.meshdashTopology.graph();
            if (!cy || !selected) { return window.dash_clientside.no_update; }
            const id = selected.kind === 'edge'
                ? selected.source + '->' + selected.target : selected.id;
            const redrawn = (window.dash_clientside.callback_context.triggered || []).some(
                t => t.prop_id === 'topo-drawn.data');
            const select = () => {
                const el = cy.getElementById(id);
                if (el.empty() || el.selected()) { return; }
                cy.elements(':selected').unselect();
                el.select();
                if (!redrawn) { cy.animate({center: {eles: el}}, {duration: 200}); }
            };
            if (redrawn) { setTimeout(select, 50); } else { select(); }
            return window.dash_clientside.no_update;
        }
        """,
        Output("topo-selection-url", "id"),
        Input("topo-drawn", "data"),
        Input("topo-selected", "data"),
    )
