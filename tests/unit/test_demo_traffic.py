"""The traffic model: splits, downstream flow, faults, noise and exact window averages."""

from __future__ import annotations

import numpy as np
import pytest

from demo.bookinfo import bookinfo_spec
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Outcome, Workload
from demo.state import TrafficState
from demo.telemetry import quantiles
from demo.traffic import UNKNOWN_WORKLOAD, TrafficModel, solve_flows

T = 1_767_225_600.0  # a multiple of the 15 s tick


def model_of(spec: MeshSpec, noise: float = 0.03, **kw) -> TrafficModel:
    return TrafficModel(spec, TrafficState(spec, clock=lambda: T), noise=noise, **kw)


def rates(model: TrafficModel, t: float) -> dict[tuple[str, str], float]:
    return {(r.edge.source.name, r.edge.destination.name): r.rps for r in model.edge_rates(t)}


def test_reviews_split_follows_the_weights_over_time():
    model = model_of(bookinfo_spec(rps=20.0), noise=0.0)
    model.state.set_split("bookinfo", "reviews", {"v1": 50, "v2": 50}, at=T - 150)
    before, after = rates(model, T - 151), rates(model, T - 150)
    assert before[("productpage-v1", "reviews-v1")] == pytest.approx(16.0)
    assert before[("productpage-v1", "reviews-v3")] == pytest.approx(2.0)
    assert after[("productpage-v1", "reviews-v1")] == pytest.approx(10.0)
    assert after[("productpage-v1", "reviews-v2")] == pytest.approx(10.0)
    assert ("productpage-v1", "reviews-v3") not in after


@pytest.mark.parametrize("split", [{"v1": 100}, {"v1": 50, "v2": 50}, {"v2": 30, "v3": 70}])
def test_ratings_traffic_follows_v2_and_v3_only(split):
    model = model_of(bookinfo_spec(rps=10.0, reviews_split=split), noise=0.0)
    r = rates(model, T)
    assert not any(src == "reviews-v1" and dst == "ratings-v1" for src, dst in r)
    to_ratings = sum(v for (_, dst), v in r.items() if dst == "ratings-v1")
    v2_v3 = (split.get("v2", 0) + split.get("v3", 0)) / 100 * 10.0
    assert to_ratings == pytest.approx(v2_v3)
    for v in ("v2", "v3"):
        expected = split.get(v, 0) / 100 * 10.0
        assert r.get((f"reviews-{v}", "ratings-v1"), 0.0) == pytest.approx(expected)


def test_noise_is_small_deterministic_and_changes_per_tick():
    a, b = model_of(bookinfo_spec()), model_of(bookinfo_spec())
    ticks = [rates(a, T + 15 * k)[("productpage-v1", "details-v1")] for k in range(40)]
    assert ticks == [rates(b, T + 15 * k)[("productpage-v1", "details-v1")] for k in range(40)]
    assert all(20 * 0.97 <= x <= 20 * 1.03 for x in ticks)
    assert len(set(ticks)) > 30
    assert rates(a, T + 1) == rates(a, T + 14)  # constant within a tick
    other = model_of(bookinfo_spec(), seed=7)
    assert rates(other, T) != rates(a, T)


def test_window_average_is_the_exact_integral_of_the_instantaneous_rates():
    model = model_of(bookinfo_spec())
    model.state.set_split("bookinfo", "reviews", {"v1": 40, "v2": 30, "v3": 30}, at=T - 97.5)
    window = {
        (w.edge.source.name, w.edge.destination.name): w.rps for w in model.window(T - 3.2, 300)
    }
    grid = np.arange(T - 303.2, T - 3.2, 0.1) + 0.05  # midpoints of 0.1 s pieces
    numeric: dict[tuple[str, str], float] = {}
    for t in grid:
        for key, v in rates(model, float(t)).items():
            numeric[key] = numeric.get(key, 0.0) + v * 0.1 / 300
    assert window.keys() == numeric.keys()
    for key, v in numeric.items():
        assert window[key] == pytest.approx(v, rel=1e-9), key


def test_window_average_of_a_change_halfway_is_the_mean():
    model = model_of(bookinfo_spec(rps=20.0), noise=0.0)
    model.state.set_split("bookinfo", "reviews", {"v1": 0, "v2": 100}, at=T - 150)
    by_dst = {
        w.edge.destination.name: w for w in model.window(T, 300) if w.edge.service != "ratings"
    }
    assert by_dst["reviews-v1"].rps == pytest.approx((16 * 150) / 300)
    assert by_dst["reviews-v2"].rps == pytest.approx((2 * 150 + 20 * 150) / 300)
    assert by_dst["reviews-v2"].buckets["destination"][-1] == pytest.approx(11.0)


def test_cumulative_counters_give_the_same_window_rates():
    model = model_of(bookinfo_spec())
    model.state.set_split("bookinfo", "reviews", {"v1": 50, "v2": 50}, at=T - 1000)
    counters = {c.edge.key: c for c in model.counters(T - 3600, T, 15)}
    for w in model.window(T, 300):
        c = counters[w.edge.key]
        assert c.times[-1] == T and c.times[-21] == T - 300
        for outcome, rps in w.requests:
            got = (c.requests[outcome][-1] - c.requests[outcome][-21]) / 300
            assert got == pytest.approx(rps, rel=1e-9)
        for reporter in w.edge.reporters:
            total = sum(
                c.buckets[(reporter, o)][-1] - c.buckets[(reporter, o)][-21] for o, _ in w.requests
            )
            assert total / 300 == pytest.approx(np.asarray(w.buckets[reporter][:-1]), rel=1e-9)


def test_a_slow_version_moves_its_latency_not_its_neighbours():
    model = model_of(bookinfo_spec(reviews_split={"v1": 50, "v2": 25, "v3": 25}))
    model.state.set_fault("bookinfo", "reviews-v3", latency_factor=3.0, at=T - 600)
    windows = {
        w.edge.destination.name: w for w in model.window(T, 300) if w.edge.service == "reviews"
    }
    p50_v3 = quantiles(windows["reviews-v3"].buckets["destination"])[0]
    p50_v2 = quantiles(windows["reviews-v2"].buckets["destination"])[0]
    assert 50 <= p50_v3 <= 80  # 22 ms x 3, as linear interpolation inside [50, 100] sees it
    assert 10 <= p50_v2 <= 25
    # the source reporter adds the network hop to the same server time
    client = quantiles(windows["reviews-v2"].buckets["source"])[0]
    assert client > p50_v2


def test_an_error_fault_adds_503s_to_that_version_only():
    model = model_of(bookinfo_spec(reviews_split={"v1": 50, "v2": 50}), noise=0.0)
    model.state.set_fault("bookinfo", "reviews-v2", error_rate=0.2, at=T - 300)
    windows = {w.edge.destination.name: dict(w.requests) for w in model.window(T, 300)}
    # the fault's 20 %; ratings' everyday 0.5 % noise is answered gracefully, not passed on
    # The failing pod's own 503s, flagged as Envoy flags a failed upstream connection.
    assert windows["reviews-v2"][Outcome("503", "", "UF")] / 10.0 == pytest.approx(0.2)
    assert windows["reviews-v1"].get(Outcome("503", "", "UF"), 0.0) == 0.0


def test_a_failing_leaf_turns_every_caller_that_passes_failures_on_red():
    model = model_of(bookinfo_spec(reviews_split={"v1": 50, "v2": 50}), noise=0.0)
    model.state.set_fault("bookinfo", "ratings-v1", error_rate=0.4, at=T - 300)
    windows = {w.edge.destination.name: w for w in model.window(T, 300)}

    def failing(name: str) -> float:
        requests = dict(windows[name].requests)
        bad = sum(n for o, n in requests.items() if o.response_code.startswith("5"))
        return bad / sum(requests.values())

    ratings = 0.4 + 0.6 * 0.005  # the fault, and the call's own noise on what it leaves
    outage = ratings - 0.005  # what the fault adds to the everyday noise: that is passed on
    assert failing("ratings-v1") == pytest.approx(ratings)
    assert failing("reviews-v2") == pytest.approx(outage)  # passed on, nothing of its own
    assert failing("reviews-v1") == 0.0  # v1 does not call ratings
    # productpage: half its reviews calls go to v2, whose failures it passes on
    assert failing("productpage-v1") == pytest.approx(0.5 * outage)


def test_everyday_noise_is_not_passed_on():
    model = model_of(bookinfo_spec(reviews_split={"v1": 50, "v2": 50}), noise=0.0)
    windows = {w.edge.destination.name: dict(w.requests) for w in model.window(T, 300)}
    assert windows["ratings-v1"][Outcome("503", "", "URX")] > 0  # ratings' 0.5 % noise
    for name in ("reviews-v2", "reviews-v3", "productpage-v1"):
        if name in windows:
            assert not [o for o in windows[name] if o.response_code.startswith("5")], name


def test_a_caller_that_degrades_gracefully_stays_green():
    spec = MeshSpec(
        workloads=(
            Workload("app", "gate", "gate"),
            Workload("app", "front-v1", "front", "v1", service="front"),
            Workload("app", "back-v1", "back", "v1", service="back"),
        ),
        calls=(
            Call("app", "gate", "app", "front", rps=10.0),
            Call("app", "front-v1", "app", "back", per_request=1.0),  # propagate=0
        ),
    )
    model = model_of(spec, noise=0.0)
    model.state.set_fault("app", "back-v1", error_rate=0.5, at=T - 300)
    windows = {w.edge.destination.name: dict(w.requests) for w in model.window(T, 300)}
    assert windows["back-v1"][Outcome("503", "", "UF")] == pytest.approx(0.5 * 10.0)  # rps
    assert set(windows["front-v1"]) == {Outcome("200", "")}
    with pytest.raises(ValueError, match="per-request"):
        Call("app", "front-v1", "app", "back", rps=1.0, propagate=1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Call("app", "front-v1", "app", "back", per_request=1.0, propagate=1.5)


def test_unmeshed_callers_collapse_into_unknown_reported_by_the_destination_only():
    spec = MeshSpec(
        workloads=(
            Workload("ext", "cron-a", "cron-a", meshed=False),
            Workload("ext", "cron-b", "cron-b", meshed=False),
            Workload("app", "api-v1", "api", "v1", service="api"),
        ),
        calls=(
            Call("ext", "cron-a", "app", "api", rps=1.0),
            Call("ext", "cron-b", "app", "api", rps=2.0),
        ),
    )
    [flow] = solve_flows(spec, TrafficState(spec).snapshot(T))
    assert flow.edge.source == UNKNOWN_WORKLOAD
    assert flow.edge.reporters == ("destination",)
    assert flow.rate == pytest.approx(3.0)


def test_mirroring_copies_traffic_without_taking_it_from_the_split():
    model = model_of(bookinfo_spec(reviews_split={"v1": 100}, rps=10.0), noise=0.0)
    model.state.set_mirror("bookinfo", "reviews", "v2", 20, at=T - 10)
    r = rates(model, T)
    assert r[("productpage-v1", "reviews-v1")] == pytest.approx(10.0)
    assert r[("productpage-v1", "reviews-v2")] == pytest.approx(2.0)
    assert r[("reviews-v2", "ratings-v1")] == pytest.approx(2.0)


def test_an_edge_that_stopped_keeps_its_counters_at_zero_rate():
    model = model_of(bookinfo_spec(), noise=0.0)
    model.state.set_split("bookinfo", "reviews", {"v1": 100}, at=T - 3600)
    idle = {w.edge.destination.name: w for w in model.window(T, 300) if w.edge.service == "reviews"}
    assert idle["reviews-v3"].rps == 0.0 and idle["reviews-v1"].rps == pytest.approx(20.0)
    fresh = model_of(bookinfo_spec(reviews_split={"v1": 100}), history_start=T - 7200)
    assert all(w.edge.destination.name != "reviews-v3" for w in fresh.window(T, 300))


def test_per_request_cycles_are_refused():
    spec = MeshSpec(
        workloads=(
            Workload("a", "x-v1", "x", service="x"),
            Workload("a", "y-v1", "y", service="y", latency=LatencyModel(1.0)),
        ),
        calls=(
            Call("a", "x-v1", "a", "y", per_request=1.0),
            Call("a", "y-v1", "a", "x", per_request=0.5),
        ),
    )
    with pytest.raises(ValueError, match="cycle"):
        model_of(spec).edge_rates(T)


def test_tcp_edges_carry_bytes_both_ways():
    spec = MeshSpec(
        workloads=(Workload("d", "app-v1", "app"), Workload("d", "db-v1", "db", service="db")),
        calls=(
            Call(
                "d",
                "app-v1",
                "d",
                "db",
                protocol="tcp",
                rps=2.0,
                sent_bps=100.0,
                received_bps=900.0,
            ),
        ),
    )
    [w] = model_of(spec, noise=0.0).window(T, 60)
    assert (w.connections_per_s, w.sent_bps, w.received_bps) == pytest.approx((2.0, 100.0, 900.0))
    assert w.requests == ()


def test_errors_on_grpc_keep_status_200():
    spec = MeshSpec(
        workloads=(Workload("s", "fe-v1", "fe"), Workload("s", "cart-v1", "cart", service="cart")),
        calls=(
            Call(
                "s",
                "fe-v1",
                "s",
                "cart",
                protocol="grpc",
                rps=10,
                errors=ErrorModel(grpc_errors=((14, 0.05),)),
            ),
        ),
    )
    [w] = model_of(spec, noise=0.0).window(T, 60)
    assert dict(w.requests) == pytest.approx({Outcome("200", "0"): 9.5, Outcome("200", "14"): 0.5})


def test_nothing_flows_before_the_history_start():
    model = model_of(bookinfo_spec(rps=20.0), noise=0.0, history_start=T - 60)
    assert model.edge_rates(T - 61) == ()
    [gateway] = [w for w in model.window(T, 300) if w.edge.service == "productpage"]
    assert gateway.rps == pytest.approx(20.0 * 60 / 300)
