"""Graph diff: what appeared, disappeared or changed beyond a threshold between two graphs."""

from __future__ import annotations

import pytest

from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from mesh.errors import BadRequest
from mesh.graph.diff import Change, DiffThresholds, diff_graphs, diff_json, node_label
from mesh.telemetry_records import GraphView
from tests.review_demo import WITHOUT_V3, Clock, demo_services, shift
from views.graph import GraphParams, graph_view

NS = "bookinfo"
T0 = 1_790_000_000.0


def node(wl: str, rps_in: float = 1.0, rps_out: float = 0.0, err: float = 0.0, ns: str = NS):
    return {
        "id": f"{ns}/{wl}" if ns else wl,
        "kind": "workload",
        "namespace": ns,
        "workload": wl,
        "app": wl.rsplit("-", 1)[0],
        "version": "",
        "service": "",
        "rps_in": rps_in,
        "rps_out": rps_out,
        "error_rate_in": err,
    }


def edge(src: str, dst: str, rps: float, err: float = 0.0, p95: float | None = 10.0, bps=None):
    return {
        "id": f"{src}->{dst}",
        "source": src,
        "target": dst,
        "rps": rps,
        "error_rate": err,
        "p95_ms": p95,
        "bps": bps,
    }


PP, R1, R2, RT = (f"{NS}/{w}" for w in ("productpage-v1", "reviews-v1", "reviews-v2", "ratings-v1"))


def graph(nodes, edges):
    return {"nodes": nodes, "edges": edges}


def test_a_new_version_calling_ratings_appears():
    before = graph([node("productpage-v1", 0, 10), node("reviews-v1", 10)], [edge(PP, R1, 10.0)])
    after = graph(
        [
            node("productpage-v1", 0, 10),
            node("reviews-v1", 9),
            node("reviews-v2", 1),
            node("ratings-v1", 1),
        ],
        [edge(PP, R1, 9.0), edge(PP, R2, 1.0), edge(R2, RT, 1.0, p95=2.0)],
    )
    d = diff_graphs(before, after, home_namespace=NS)
    appeared = d.of(Change.APPEARED)
    assert [(e.kind, e.label) for e in appeared] == [
        ("edge", "productpage-v1 → reviews-v2"),
        ("edge", "reviews-v2 → ratings-v1"),
        ("node", "ratings-v1"),
        ("node", "reviews-v2"),
    ]
    rps = next(m for m in appeared[1].metrics if m.metric == "rps")
    assert (rps.before, rps.after) == (None, 1.0)
    # reviews-v1 lost 10% of its traffic: below the 25% threshold, so it is not listed.
    assert d.of(Change.CHANGED) == () and d.of(Change.DISAPPEARED) == ()
    assert (d.unchanged_nodes, d.unchanged_edges) == (2, 1)


def test_changes_are_listed_only_beyond_their_thresholds():
    before = graph(
        [node("a", 0, 10), node("b", 10), node("c", 4), node("d", 2)],
        [
            edge("a", "b", 10.0, err=0.001, p95=20.0),
            edge("a", "c", 4.0, p95=4.0),
            edge("a", "d", 2.0, p95=100.0),
        ],
    )
    after = graph(
        [node("a", 0, 10), node("b", 5), node("c", 4), node("d", 2)],
        [
            edge("a", "b", 5.0, err=0.03, p95=20.0),  # rps -50%, 5xx +2.9 pts
            edge("a", "c", 4.0, p95=8.0),  # p95 doubled, but only by 4 ms
            edge("a", "d", 2.0, p95=140.0),  # p95 +40%: under 50%
        ],
    )
    d = diff_graphs(before, after)
    changed = {e.id: e for e in d.of(Change.CHANGED, "edge")}
    assert list(changed) == ["a->b"]
    sig = {m.metric: m for m in changed["a->b"].significant}
    assert set(sig) == {"rps", "error_rate"}
    assert sig["rps"].ratio == pytest.approx(-0.5)
    assert sig["error_rate"].delta == pytest.approx(0.029) and sig["error_rate"].worse
    assert changed["a->b"].worse
    loose = diff_graphs(before, after, DiffThresholds(p95_ratio=0.3, p95_min_ms=2.0))
    assert sorted(e.id for e in loose.of(Change.CHANGED, "edge")) == ["a->b", "a->c", "a->d"]


def test_slower_edges_are_worse_and_listed_before_other_changes():
    before = graph([], [edge("a", "b", 5.0, p95=20.0), edge("a", "c", 5.0, p95=20.0)])
    after = graph([], [edge("a", "b", 10.0, p95=20.0), edge("a", "c", 5.0, p95=200.0)])
    d = diff_graphs(before, after)
    assert [e.id for e in d.of(Change.CHANGED)] == ["a->c", "a->b"]
    assert d.elements[0].worse and not d.elements[1].worse  # more traffic is not "worse"


def test_gone_trickles_and_tcp():
    before = graph(
        [node("a", 0, 3, ns=""), node("b", 3, ns=""), node("db", 0, ns="")],
        [edge("a", "b", 3.0), edge("a", "db", 0.0, p95=None, bps=500.0), edge("a", "x", 0.001)],
    )
    after = graph(
        [node("a", 0, 0.001, ns=""), node("db", 0, ns="")],
        [edge("a", "x", 0.002), edge("a", "db", 0.0, p95=None, bps=900.0)],
    )
    d = diff_graphs(before, after)
    assert [(e.kind, e.id) for e in d.of(Change.DISAPPEARED)] == [
        ("edge", "a->b"),
        ("node", "b"),
    ]
    ids = {e.id for e in d.elements}
    assert "db" not in ids  # TCP only, bytes both times: carried through its edge, not gone
    assert [e.id for e in d.of(Change.CHANGED)] == ["a"]  # sends 3 rps -> a trickle
    assert "a->x" not in ids  # below min_rps on both sides: never traffic
    assert "a->db" not in ids  # TCP-only: carried bytes both times, no request figures to move
    assert d.of(Change.APPEARED) == ()


def test_labels_name_other_namespaces_and_outsiders():
    gw = node("istio-ingressgateway", ns="istio-system")
    assert node_label(gw, NS) == "istio-ingressgateway (istio-system)"
    assert node_label(node("reviews-v2"), NS) == "reviews-v2"
    assert node_label({"id": "unknown", "kind": "unknown"}, NS) == "unknown (outside the mesh)"
    svc = {"id": "bookinfo/reviews", "kind": "service", "namespace": NS, "service": "reviews"}
    assert node_label(svc, NS) == "reviews"


def test_json_counts_and_thresholds():
    before = graph([node("a", 0, 1)], [])
    after = graph([node("a", 0, 1), node("b", 1)], [edge("a", "b", 1.0)])
    body = diff_json(diff_graphs(before, after))
    assert body["counts"]["appeared"] == {"nodes": 1, "edges": 1}
    assert body["counts"]["changed"] == {"nodes": 0, "edges": 0}
    assert body["thresholds"]["rps_ratio"] == 0.25
    assert body["elements"][0]["change"] == "appeared"
    assert body["elements"][0]["metrics"][0] == {
        "metric": "rps",
        "before": None,
        "after": 1.0,
        "delta": None,
        "ratio": None,
        "significant": False,
        "worse": False,
    }


@pytest.mark.parametrize("field", ["rps_ratio", "min_rps", "p95_min_ms"])
def test_thresholds_refuse_negative_or_infinite(field):
    with pytest.raises(BadRequest):
        DiffThresholds(**{field: -1.0})
    with pytest.raises(BadRequest):
        DiffThresholds(**{field: float("inf")})


def demo_graph(sim: DemoMesh, at: float, window_s: int = 300) -> dict:
    from types import SimpleNamespace

    from wiring.settings import Settings

    svc = SimpleNamespace(settings=Settings(), telemetry=sim.telemetry, clock=lambda: at)
    return graph_view(svc, GraphParams((NS,), GraphView.WORKLOAD, "5m", window_s, at))


def test_demo_reviews_v2_to_ratings_appears_when_the_canary_starts():
    """The issue's example on the simulator: reviews at v1 100% until a canary gives v2 20%."""
    sim = DemoMesh(bookinfo_spec(reviews_split={"v1": 100}), clock=lambda: T0)
    sim.state.set_split(NS, "reviews", {"v1": 80, "v2": 20}, at=T0 - 300)
    d = diff_graphs(demo_graph(sim, T0 - 300), demo_graph(sim, T0), home_namespace=NS)
    appeared = {e.label for e in d.of(Change.APPEARED)}
    assert "reviews-v2 → ratings-v1" in appeared
    assert {"productpage-v1 → reviews-v2", "reviews-v2", "ratings-v1"} <= appeared
    assert d.of(Change.DISAPPEARED) == ()
    # v1 went from all of reviews' traffic to 80%: not a 25% move, so not listed.
    assert "productpage-v1 → reviews-v1" not in {e.label for e in d.elements}


def test_demo_review_diff_from_the_audit_log():
    """Through the review view: the start comes from the audited change that gave v3 weight."""
    from views.review import parse_review_params, review_view

    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    shift(svc, {"v1": 40, "v2": 10, "v3": 50})
    clock.now = T0 + 300
    body = review_view(
        svc,
        parse_review_params(
            {
                "namespace": NS,
                "service": "reviews",
                "baseline": "v1",
                "canary": "v3",
                "window": "5m",
            }
        ),
    )
    assert body["start"]["when"] == T0 and body["start"]["source"] == "audit"
    diff = body["diff"]
    assert (diff["before"], diff["after"]) == (
        {"start": T0 - 300, "end": T0},
        {"start": T0, "end": T0 + 300},
    )
    rows = {(e["change"], e["label"]) for e in diff["elements"]}
    assert ("appeared", "reviews-v3 → ratings-v1") in rows
    assert ("changed", "productpage-v1 → reviews-v1") in rows  # 90% -> 40% of the calls
