"""The pure series model: steps, outcomes, success rates, quantiles, alignment and CSV."""

from __future__ import annotations

import math

import pytest

from mesh.errors import BadRequest
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets, histogram_quantile
from mesh.series import (
    MAX_POINTS,
    MIN_POINTS,
    BucketSeries,
    RequestSeries,
    SeriesQuery,
    SeriesTelemetry,
    Target,
    TcpSeries,
    align,
    build_service_series,
    choose_step,
    code_class,
    codes_by_version,
    csv_table,
    is_error,
    outbound_calls,
    quantile_by,
    rps_by,
    series_query,
    sort_versions,
    success_rate_by,
    sum_points,
)

T0 = 1_700_000_000.0


def pts(*values: float | None, step: int = 10) -> tuple[tuple[float, float], ...]:
    """Points every `step` seconds from T0; None leaves the timestamp out (no data)."""
    return tuple((T0 + i * step, v) for i, v in enumerate(values) if v is not None)


def req(version: str, code: str, *values: float | None, proto="http", grpc="", dest=""):
    return RequestSeries(version, proto, code, grpc, pts(*values), destination=dest)


QUERY = SeriesQuery("bookinfo", "reviews", Target.SERVICE, T0, T0 + 40, 10, 60)


@pytest.mark.parametrize("window", ["1m", "5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d", "7d"])
def test_step_keeps_every_standard_window_between_60_and_240_points(window):
    seconds = {"m": 60, "h": 3600, "d": 86400}[window[-1]] * int(window[:-1])
    step = choose_step(seconds)
    assert MIN_POINTS <= seconds / step <= MAX_POINTS


def test_series_query_aligns_end_on_step_and_rates_over_at_least_a_minute():
    q = series_query("ns", "svc", Target.SERVICE, 1800, at=T0 + 7.3)
    assert q.step_s == 10
    assert q.end == T0 and q.start == T0 - 1800
    assert q.rate_s == 60
    assert len(q.timestamps()) == 181
    assert series_query("ns", "svc", Target.SERVICE, 86400, at=T0).rate_s == 600


@pytest.mark.parametrize("step", [0, 7200, 1])
def test_series_query_refuses_bad_steps(step):
    with pytest.raises(BadRequest) as err:
        series_query("ns", "svc", Target.SERVICE, 3600, at=T0, step_s=step)
    assert err.value.field == "step"


def test_errors_follow_design_conventions():
    assert is_error("http", "503", "")
    assert is_error("http", "0", "")  # no response
    assert not is_error("http", "404", "")  # client errors are kept apart
    assert is_error("grpc", "200", "14")  # gRPC UNAVAILABLE under HTTP 200
    assert not is_error("grpc", "200", "0")
    assert code_class("grpc", "200", "14") == "grpc:UNAVAILABLE"
    assert code_class("http", "0", "") == "no response"
    assert code_class("http", "302", "") == "3xx"


def test_success_rate_is_a_fraction_absent_where_nothing_was_requested():
    requests = [
        req("v1", "200", 9.0, 10.0, 0.0, None),
        req("v1", "503", 1.0, None, 0.0, None),
        req("v1", "404", 0.0, 2.0, 0.0, None),
        req("v2", "200", 5.0, 5.0, 5.0, 5.0),
    ]
    rates = success_rate_by(requests)
    # t0: 1 error of 10; t1: no error series point -> 0 errors of 12; t2: 0/0 -> absent.
    assert rates["v1"] == ((T0, 0.9), (T0 + 10, 1.0))
    assert rates["v2"] == pts(1.0, 1.0, 1.0, 1.0)
    assert rps_by(requests)["v1"] == pts(10.0, 12.0, 0.0)


def test_codes_are_split_by_class_then_version_and_ordered_for_stacking():
    requests = [
        req("v1", "500", 1.0),
        req("v1", "200", 3.0),
        req("v1", "201", 2.0),
        req("v2", "200", 4.0),
        req("v2", "404", 1.0),
    ]
    codes = codes_by_version(requests)
    assert list(codes) == ["2xx", "4xx", "5xx"]
    assert codes["2xx"] == {"v1": pts(5.0), "v2": pts(4.0)}
    assert codes["5xx"] == {"v1": pts(1.0)}


def _buckets(version: str, per_bucket_by_t: list[list[float]]) -> list[BucketSeries]:
    """Cumulative bucket series from per-bucket rates at consecutive timestamps."""
    cumulative = [cumulative_buckets(ISTIO_BUCKETS_MS, per) for per in per_bucket_by_t]
    out = []
    for j, le in enumerate((*ISTIO_BUCKETS_MS, math.inf)):
        out.append(
            BucketSeries(
                le, tuple((T0 + i * 10, c[j][1]) for i, c in enumerate(cumulative)), version
            )
        )
    return out


def test_quantiles_are_promql_exact_per_timestamp_and_absent_without_observations():
    n = len(ISTIO_BUCKETS_MS) + 1
    busy = [0.0] * n
    busy[5], busy[6], busy[7] = 2.0, 6.0, 2.0  # 25-50, 50-100, 100-250 ms
    idle = [0.0] * n
    buckets = _buckets("v1", [busy, idle, busy])
    p95 = quantile_by(buckets, 0.95)["v1"]
    expected = histogram_quantile(0.95, cumulative_buckets(ISTIO_BUCKETS_MS, busy))
    assert p95 == ((T0, expected), (T0 + 20, expected))
    assert 100 < expected < 250


def test_align_shares_one_time_axis_and_leaves_gaps_as_none():
    times, cols = align({"v1": pts(1.0, None, 3.0), "v2": pts(None, 2.0)})
    assert times == (T0, T0 + 10, T0 + 20)
    assert cols == {"v1": [1.0, None, 3.0], "v2": [None, 2.0, None]}


def test_csv_table_has_one_column_per_series_and_blanks_for_missing_points():
    rows = csv_table({"v1": pts(1.5, None), "v2": pts(2.0, 0.25)})
    assert rows[0] == ["time_utc", "unix_time", "v1", "v2"]
    assert rows[1] == ["2023-11-14T22:13:20Z", "1700000000", "1.5", "2"]
    assert rows[2] == ["2023-11-14T22:13:30Z", "1700000010", "", "0.25"]


def test_sum_points_keeps_timestamps_present_in_any_input():
    assert sum_points([pts(1.0, None), pts(None, 2.0), pts(1.0, 1.0)]) == pts(2.0, 3.0)


def test_outbound_rows_summarise_the_window_from_the_points_they_plot():
    outbound = [
        req("v2", "200", 1.0, 1.0, dest="bookinfo/ratings"),
        req("v3", "200", 1.0, 0.5, dest="bookinfo/ratings"),
        req("v3", "503", 0.0, 0.5, dest="bookinfo/ratings"),
        req("v1", "200", 0.1, 0.1, dest="bookinfo/details"),
    ]
    tel = SeriesTelemetry(
        QUERY,
        outbound=tuple(outbound),
        outbound_tcp=(TcpSeries(pts(100.0), pts(300.0), destination="db/mysql"),),
    )
    calls = outbound_calls(tel)
    # Request calls busiest first, then TCP-only calls (bytes and requests do not compare).
    assert [c.service for c in calls] == ["ratings", "details", "mysql"]
    ratings, _, mysql = calls
    assert mysql.protocol == "tcp" and mysql.bps == 400.0 and mysql.rps is None
    assert mysql.bps_series == pts(400.0)
    assert ratings.rps == pytest.approx(2.0)
    assert ratings.error_rate == pytest.approx(0.5 / 4.0)
    assert ratings.error_rate_series == ((T0, 0.0), (T0 + 10, 0.25))
    assert ratings.rps_by_version == {"v2": 1.0, "v3": 1.0}


def test_model_without_positive_traffic_reports_no_traffic():
    idle = build_service_series(SeriesTelemetry(QUERY, inbound=(req("v1", "200", 0.0, 0.0),)))
    assert not idle.has_traffic
    assert idle.rps == {"v1": pts(0.0, 0.0)}
    assert idle.success_rate == {"v1": ()}
    assert not build_service_series(SeriesTelemetry(QUERY)).has_traffic
    busy = build_service_series(SeriesTelemetry(QUERY, inbound=(req("v1", "200", 0.0, 1.0),)))
    assert busy.has_traffic and busy.versions == ("v1",)


def test_versions_sort_naturally_with_unknown_last():
    assert sort_versions(["v10", "unknown", "v2", "v1", "canary"]) == (
        "canary",
        "v1",
        "v2",
        "v10",
        "unknown",
    )
