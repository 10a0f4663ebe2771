"""The demo looks like a real mesh: latency that drifts and jitters, errors flagged as Envoy flags
them, a history of changes by several people, and spans with time on the wire and between calls,
so the critical path moves. Still seeded: the same seed gives the same figures."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter

import pytest

from demo.bookinfo import bookinfo_spec
from demo.history import STORY, seed_history
from demo.mesh import DemoMesh
from demo.routes import DemoRouteStore
from demo.spec import Outcome
from demo.state import TrafficState
from demo.trace_source import DemoTraceStore
from demo.traffic import TrafficModel
from mesh.series import QUANTILES, quantile_by
from mesh.traces.analysis import analyze, istio_info
from mesh.traces.records import TraceQuery

NOW = 1_795_000_000.0


def p50_series(model: TrafficModel, workload: str, minutes: int = 60) -> list[float]:
    """The p50 of `workload`'s server time every minute, from the model's exact windows."""
    out = []
    for k in range(minutes):
        t = NOW - 60 * k
        [w] = [
            w
            for w in model.window(t, 60)
            if w.edge.destination.name == workload and w.edge.source.name == "productpage-v1"
        ]
        buckets = w.buckets["destination"]
        out.append(_quantile(0.5, buckets))
    return out


def _quantile(q: float, cumulative: tuple[float, ...]) -> float:
    from mesh.quantiles import ISTIO_BUCKETS_MS, histogram_quantile

    bounds = [*ISTIO_BUCKETS_MS, float("inf")]
    return histogram_quantile(q, list(zip(bounds, cumulative, strict=True)))


def test_latency_jitters_and_drifts_and_the_same_seed_gives_the_same_line():
    model = DemoMesh.bookinfo(clock=lambda: NOW).model
    line = p50_series(model, "reviews-v1")
    assert len(set(round(v, 3) for v in line)) > 30  # not a flat line
    assert (max(line) - min(line)) / statistics.mean(line) > 0.1  # a drift one can see
    steps = [abs(a - b) for a, b in itertools.pairwise(line)]
    assert max(steps) < 0.25 * statistics.mean(line)  # jitter, not a jump
    again = DemoMesh.bookinfo(clock=lambda: NOW).model
    assert p50_series(again, "reviews-v1") == line


def test_versions_of_one_service_drift_together_so_a_canary_is_judged_on_what_it_changed():
    model = DemoMesh.bookinfo(clock=lambda: NOW).model
    v1, v2 = p50_series(model, "reviews-v1", 20), p50_series(model, "reviews-v2", 20)
    ratios = [b / a for a, b in zip(v1, v2, strict=True)]
    assert max(ratios) - min(ratios) < 0.05 * statistics.mean(ratios)


def outcomes_of(model: TrafficModel, destination: str, source: str) -> dict[Outcome, float]:
    [w] = [
        w
        for w in model.window(NOW, 300)
        if w.edge.destination.name == destination and w.edge.source.name == source
    ]
    return {o: r for o, r in w.requests if r > 0}


def test_errors_carry_the_response_flags_envoy_gives_them():
    mesh = DemoMesh.bookinfo(clock=lambda: NOW)
    everyday = outcomes_of(mesh.model, "ratings-v1", "reviews-v2")
    assert Outcome("503", "", "URX") in everyday  # ratings' 503s, after the retries ran out
    assert not [o for o in everyday if o.response_code == "503" and o.response_flags == "-"]
    mesh.state.set_fault("bookinfo", "reviews-v2", error_rate=0.2, at=NOW - 600)
    assert Outcome("503", "", "UF") in outcomes_of(mesh.model, "reviews-v2", "productpage-v1")
    mesh.state.set_fault("bookinfo", "ratings-v1", error_rate=1.0, at=NOW - 600)
    down = outcomes_of(mesh.model, "ratings-v1", "reviews-v2")
    assert set(down) == {Outcome("503", "", "UH")}  # every endpoint ejected: no healthy upstream
    # reviews-v2 passes the outage on: its own application answers 503, Envoy flags nothing.
    passed = outcomes_of(mesh.model, "reviews-v2", "productpage-v1")
    assert passed.get(Outcome("503", "", "-"), 0.0) > 0


def test_the_history_has_several_people_and_the_traffic_followed_it():
    mesh = DemoMesh.bookinfo(clock=lambda: NOW)
    store = DemoRouteStore.attach(mesh)
    entries = seed_history(mesh.state, store, NOW)
    assert len({e.who for e in entries}) >= 3 and "demo-user" not in {e.who for e in entries}
    assert [e.who for e in store.history(namespace="bookinfo", service="reviews")] == [
        s.who for s in reversed(STORY)
    ]
    for step in STORY:  # the split timeline agrees with every entry
        split = mesh.state.split_at("bookinfo", "reviews", NOW - step.ago_s + 1)
        assert {v: w for v, w in split.items() if w} == dict(step.weights)
    assert mesh.state.split_at("bookinfo", "reviews", NOW - STORY[0].ago_s - 1) == {
        "v1": 100,
        "v2": 0,
        "v3": 0,
    }
    assert mesh.state.split_at("bookinfo", "reviews", NOW) == dict(
        bookinfo_spec().default_split("bookinfo", "reviews")
    )  # the story ends where the mesh is
    ambient = DemoMesh.bookinfo(clock=lambda: NOW, ambient=True)
    assert seed_history(ambient.state, DemoRouteStore.attach(ambient), NOW) == []


@pytest.fixture(scope="module")
def traces():
    spec = bookinfo_spec()
    state = TrafficState(spec, clock=lambda: NOW)
    store = DemoTraceStore(spec, state, seed=0, clock=lambda: NOW)
    q = TraceQuery(
        service="productpage.bookinfo",
        start_us=int((NOW - 1800) * 1e6),
        end_us=int(NOW * 1e6),
        limit=80,
    )
    found = store.find_traces(q)
    assert len(found) >= 40
    return [analyze(t) for t in found if not any(s.is_error for s in t.spans)]


def test_spans_have_time_on_the_wire_and_between_calls(traces):
    wire, between = [], []
    for a in traces:
        spans = a.trace.spans
        for i, s in enumerate(spans):
            parent = a.tree.parent[i]
            if s.kind == "server" and parent >= 0 and spans[parent].kind == "client":
                wire.append(s.start_us - spans[parent].start_us)
            kids = sorted(
                (spans[c] for c in a.tree.children[i] if spans[c].kind == "client"),
                key=lambda c: c.start_us,
            )
            between += [
                b.start_us - (x.start_us + x.duration_us) for x, b in itertools.pairwise(kids)
            ]
    assert wire and min(wire) > 0 and len(set(wire)) > 10  # the wire varies, never zero
    assert between and min(between) > 0  # a caller works between two calls


def _service(a, index: int) -> str:
    info = istio_info(a.trace.spans[index])
    return info.app if info else ""


def test_the_critical_path_moves_across_services(traces):
    top = Counter()
    details_on_path = 0
    for a in traces:
        by_app: Counter[str] = Counter()
        for c in a.critical:
            by_app[_service(a, c.span)] += c.end_us - c.start_us
        top[by_app.most_common(1)[0][0]] += 1
        details_on_path += by_app["details"] > 0
    assert len(top) >= 2, top  # not always the same service holding the most time
    # productpage calls details, works a little, then calls reviews: details finishes before
    # reviews starts, so it is on the path (back to back, it almost never was).
    assert details_on_path > len(traces) / 2


def test_quantiles_of_the_series_move_over_the_window():
    mesh = DemoMesh.bookinfo(clock=lambda: NOW)
    from demo.series_source import DemoSeriesSource
    from mesh.series import SeriesQuery, Target

    source = DemoSeriesSource(mesh.model)
    q = SeriesQuery("bookinfo", "reviews", Target.SERVICE, NOW - 1800, NOW, 30, 60)
    telemetry = source.series_telemetry(q)
    p99 = quantile_by(telemetry.inbound_buckets, QUANTILES["p99"])["v1"]
    values = [v for _, v in p99]
    assert len(values) > 50 and max(values) > 1.1 * min(values)
