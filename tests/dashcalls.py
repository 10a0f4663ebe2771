"""Run a Dash app's server-side callbacks over HTTP, the way the browser does, without a browser.

`DashCalls(client)` reads /_dash-dependencies once; `call(output, inputs, state)` POSTs to
/_dash-update-component exactly what dash-renderer would send and returns the outputs that
changed ({component id: {property: value}}); `page(path, search)` renders a page's layout
through dash.page_container's own callback. `banners(tree)` finds the error/info banners in any
answer, `text(tree)` its visible text. Fault tests use these to check every page cheaply and keep
real-browser checks for a few cases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any


class DashCalls:
    def __init__(self, client: Any) -> None:
        self.client = client
        deps = client.get("/_dash-dependencies").get_json()
        self.deps = {d["output"]: d for d in deps if d.get("clientside_function") is None}

    def dependency(self, output: str) -> dict[str, Any]:
        """The callback whose output string is `output` (a key of `deps`), else the one whose
        output string contains it (e.g. "topo-banner.children")."""
        if output in self.deps:
            return self.deps[output]
        found = [d for key, d in self.deps.items() if output in key]
        if len(found) != 1:
            raise KeyError(f"{len(found)} server-side callbacks write {output!r}")
        return found[0]

    def call(
        self,
        output: str,
        inputs: Mapping[str, Any],
        state: Mapping[str, Any] | None = None,
        changed: str | None = None,
    ) -> tuple[int, dict[str, dict[str, Any]], str]:
        """(HTTP status, {id: {prop: value}} of what changed, raw body). Keys are "id.prop"."""
        dep = self.dependency(output)
        state = state or {}

        def values(items: list[dict[str, Any]], given: Mapping[str, Any]) -> list[dict]:
            return [
                {**i, "value": given.get(f"{i['id']}.{i['property']}")}
                for i in items
                if isinstance(i["id"], str)
            ]

        key = dep["output"]
        if key.startswith(".."):
            parts = key[2:-2].split("...")
            outputs: Any = [_split(p) for p in parts]
        else:
            outputs = _split(key)
        first = f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"
        payload = {
            "output": key,
            "outputs": outputs,
            # a value counts wherever the callback reads it (an Input or a State), so a page
            # turning a State into an Input (the topology's `at`, which its replay changes)
            # keeps its callers' meaning
            "inputs": values(dep["inputs"], {**state, **inputs}),
            "state": values(dep.get("state", []), {**inputs, **state}),
            "changedPropIds": [changed or first],
        }
        resp = self.client.post("/_dash-update-component", json=payload)
        body = resp.get_data(as_text=True)
        if resp.status_code != 200:
            return resp.status_code, {}, body
        return resp.status_code, json.loads(body).get("response", {}), body

    def page(self, path: str, search: str = "") -> tuple[int, Any, str]:
        """A page's layout as dash.page_container renders it for `path?search`."""
        status, out, body = self.call(
            "_pages_content.children",
            {"_pages_location.pathname": path, "_pages_location.search": search},
        )
        return status, out.get("_pages_content", {}).get("children"), body


def _split(part: str) -> dict[str, str]:
    ident, prop = part.rsplit(".", 1)
    return {"id": ident, "property": prop}


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every component in a Dash JSON tree (dicts with type/props), depth first."""
    if isinstance(tree, list):
        for item in tree:
            yield from _nodes(item)
    elif isinstance(tree, dict):
        if "props" in tree and "type" in tree:
            yield tree
            yield from _nodes(tree["props"].get("children"))
        else:
            for value in tree.values():
                yield from _nodes(value)


def text(tree: Any) -> str:
    """The visible text of a component tree, in order."""
    if isinstance(tree, str | int | float) and not isinstance(tree, bool):
        return str(tree)
    if isinstance(tree, list):
        return " ".join(t for t in (text(i) for i in tree) if t)
    if isinstance(tree, dict):
        if "props" in tree:
            return text(tree["props"].get("children"))
        return " ".join(t for t in (text(v) for v in tree.values()) if t)
    return ""


def banners(tree: Any) -> list[str]:
    """The text of every banner (className md-banner ...) in a tree, e.g. a callback answer."""
    return [
        " ".join(text(n["props"].get("children")).split())
        for n in _nodes(tree)
        if "md-banner" in str(n["props"].get("className", ""))
    ]
