"""The demo's series source follows the simulator: weights, weight changes and faults."""

from __future__ import annotations

import pytest

from demo.bookinfo import bookinfo_spec
from demo.series_source import DemoSeriesSource
from demo.state import TrafficState
from demo.traffic import TrafficModel
from mesh.series import TOTAL, Target, build_service_series, series_query

NOW = 1_795_881_000.0  # a multiple of every step used here


@pytest.fixture
def sim():
    spec = bookinfo_spec()
    state = TrafficState(spec, clock=lambda: NOW)
    return state, DemoSeriesSource(TrafficModel(spec, state))


def _model(source, window_s=1800, name="reviews", target=Target.SERVICE, at=NOW):
    query = series_query("bookinfo", name, target, window_s, at)
    return build_service_series(source.series_telemetry(query))


def test_each_version_is_its_own_series_and_shares_follow_the_weights(sim):
    _, source = sim
    model = _model(source)
    assert model.versions == ("v1", "v2", "v3")
    shares = {v: model.summary[v].share for v in model.versions}
    assert shares == pytest.approx({"v1": 0.8, "v2": 0.1, "v3": 0.1}, abs=0.01)
    assert model.summary[TOTAL].rps == pytest.approx(20.0, rel=0.05)  # the gateway's 20 rps
    assert all(len(points) == 181 for points in model.rps.values())


def test_a_weight_change_shows_at_its_time(sim):
    state, source = sim
    change = NOW - 900
    state.set_split("bookinfo", "reviews", {"v1": 0, "v2": 50, "v3": 50}, at=change)
    model = _model(source)
    v1 = dict(model.rps["v1"])
    # rate() over 1m: fully old split a minute before, fully new split a minute after.
    assert v1[change - 60] == pytest.approx(16.0, rel=0.05)
    assert v1[change + 60] == pytest.approx(0.0, abs=1e-9)
    assert dict(model.rps["v2"])[change + 60] == pytest.approx(10.0, rel=0.05)
    # ratings only hears from v2 and v3, so its traffic follows their share.
    ratings = next(c for c in model.outbound if c.service == "ratings")
    before = dict(ratings.rps_series)[change - 60]
    after = dict(ratings.rps_series)[change + 60]
    assert after / before == pytest.approx(5.0, rel=0.1)


def test_a_fault_shows_in_its_version_only_and_only_while_it_lasts(sim):
    state, source = sim
    state.set_fault("bookinfo", "reviews-v2", error_rate=0.5, at=NOW - 600)
    state.set_fault("bookinfo", "reviews-v2", error_rate=0.0, at=NOW - 300)
    model = _model(source)
    v2 = dict(model.success_rate["v2"])
    v1 = dict(model.success_rate["v1"])
    assert v2[NOW - 420] == pytest.approx(0.5 * 0.999, rel=0.01)
    assert v2[NOW - 700] > 0.99 and v2[NOW - 200] > 0.99
    assert min(v1.values()) > 0.99
    assert dict(model.codes["5xx"]["v2"])[NOW - 420] == pytest.approx(1.0, rel=0.1)


def test_latency_per_version_follows_the_spec_medians(sim):
    _, source = sim
    model = _model(source)
    p50 = {v: sum(x for _, x in pts) / len(pts) for v, pts in model.latency_ms["p50"].items()}
    assert p50["v1"] < p50["v2"] < p50["v3"]  # medians 8, 18 and 22 ms in the spec


def test_workload_view_and_before_history_nothing(sim):
    _, source = sim
    wl = _model(source, name="reviews-v2", target=Target.WORKLOAD)
    assert wl.versions == ("v2",)
    assert [c.service for c in wl.outbound] == ["ratings"]
    assert wl.services == ("reviews",)  # the service that routes to it, from its own series
    assert _model(source).services == ()  # a service target names itself
    spec = bookinfo_spec()
    young = DemoSeriesSource(TrafficModel(spec, TrafficState(spec), history_start=NOW - 3600 * 24))
    assert not _model(young, at=NOW - 3600 * 48).has_traffic
