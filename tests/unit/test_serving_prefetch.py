"""serving/prefetch.py: a page's first answer started as the page is requested, in the background,
for GETs of that page only, after the hooks that refuse a request, a bounded number at once,
its failure logged and never the page's."""

from __future__ import annotations

import contextvars
import logging
import threading

from flask import Flask

from serving.prefetch import register_prefetch


def _server(start, limit: int = 2, refuse: bool = False):
    server = Flask(__name__)
    if refuse:  # as the guards and the identity check answer a refused request first
        server.before_request(lambda: ("refused", 403))
    prefetches = register_prefetch(server, "/", start, limit)

    @server.get("/")
    @server.post("/")
    @server.get("/other")
    def page():
        return "page"

    return server.test_client(), prefetches


def test_a_get_of_the_page_starts_it_with_the_query_and_the_page_answers():
    seen: list[dict] = []
    client, prefetches = _server(seen.append)
    r = client.get("/?namespace=a&namespace=b&graph=workload&find=")
    assert r.status_code == 200 and r.get_data(as_text=True) == "page"
    assert prefetches.idle(10)
    assert seen == [{"namespace": ["a", "b"], "graph": ["workload"], "find": [""]}]


def test_it_runs_in_the_request_s_context_so_its_client_s_quota_pays():
    client_of = contextvars.ContextVar("client", default=None)
    seen: list = []
    server = Flask(__name__)
    server.before_request(lambda: client_of.set("10.0.0.7") and None)  # as guards.py does
    prefetches = register_prefetch(server, "/", lambda q: seen.append(client_of.get()))
    server.get("/")(lambda: "page")
    server.test_client().get("/")
    assert prefetches.idle(10) and seen == ["10.0.0.7"]


def test_other_paths_other_methods_and_refused_requests_start_nothing():
    seen: list[dict] = []
    client, prefetches = _server(seen.append)
    client.get("/other?namespace=a")
    client.post("/?namespace=a")
    assert prefetches.idle(10) and seen == []
    client, prefetches = _server(seen.append, refuse=True)
    assert client.get("/?namespace=a").status_code == 403
    assert prefetches.idle(10) and seen == []


def test_at_most_limit_run_at_once_and_a_slot_frees_when_one_ends():
    release = threading.Event()
    started: list[dict] = []

    def start(query):
        started.append(query)
        release.wait(10)

    client, prefetches = _server(start, limit=1)
    client.get("/?n=1")
    client.get("/?n=2")  # the page loads as before, without a prefetch
    assert not prefetches.idle(0.2)
    release.set()
    assert prefetches.idle(10)
    assert started == [{"n": ["1"]}]
    client.get("/?n=3")
    assert prefetches.idle(10) and started[-1] == {"n": ["3"]}


def test_a_failure_is_logged_and_frees_its_slot(caplog):
    seen: list[dict] = []

    def start(query):
        seen.append(query)
        if len(seen) == 1:
            raise RuntimeError("prometheus: connection refused")

    client, prefetches = _server(start, limit=1)
    with caplog.at_level(logging.INFO, logger="meshdash.prefetch"):
        assert client.get("/?n=1").status_code == 200
        assert prefetches.idle(10)
    assert "connection refused" in caplog.text
    client.get("/?n=2")  # the slot is free again: the next request starts one
    assert prefetches.idle(10) and seen == [{"n": ["1"]}, {"n": ["2"]}]
