"""The topology's graph built as the page is requested (issue 16): the page's load callback then
finds it in the view's memo, so one page load asks the telemetry once, whatever the link says;
a failed prefetch leaves nothing behind; without a shared cache nothing is built ahead.
Through the page's own layout and callbacks, as the browser calls them."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import parse_qs

import pytest

from app import create_app
from collectors.cache import SharedCache
from dashboards.topology import prefetch
from mesh.errors import BackendUnavailable
from tests.dashcalls import DashCalls
from tests.review_demo import Clock, demo_services

T0 = 1_790_000_000.0

# What the page's load callback reads, and from which component property.
READ = {
    "topo-namespaces.value": ("topo-namespaces", "value"),
    "topo-namespaces.options": ("topo-namespaces", "options"),
    "topo-view.value": ("topo-view", "value"),
    "topo-window.value": ("topo-window", "value"),
    "topo-cluster.value": ("topo-cluster", "value"),
    "topo-waypoints.value": ("topo-waypoints", "value"),
    "topo-scale.data": ("topo-scale", "data"),
    "topo-at.data": ("topo-at", "data"),
    "topo-highlight.data": ("topo-highlight", "data"),
    "topo-layout.value": ("topo-layout", "value"),
}


class Counting:
    """A telemetry source that counts the graphs asked of it, and can fail the first."""

    def __init__(self, inner: Any, fail_first: bool = False) -> None:
        self.inner = inner
        self.asked: list[Any] = []
        self.fail_first = fail_first

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def graph_telemetry(self, query):
        self.asked.append(query)
        if self.fail_first and len(self.asked) == 1:
            raise BackendUnavailable("prometheus", "connection refused")
        return self.inner.graph_telemetry(query)


def _app(cache: bool = True, fail_first: bool = False) -> tuple[Any, DashCalls, Counting]:
    svc = demo_services(clock=Clock(T0))
    counting = Counting(svc.telemetry, fail_first)
    shared = SharedCache.from_settings(svc.settings, svc.metrics) if cache else None
    svc = dataclasses.replace(svc, telemetry=counting, cache=shared)
    app = create_app(svc.settings, svc)
    return app, DashCalls(app.server.test_client()), counting


def _props(tree: Any) -> dict[tuple[str, str], Any]:
    """(component id, property) -> value for every component in a layout."""
    out: dict[tuple[str, str], Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict) and "props" in node:
            props = node["props"]
            if isinstance(props.get("id"), str):
                for key, value in props.items():
                    out[(props["id"], key)] = value
            for value in props.values():
                walk(value)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(tree)
    return out


def _load_as_the_browser_does(dash: DashCalls, search: str) -> dict[str, Any]:
    """The page's layout for the link, then its load callback with the layout's values."""
    code, tree, raw = dash.page("/", search)
    assert code == 200, raw[:300]
    props = _props(tree)
    inputs = {key: props.get(where) for key, where in READ.items()}
    code, out, raw = dash.call("topo-data.data", inputs)
    assert code == 200 and "Traceback" not in raw, raw[:500]
    return out


LINKS = [
    f"?namespace=bookinfo&graph=workload&window=5m&at={int(T0) - 60}",
    "?namespace=bookinfo&graph=namespace&window=15m",  # now: resolved once by the clock
    "?namespace=bookinfo",  # no graph=: the view decides (the namespace graph above a size)
    "?namespace=bookinfo&graph=app&waypoints=show&find=rps%3E0",
    "?namespace=bookinfo&graph=workload&focus=bookinfo/reviews-v2&hops=2&hide_edges=idle",
    "?graph=versioned-app&window=1h&cluster=Kubernetes&layout=cose",
]


@pytest.mark.parametrize("search", LINKS)
def test_the_page_s_load_finds_the_prefetched_graph_and_asks_nothing_again(search):
    app, dash, counting = _app()
    with app.server.app_context():
        prefetch(parse_qs(search[1:], keep_blank_values=True))
    assert len(counting.asked) == 1
    out = _load_as_the_browser_does(dash, search)
    assert len(counting.asked) == 1, "the page built the linked graph a second time"
    drawn = out["topo-elements"]["data"]["elements"]
    assert drawn or "cluster" in search  # the cluster filter of a one-cluster demo hides all
    assert not out["topo-banner"]["children"]


def test_a_failed_prefetch_leaves_nothing_behind_and_the_page_asks_again():
    app, dash, counting = _app(fail_first=True)
    search = "?namespace=bookinfo&graph=workload&window=5m"
    with app.server.app_context(), pytest.raises(BackendUnavailable):
        prefetch(parse_qs(search[1:]))
    out = _load_as_the_browser_does(dash, search)
    assert len(counting.asked) == 2
    assert out["topo-elements"]["data"]["elements"]  # drawn, no failure remembered
    assert not out["topo-banner"]["children"]


def test_without_a_shared_cache_nothing_is_built_ahead():
    """The demo's wiring has no memo to fill: a prefetch would only be built twice."""
    app, _, counting = _app(cache=False)
    with app.server.app_context():
        prefetch({"namespace": ["bookinfo"], "graph": ["workload"]})
    assert counting.asked == []


def test_a_page_request_starts_the_prefetch_through_the_server():
    app, _, counting = _app()
    client = app.server.test_client()
    assert client.get(f"/?namespace=bookinfo&graph=workload&at={int(T0)}").status_code == 200
    assert app.server.extensions["meshdash.prefetch"]["/"].idle(30)
    assert [q.at for q in counting.asked] == [T0]
