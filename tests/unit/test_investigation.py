"""mesh/investigation: origins and victims from a graph's figures, and where failing traces start."""

from __future__ import annotations

import pytest

from mesh.investigation import (
    FOUND,
    NO_ERRORS,
    NO_TRAFFIC,
    TOO_FEW,
    UNDETERMINED,
    agreement,
    failure_start,
    find_error_origins,
    find_latency_origin,
    trace_origins,
)
from mesh.traces.records import Process, RefType, Span, SpanRef, Tag, Trace

WINDOW = 300


def node(id_: str, **kw) -> dict:
    ns = kw.pop("namespace", id_.split("/")[0] if "/" in id_ else "")
    return {"id": id_, "kind": "workload", "namespace": ns, "outsider": False, **kw}


def edge(s: str, t: str, rps: float, err: float = 0.0, p95: float | None = None) -> dict:
    return {
        "source": s,
        "target": t,
        "rps": rps,
        "error_rate": err,
        "p95_ms": p95,
        "protocol": "http",
    }


def chain(*edges: dict, outsiders: tuple[str, ...] = ()) -> tuple[list[dict], list[dict]]:
    ids = sorted({e["source"] for e in edges} | {e["target"] for e in edges})
    return [node(i, outsider=i in outsiders) for i in ids], list(edges)


def test_a_leaf_failing_behind_two_hops():
    nodes, edges = chain(
        edge("ns/gw", "ns/a", 10, 0.2), edge("ns/a", "ns/b", 10, 0.2), edge("ns/b", "ns/c", 10, 0.2)
    )
    f = find_error_origins(nodes, edges, "ns/a", WINDOW)
    assert f.status == FOUND and f.undetermined is None
    assert [o.id for o in f.origins] == ["ns/c"]
    assert f.origins[0].score == pytest.approx(1.0)
    assert f.path == ("ns/a", "ns/b", "ns/c")
    assert f.path_edges == (("ns/a", "ns/b"), ("ns/b", "ns/c"))
    assert [v.id for v in f.victims] == ["ns/a", "ns/b"]


def test_a_node_failing_more_than_its_callee_keeps_the_difference():
    # b fails 30 %, of which 10 points come from c: b is the main origin, c the second
    nodes, edges = chain(edge("ns/a", "ns/b", 10, 0.3), edge("ns/b", "ns/c", 10, 0.1))
    f = find_error_origins(nodes, edges, "ns/b", WINDOW)
    assert [(o.id, round(o.score, 3)) for o in f.origins] == [("ns/b", 0.667), ("ns/c", 0.333)]
    b = f.origins[0]
    assert b.own_share == pytest.approx(2 / 3)
    assert [e["kind"] for e in b.evidence] == ["own_errors", "callees", "explains"]


def test_origins_below_five_percent_are_left_out():
    nodes, edges = chain(edge("ns/a", "ns/b", 100, 0.5), edge("ns/b", "ns/c", 100, 0.01))
    f = find_error_origins(nodes, edges, "ns/b", WINDOW)
    assert [o.id for o in f.origins] == ["ns/b"]


def test_a_callee_in_an_unselected_namespace_cannot_be_told():
    nodes, edges = chain(edge("ns/a", "other/db", 10, 0.4), outsiders=("other/db",))
    f = find_error_origins(nodes, edges, "ns/a", WINDOW)
    assert f.status == UNDETERMINED
    assert f.origins[0].id == "other/db" and not f.origins[0].determined
    assert "namespace other, which is not selected" in f.undetermined
    assert "cannot tell" in f.undetermined


def test_an_entry_outside_the_namespaces_still_leads_in():
    nodes, edges = chain(
        edge("istio-system/gw", "ns/a", 10, 0.1), edge("ns/a", "ns/b", 10, 0.1),
        outsiders=("istio-system/gw",),
    )  # fmt: skip
    f = find_error_origins(nodes, edges, None, WINDOW)
    assert f.roots == ("istio-system/gw",)
    assert [o.id for o in f.origins] == ["ns/b"]
    assert f.path == ("istio-system/gw", "ns/a", "ns/b")


def test_a_call_cycle_does_not_loop():
    nodes, edges = chain(
        edge("ns/a", "ns/b", 10, 0.2), edge("ns/b", "ns/a", 5, 0.2), edge("ns/b", "ns/c", 10, 0.2)
    )
    f = find_error_origins(nodes, edges, "ns/b", WINDOW)
    assert f.origins and f.origins[0].id == "ns/c"


@pytest.mark.parametrize(
    ("edges", "node", "status", "words"),
    [
        ([edge("ns/a", "ns/b", 10, 0.0)], "ns/b", NO_ERRORS, "no failing requests"),
        ([edge("ns/a", "ns/b", 10, 0.1)], "ns/zzz", NO_TRAFFIC, "not enough data"),
        ([edge("ns/a", "ns/b", 0.01, 0.5)], "ns/b", TOO_FEW, "not enough data"),
    ],
)
def test_nothing_to_explain_is_said_plainly(edges, node, status, words):
    nodes, edges = chain(*edges)
    f = find_error_origins(nodes, edges, node, WINDOW)
    assert f.status == status and words in f.undetermined
    assert f.origins == () and f.path == ()


def test_client_errors_alone_are_not_failures_to_walk_back():
    nodes, edges = chain(edge("ns/a", "ns/b", 10, 0.0))
    nodes[1]["error_rate_4xx_in"] = 0.25
    f = find_error_origins(nodes, edges, "ns/b", WINDOW)
    assert f.status == NO_ERRORS
    assert "25.0% client errors (4xx)" in f.undetermined


def test_tcp_edges_are_not_requests():
    nodes, edges = chain(edge("ns/a", "ns/b", 10, 0.2), edge("ns/b", "ns/db", 0, 0.0))
    edges[1]["protocol"] = "tcp"
    f = find_error_origins(nodes, edges, "ns/b", WINDOW)
    assert [o.id for o in f.origins] == ["ns/b"]


def test_latency_walks_to_where_the_time_is_spent():
    nodes, edges = chain(
        edge("ns/gw", "ns/a", 10, p95=300), edge("ns/a", "ns/b", 10, p95=280),
        edge("ns/b", "ns/c", 10, p95=20), edge("ns/a", "ns/d", 10, p95=5),
    )  # fmt: skip
    f = find_latency_origin(nodes, edges, "ns/a")
    assert f.origin == "ns/b" and f.path == ("ns/a", "ns/b")
    assert f.p95_ms == 280 and f.own_ms == pytest.approx(260)
    assert f.victims == (("ns/a", 300, 285),)


def test_latency_without_measurements_says_so():
    nodes, edges = chain(edge("ns/a", "ns/b", 10))
    f = find_latency_origin(nodes, edges, "ns/b")
    assert f.origin is None and "no latency" in f.undetermined


# --------------------------------------------------------------------------------------- traces


def span(
    sid: str, parent: str, service: str, error: bool, start: int, kind: str = "server", tid="t1"
) -> Span:
    tags = [Tag("span.kind", kind)] + ([Tag("error", True, "bool")] if error else [])
    refs = (SpanRef(RefType.CHILD_OF, tid, parent),) if parent else ()
    return Span(tid, sid, f"{service}:9080/x", start, 10, Process(service), refs, tuple(tags))


def test_the_failure_starts_at_the_deepest_failing_span_without_failing_children():
    trace = Trace(
        "t1",
        (
            span("1", "", "front.ns", True, 0),
            span("2", "1", "front.ns", True, 1, "client"),
            span("3", "2", "mid.ns", True, 2),
            span("4", "3", "mid.ns", False, 3, "client"),  # a healthy call
            span("5", "3", "mid.ns", True, 4, "client"),
            span("6", "5", "leaf.ns", True, 5),
        ),
    )
    assert failure_start(trace).span_id == "6"
    healthy = Trace("t1", (span("1", "", "a.ns", False, 0),))
    assert failure_start(healthy) is None


def test_trace_origins_are_counted_by_service_and_operation():
    def failing(tid: str, leaf: str) -> Trace:
        spans = (
            span("1", "", "front.ns", True, 0, tid=tid),
            span("2", "1", leaf, True, 1, tid=tid),
        )
        return Trace(tid, spans)

    traces = [failing("a", "leaf.ns"), failing("b", "leaf.ns"), failing("c", "other.ns")]
    found = trace_origins(traces, lambda s: "ns/" + s.service.split(".")[0])
    assert [(o.service, o.count, o.node) for o in found] == [
        ("leaf.ns", 2, "ns/leaf"),
        ("other.ns", 1, "ns/other"),
    ]
    assert found[0].traces == ("a", "b")
    nodes, edges = chain(edge("ns/a", "ns/front", 10, 0.2), edge("ns/front", "ns/leaf", 10, 0.2))
    metrics = find_error_origins(nodes, edges, "ns/front", WINDOW)
    assert agreement(metrics, found) is None
    nodes, edges = chain(edge("ns/a", "ns/front", 10, 0.2))
    metrics = find_error_origins(nodes, edges, "ns/front", WINDOW)
    text = agreement(metrics, found)
    assert "traces disagree" in text and "ns/leaf" in text and "ns/front" in text
