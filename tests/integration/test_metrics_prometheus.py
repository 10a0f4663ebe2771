"""Service series from a REAL Prometheus match PromQL's own range queries, version by version.

The session's Prometheus (tests/integration/conftest.py) holds the `timeline` scenario
(devtools/timeline_scenario.py): reviews split v1 60 / v2 30 / v3 10, an unmeshed caller,
and an error burst in v2 only. Expectations here are written independently as plain PromQL,
mostly from the destination reporter (which sees every request to a meshed service once), and
compared point by point: rates within 2 %, quantiles within 5 %, and nothing where PromQL has
nothing.
"""

from __future__ import annotations

import math

import pytest
import requests

from app import create_app
from collectors.prometheus_series import PrometheusSeries
from demo.series_source import DemoSeriesSource
from devtools.timeline_scenario import (
    BURST_ERROR_RATE,
    BURST_VERSION,
    LOADGEN_RPS,
    MYSQL_SENT_BPS,
    NAMESPACE,
    SPLIT,
    UNKNOWN_RPS,
    burst_times,
)
from mesh.series import TOTAL, ServiceSeries, Target, build_service_series, series_query
from wiring.services import Services
from wiring.settings import Settings

pytestmark = pytest.mark.integration

WINDOW_S = 3600  # the last hour holds the burst (50 to 40 minutes before the end)
RATE_TOL = 0.02
QUANTILE_TOL = 0.05
EPS = 1e-9
REVIEWS = f'destination_service_namespace="{NAMESPACE}",destination_service_name="reviews"'
FROM_REVIEWS = f'source_workload_namespace="{NAMESPACE}",source_canonical_service="reviews"'
VERSION = "destination_canonical_revision"

Columns = dict[str, dict[float, float]]


def promql_range(prometheus, text: str, q, key: str) -> Columns:
    """PromQL's own range query over the same start/end/step: key label -> {t: value}."""
    r = requests.get(
        f"{prometheus.url}/api/v1/query_range",
        params={"query": text, "start": q.start, "end": q.end, "step": q.step_s},
        timeout=30,
    )
    body = r.json()
    assert body["status"] == "success", body
    out: Columns = {}
    for series in body["data"]["result"]:
        points = {float(t): float(v) for t, v in series["values"] if not math.isnan(float(v))}
        if points:
            out[series["metric"].get(key, "")] = points
    return out


def assert_matches(ours, expected: Columns, tol: float, what: str, floor: float = 0.0) -> None:
    """Same keys, same timestamps, every value within tol (relative; `floor` absolute)."""
    ours_cols = {k: dict(v) for k, v in ours.items() if v}
    assert set(ours_cols) == set(expected), what
    for key, exp in expected.items():
        got = ours_cols[key]
        assert set(got) == set(exp), f"{what} {key}: timestamps differ"
        for t, e in exp.items():
            assert got[t] == pytest.approx(e, rel=tol, abs=floor + EPS), f"{what} {key} at {t}"


@pytest.fixture(scope="module")
def counted(prometheus):
    """A PrometheusSeries whose HTTP session counts the range queries it sends."""
    session = requests.Session()
    sent: list[str] = []

    def count(response, *args, **kwargs):
        if "/api/v1/query_range" in response.url:
            sent.append(response.url)

    session.hooks["response"].append(count)
    source = PrometheusSeries(prometheus.url, timeout_s=30, session=session)
    return source, sent


@pytest.fixture(scope="module")
def reviews(counted, scenario_time) -> ServiceSeries:
    source, _ = counted
    query = series_query(NAMESPACE, "reviews", Target.SERVICE, WINDOW_S, scenario_time)
    return build_service_series(source.series_telemetry(query))


def test_step_and_range(reviews, scenario_time):
    q = reviews.query
    assert (q.step_s, q.rate_s) == (15, 60)
    assert q.end == scenario_time and q.start == scenario_time - WINDOW_S
    assert reviews.versions == ("v1", "v2", "v3")


def test_rps_per_version_matches_promql(prometheus, reviews):
    # The destination reporter sees every request to reviews once, meshed caller or not:
    # an independent count of what the collector takes from source + unknown-from-destination.
    expected = promql_range(
        prometheus,
        f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{REVIEWS}}}[1m]))',
        reviews.query,
        VERSION,
    )
    assert_matches(reviews.rps, expected, RATE_TOL, "rps")


def test_success_rate_per_version_matches_promql(prometheus, reviews):
    ok = f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{REVIEWS},response_code!~"5..|0"}}[1m]))'
    total = (
        f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{REVIEWS}}}[1m]))'
    )
    expected = promql_range(prometheus, f"{ok} / {total}", reviews.query, VERSION)
    assert_matches(reviews.success_rate, expected, RATE_TOL, "success rate")
    for points in reviews.success_rate.values():
        assert all(0.0 <= v <= 1.0 for _, v in points)


@pytest.mark.parametrize("name, q", [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)])
def test_quantiles_per_version_match_histogram_quantile(prometheus, reviews, name, q):
    buckets = f'sum by ({VERSION}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter="destination",{REVIEWS}}}[1m]))'
    expected = promql_range(
        prometheus, f"histogram_quantile({q}, {buckets})", reviews.query, VERSION
    )
    assert_matches(reviews.latency_ms[name], expected, QUANTILE_TOL, name)


@pytest.mark.parametrize("cls, regex", [("2xx", "2.."), ("5xx", "5..")])
def test_code_classes_per_version_match_promql(prometheus, reviews, cls, regex):
    expected = promql_range(
        prometheus,
        f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{REVIEWS},response_code=~"{regex}"}}[1m]))',
        reviews.query,
        VERSION,
    )
    assert_matches(reviews.codes[cls], expected, RATE_TOL, cls)
    assert set(reviews.codes) == {"2xx", "5xx"}


def test_outbound_rps_and_error_rate_by_destination_match_promql(prometheus, reviews):
    q = reviews.query
    dest = "destination_service_name"
    rps = promql_range(
        prometheus,
        f'sum by ({dest}) (rate(istio_requests_total{{reporter="source",{FROM_REVIEWS}}}[1m]))',
        q,
        dest,
    )
    errors = promql_range(
        prometheus,
        f'sum by ({dest}) (rate(istio_requests_total{{reporter="source",{FROM_REVIEWS},response_code=~"5..|0"}}[1m]))'
        f' / sum by ({dest}) (rate(istio_requests_total{{reporter="source",{FROM_REVIEWS}}}[1m]))',
        q,
        dest,
    )
    calls = {c.service: c for c in reviews.outbound}
    assert set(calls) == {"ratings", "mysql"}
    http = {name: c for name, c in calls.items() if c.protocol != "tcp"}
    assert_matches({k: c.rps_series for k, c in http.items()}, rps, RATE_TOL, "outbound rps")
    assert_matches(
        {k: c.error_rate_series for k, c in http.items()}, errors, RATE_TOL, "error rate"
    )
    ratings = calls["ratings"]
    # Only v2 and v3 call ratings, once per request they serve.
    assert set(ratings.rps_by_version) == {"v2", "v3"}
    assert ratings.rps == pytest.approx(
        (LOADGEN_RPS + UNKNOWN_RPS) * (SPLIT["v2"] + SPLIT["v3"]) / 100, rel=0.03
    )
    # Window figures against PromQL over the whole hour at the end.
    p95 = prometheus.query_value(
        f'histogram_quantile(0.95, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{reporter="destination",{FROM_REVIEWS},{dest}="ratings"}}[1h])))',
        q.end,
    )
    assert ratings.p95_ms == pytest.approx(p95, rel=QUANTILE_TOL)


def test_tcp_bytes_per_second_match_promql(prometheus, counted, scenario_time):
    source, _ = counted
    query = series_query(NAMESPACE, "mysql", Target.SERVICE, WINDOW_S, scenario_time)
    mysql = build_service_series(source.series_telemetry(query))
    mysql_sel = f'destination_service_namespace="{NAMESPACE}",destination_service_name="mysql"'
    # Into mysql is what its callers sent: the proxies count it as *received* bytes.
    into = promql_range(
        prometheus,
        f'sum by ({VERSION}) (rate(istio_tcp_received_bytes_total{{reporter="destination",{mysql_sel}}}[1m]))',
        query,
        VERSION,
    )
    out_of = promql_range(
        prometheus,
        f'sum by ({VERSION}) (rate(istio_tcp_sent_bytes_total{{reporter="destination",{mysql_sel}}}[1m]))',
        query,
        VERSION,
    )
    assert_matches(mysql.tcp_in_bps, into, RATE_TOL, "tcp in")
    assert_matches(mysql.tcp_out_bps, out_of, RATE_TOL, "tcp out")
    mean_in = sum(v for _, v in mysql.tcp_in_bps["v1"]) / len(mysql.tcp_in_bps["v1"])
    assert mean_in == pytest.approx(MYSQL_SENT_BPS, rel=0.03)
    assert mysql.has_traffic and mysql.rps == {}


def test_the_split_follows_the_weights(reviews):
    shares = {v: reviews.summary[v].share for v in reviews.versions}
    assert shares == pytest.approx({v: w / 100 for v, w in SPLIT.items()}, abs=0.01)
    assert reviews.summary[TOTAL].rps == pytest.approx(LOADGEN_RPS + UNKNOWN_RPS, rel=0.03)


def test_the_burst_shows_in_its_version_at_its_time(reviews, scenario_time):
    start, stop = burst_times(scenario_time)
    step, rate = reviews.query.step_s, reviews.query.rate_s
    v2 = dict(reviews.success_rate[BURST_VERSION])
    low = sorted(t for t, v in v2.items() if v < 0.9)
    # rate() over 1m: the first low point lands within a minute of the start, the last within a
    # minute of the end.
    assert start < low[0] <= start + rate
    assert stop <= low[-1] + step and low[-1] < stop + rate
    inside = [v for t, v in v2.items() if start + rate <= t <= stop]
    assert inside and all(v == pytest.approx(1 - BURST_ERROR_RATE, abs=0.02) for v in inside)
    assert all(v > 0.98 for t, v in v2.items() if t <= start or t >= stop + rate)
    for version in ("v1", "v3"):
        assert min(v for _, v in reviews.success_rate[version]) > 0.98, version
    # The 5xx class carries the burst, in v2 only.
    v2_5xx = max(v for _, v in reviews.codes["5xx"][BURST_VERSION])
    served = (LOADGEN_RPS + UNKNOWN_RPS) * SPLIT[BURST_VERSION] / 100
    assert v2_5xx == pytest.approx(served * BURST_ERROR_RATE, rel=0.1)
    assert max(v for _, v in reviews.codes["5xx"]["v1"]) < 0.1


def test_query_count_does_not_grow_with_versions_or_destinations(counted, scenario_time):
    source, sent = counted
    for namespace, service in (
        (NAMESPACE, "reviews"),  # 3 versions, 2 destinations
        ("bookinfo", "reviews"),  # 2 versions
        ("shop", "frontend"),  # 1 version, 3 destinations
        ("quiet", "nothing"),
    ):
        before = len(sent)
        q = series_query(namespace, service, Target.SERVICE, WINDOW_S, scenario_time)
        tel = source.series_telemetry(q)
        assert tel.queries_sent == len(sent) - before == 6


def test_grpc_status_classes_and_success(prometheus, counted, scenario_time):
    source, _ = counted
    q = series_query("shop", "cartservice", Target.SERVICE, 1800, scenario_time)
    cart = build_service_series(source.series_telemetry(q))
    sel = 'destination_service_namespace="shop",destination_service_name="cartservice"'
    failing = f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{sel},grpc_response_status=~"[1-9]|1[0-6]"}}[1m]))'
    total = f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{sel}}}[1m]))'
    expected = promql_range(prometheus, f"1 - ({failing} / {total})", q, VERSION)
    assert_matches(cart.success_rate, expected, RATE_TOL, "gRPC success")
    assert set(cart.codes) == {"grpc:OK", "grpc:UNAVAILABLE"}  # status 14 under HTTP 200
    assert cart.summary[TOTAL].success_rate == pytest.approx(0.95, abs=0.005)


def test_quiet_namespace_is_no_traffic_not_zeros(counted, scenario_time):
    source, _ = counted
    q = series_query("quiet", "nothing", Target.SERVICE, WINDOW_S, scenario_time)
    model = build_service_series(source.series_telemetry(q))
    assert not model.has_traffic
    assert model.rps == {} and model.success_rate == {} and model.outbound == ()


def test_api_json_matches_promql(prometheus, scenario_time):
    settings = Settings(prometheus_url=prometheus.url)
    client = create_app(settings).server.test_client()
    r = client.get(
        f"/api/metrics?namespace={NAMESPACE}&service=reviews&window=1h&at={int(scenario_time)}"
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["versions"] == ["v1", "v2", "v3"] and body["step"] == "15s"
    q = series_query(NAMESPACE, "reviews", Target.SERVICE, WINDOW_S, scenario_time)
    rps = promql_range(
        prometheus,
        f'sum by ({VERSION}) (rate(istio_requests_total{{reporter="destination",{REVIEWS}}}[1m]))',
        q,
        VERSION,
    )
    p95 = promql_range(
        prometheus,
        f'histogram_quantile(0.95, sum by ({VERSION}, le) (rate(istio_request_duration_milliseconds_bucket{{reporter="destination",{REVIEWS}}}[1m])))',
        q,
        VERSION,
    )
    series = body["series"]
    assert_matches(series["rps"], rps, RATE_TOL, "API rps")
    assert_matches(series["p95_ms"], p95, QUANTILE_TOL, "API p95")
    assert {o["service"] for o in body["outbound"]} == {"ratings", "mysql"}


def test_the_demo_page_agrees_with_a_prometheus_of_its_own_series(reviews, scenarios):
    """The demo answers from its model what Prometheus computes from the model's series.

    Rates agree within 2 % and medians within 5 %; tail quantiles of a 2 rps version rest on a
    handful of integer counts in Prometheus, so they are not compared here.
    """
    source = DemoSeriesSource(scenarios.timeline.model)
    demo = build_service_series(source.series_telemetry(reviews.query))
    assert demo.versions == reviews.versions
    for version in reviews.versions:
        prom = dict(reviews.rps[version])
        ours = dict(demo.rps[version])
        assert set(ours) == set(prom)
        for t, v in prom.items():
            assert ours[t] == pytest.approx(v, rel=RATE_TOL), (version, t)
        p50 = dict(reviews.latency_ms["p50"][version])
        for t, v in dict(demo.latency_ms["p50"][version]).items():
            assert v == pytest.approx(p50[t], rel=QUANTILE_TOL), (version, t)


@pytest.mark.parametrize(
    ("workload", "services"),
    [("reviews-v2", ["reviews"]), ("mysql-v1", ["mysql"]), ("loadgen-v1", [])],
)
def test_api_names_a_workload_s_service_from_its_series_in_six_queries(
    prometheus, counted, scenario_time, workload, services
):
    """The workload page's markers need the services routing to the workload: the real
    Prometheus names them in the same six range queries (mysql-v1 through its TCP bytes only;
    loadgen-v1 serves nothing)."""
    source, sent = counted
    settings = Settings(prometheus_url=prometheus.url)
    app = create_app(settings, Services(settings=settings, telemetry=source, series=source))
    before = len(sent)
    r = app.server.test_client().get(
        f"/api/metrics?namespace={NAMESPACE}&workload={workload}&window=1h&at={int(scenario_time)}"
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["target"] == "workload" and body["services"] == services
    assert len(sent) - before == body["queries"] == 6
    if workload == "reviews-v2":
        # Split by service as well, the workload's figures are still its own: v2's 30 %.
        assert body["versions"] == ["v2"]
        share = body["summary"]["all"]["rps"] / (LOADGEN_RPS + UNKNOWN_RPS)
        assert share == pytest.approx(SPLIT["v2"] / 100, rel=0.03)
    if workload == "mysql-v1":
        mean_in = sum(v for _, v in body["series"]["tcp_in_bps"]["v1"]) / len(
            body["series"]["tcp_in_bps"]["v1"]
        )
        assert mean_in == pytest.approx(MYSQL_SENT_BPS, rel=0.03)


@pytest.mark.parametrize("workload", ["reviews-v2", "mysql-v1", "ratings-v1", "loadgen-v1"])
def test_the_demo_names_a_workload_s_services_as_prometheus_does(
    counted, scenarios, scenario_time, workload
):
    source, _ = counted
    q = series_query(NAMESPACE, workload, Target.WORKLOAD, WINDOW_S, scenario_time)
    demo = DemoSeriesSource(scenarios.timeline.model).series_telemetry(q)
    assert demo.services == source.series_telemetry(q).services
