"""The topology's answer for namespaces that do not exist: "not found", why, and the nearest
known names as links to their topology (views/inventory.namespaces_not_found finds them)."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.components.links import topology_link


def not_found_message(found: dict[str, Any], window: str) -> list:
    missing = found.get("missing") or []
    names = ", ".join(missing)
    plural = "s" if len(missing) > 1 else ""
    why = str(found.get("why") or "")
    out: list = [
        html.Strong(f"Namespace{plural} {names} not found", id="topo-not-found"),
        html.Div(f"{why[:1].upper()}{why[1:]}.", className="md-not-found-why"),
    ]
    suggestions = found.get("suggestions") or []
    if suggestions:
        links: list = []
        for name in suggestions:
            if links:
                links.append(", ")
            links.append(
                html.A(name, href=topology_link([name], window), className="md-suggestion")
            )
        out.append(html.Div(["Did you mean ", *links, "?"], id="topo-suggestions"))
    else:
        out.append(html.Div("Choose a namespace from the list above."))
    return out
