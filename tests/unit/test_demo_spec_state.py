"""The mesh description and the state timelines the simulator follows."""

from __future__ import annotations

import itertools
import math
import threading

import pytest

from demo.bookinfo import DEFAULT_REVIEWS_SPLIT, bookinfo_spec
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Outcome, Workload
from demo.state import Fault, Mirror, TrafficState
from mesh.quantiles import ISTIO_BUCKETS_MS

T = 1_767_225_600.0


def test_lognormal_buckets_are_a_cdf_with_the_median_in_the_middle():
    model = LatencyModel(median_ms=10.0, sigma=0.5)
    cdf = model.bucket_cdf()
    assert len(cdf) == len(ISTIO_BUCKETS_MS)
    assert all(a <= b for a, b in itertools.pairwise(cdf))
    assert model.cdf(10.0) == pytest.approx(0.5)
    assert model.cdf(20.0, factor=2.0) == pytest.approx(0.5)  # a fault scales the median
    assert model.cdf(10.5, shift_ms=0.5) == pytest.approx(0.5)  # the network adds a constant
    assert model.cdf(0.4, shift_ms=0.5) == 0.0
    assert model.mean_ms() == pytest.approx(10.0 * math.exp(0.125))


def test_http_outcomes_sum_to_one_and_a_fault_adds_503():
    errors = ErrorModel(http_5xx=0.01, http_4xx=0.02, no_response=0.001)
    shares = dict(errors.outcomes("http"))
    assert sum(shares.values()) == pytest.approx(1.0)
    # Flagged as Envoy does: the everyday 503 a failed connection (UF), the app's 404 unflagged.
    assert shares[Outcome("503", "", "UF")] == pytest.approx(0.01)
    assert shares[Outcome("404", "", "-")] == pytest.approx(0.02)
    assert shares[Outcome("0", "", "DC")] == pytest.approx(0.001)
    faulted = dict(errors.outcomes("http", extra_5xx=0.5))
    assert sum(faulted.values()) == pytest.approx(1.0)
    # The failing pod's own 503s join the everyday UF ones.
    assert faulted[Outcome("503", "", "UF")] == pytest.approx(0.5 + 0.5 * 0.01)
    # On a call with retries, the everyday 503s are URX, the fault's own still UF.
    retried = dict(ErrorModel(http_5xx=0.01, flags_5xx="URX").outcomes("http", extra_5xx=0.5))
    assert retried[Outcome("503", "", "URX")] == pytest.approx(0.005)
    assert retried[Outcome("503", "", "UF")] == pytest.approx(0.5)
    # Part of the failures passed on from a callee: the application answers those itself.
    mixed = dict(errors.outcomes("http", extra_5xx=0.5, own_5xx=0.2))
    assert mixed[Outcome("503", "", "UF")] == pytest.approx(0.2 + 0.5 * 0.01)
    assert mixed[Outcome("503", "", "-")] == pytest.approx(0.3)
    # Every request failing: outlier detection ejected every endpoint, no healthy upstream.
    down = dict(errors.outcomes("http", extra_5xx=1.0))
    assert down == pytest.approx({Outcome("503", "", "UH"): 1.0})


def test_grpc_errors_are_answered_with_http_200():
    shares = dict(ErrorModel(grpc_errors=((14, 0.05),)).outcomes("grpc"))
    assert shares == pytest.approx({Outcome("200", "0"): 0.95, Outcome("200", "14"): 0.05})
    faulted = dict(ErrorModel().outcomes("grpc", extra_5xx=0.1))
    assert faulted[Outcome("200", "14", "UF")] == pytest.approx(0.1)
    http_level = dict(ErrorModel(http_5xx=0.1).outcomes("grpc"))
    # Envoy maps 503 to UNAVAILABLE
    assert http_level[Outcome("503", "14", "UF")] == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs",
    [{"http_5xx": -0.1}, {"http_5xx": 0.7, "http_4xx": 0.7}, {"grpc_errors": ((0, 0.1),)}],
)
def test_invalid_error_models_are_refused(kwargs):
    with pytest.raises(ValueError):
        ErrorModel(**kwargs)


def _tiny(**call_kw) -> MeshSpec:
    return MeshSpec(
        workloads=(
            Workload("a", "caller", "caller", service=""),
            Workload("a", "svc-v1", "svc", "v1", service="svc"),
        ),
        calls=(Call("a", "caller", "a", "svc", rps=1.0, **call_kw),),
    )


def test_spec_refuses_what_istio_could_not_produce():
    with pytest.raises(ValueError, match="unknown workload"):
        MeshSpec(workloads=(), calls=(Call("a", "x", "a", "svc", rps=1),))
    with pytest.raises(ValueError, match="no workload"):
        MeshSpec(workloads=(Workload("a", "x", "x"),), calls=(Call("a", "x", "a", "svc", rps=1),))
    with pytest.raises(ValueError, match="no sidecar"):
        MeshSpec(
            workloads=(Workload("a", "x", "x"), Workload("a", "s", "s", service="s", meshed=False)),
            calls=(Call("a", "x", "a", "s", rps=1),),
        )
    with pytest.raises(ValueError, match="sum to 100"):
        MeshSpec(
            workloads=(Workload("a", "s", "s", service="s"),),
            calls=(),
            splits=(("a", "s", (("v1", 90),)),),
        )
    with pytest.raises(ValueError, match="grpc_errors"):
        _tiny(errors=ErrorModel(grpc_errors=((14, 0.1),)))
    with pytest.raises(ValueError, match="fixed rates"):
        Call("a", "x", "a", "s", protocol="tcp", per_request=1.0)


def test_bookinfo_topology_and_default_split():
    spec = bookinfo_spec()
    assert set(spec.versions("bookinfo", "reviews")) == {"v1", "v2", "v3"}
    assert (
        spec.default_split("bookinfo", "reviews")
        == DEFAULT_REVIEWS_SPLIT
        == {
            "v1": 80,
            "v2": 10,
            "v3": 10,
        }
    )
    callers_of_ratings = {c.source for c in spec.calls if c.service == "ratings"}
    assert callers_of_ratings == {"reviews-v2", "reviews-v3"}
    assert spec.default_split("bookinfo", "details") == {"v1": 100}


def test_equal_default_split_gives_the_remainder_to_the_first_versions():
    spec = MeshSpec(
        workloads=tuple(Workload("a", f"s-v{i}", "s", f"v{i}", service="s") for i in (1, 2, 3)),
        calls=(),
    )
    assert spec.default_split("a", "s") == {"v1": 34, "v2": 33, "v3": 33}


def test_split_timeline_keeps_history_and_defaults_before_the_first_change():
    state = TrafficState(bookinfo_spec(), clock=lambda: T)
    assert state.split_at("bookinfo", "reviews", T) == DEFAULT_REVIEWS_SPLIT
    state.set_split("bookinfo", "reviews", {"v1": 50, "v2": 50}, at=T - 600)
    state.set_split("bookinfo", "reviews", {"v2": 100})  # now, from the clock
    assert state.split_at("bookinfo", "reviews", T - 601) == DEFAULT_REVIEWS_SPLIT
    assert state.split_at("bookinfo", "reviews", T - 600) == {"v1": 50, "v2": 50, "v3": 0}
    assert state.split_at("bookinfo", "reviews", T) == {"v1": 0, "v2": 100, "v3": 0}
    assert [t for t, _ in state.split_history("bookinfo", "reviews")] == [T - 600, T]
    assert state.change_times(T - 700, T) == (T - 600, T)
    assert state.change_times(T - 600, T) == (T,)  # (t0, t1]


@pytest.mark.parametrize(
    "weights", [{"v1": 60, "v2": 50}, {"v1": -10, "v2": 110}, {"v9": 100}, {"v1": 50.0, "v2": 50}]
)
def test_invalid_splits_change_nothing(weights):
    state = TrafficState(bookinfo_spec(), clock=lambda: T)
    with pytest.raises(ValueError):
        state.set_split("bookinfo", "reviews", weights)
    assert state.split_history("bookinfo", "reviews") == []
    assert state.revision == 0


def test_faults_and_mirrors_have_timelines_too():
    state = TrafficState(bookinfo_spec(), clock=lambda: T)
    state.set_fault("bookinfo", "reviews-v3", latency_factor=3.0, at=T - 60)
    state.set_fault("bookinfo", "reviews-v3", at=T)  # healed
    assert state.fault_at("bookinfo", "reviews-v3", T - 61) == Fault()
    assert state.fault_at("bookinfo", "reviews-v3", T - 1) == Fault(3.0, 0.0)
    assert state.fault_at("bookinfo", "reviews-v3", T) == Fault()
    state.set_mirror("bookinfo", "reviews", "v3", 20, at=T - 30)
    assert state.mirror_at("bookinfo", "reviews", T) == Mirror("v3", 20.0)
    assert state.snapshot(T).mirror("bookinfo", "reviews") == Mirror("v3", 20.0)
    assert state.snapshot(T - 31).mirror("bookinfo", "reviews") is None
    with pytest.raises(KeyError):
        state.set_fault("bookinfo", "nope-v1", error_rate=0.1)
    with pytest.raises(ValueError):
        state.set_fault("bookinfo", "reviews-v1", error_rate=1.5)


def test_concurrent_writers_lose_no_change():
    state = TrafficState(bookinfo_spec(), clock=lambda: T)

    def shift(i: int) -> None:
        for j in range(50):
            state.set_split("bookinfo", "reviews", {"v1": 100 - i, "v2": i}, at=T + j)

    threads = [threading.Thread(target=shift, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(state.split_history("bookinfo", "reviews")) == 400
    assert state.revision == 400
