"""The canary decision table: gates, verdicts and the one-line reasons a reviewer reads."""

from __future__ import annotations

import json
import math

import pytest

from mesh.canary.config import CanaryConfig
from mesh.canary.gates import GateStatus
from mesh.canary.records import (
    BucketCount,
    CanaryQuery,
    CanaryTelemetry,
    OutcomeCount,
    version_figures,
)
from mesh.canary.serialise import analysis_json
from mesh.canary.verdict import Verdict, analyze, analyze_telemetry
from mesh.canary.verdict_text import headline, sentences
from mesh.errors import BadRequest
from mesh.outcomes import CLIENT_ERROR, ERROR, classify
from mesh.quantiles import ISTIO_BUCKETS_MS, cumulative_buckets

QUERY = CanaryQuery("bookinfo", "reviews", "v1", "v2", 600, 1_700_000_000.0)

# Per-bucket shapes over ISTIO_BUCKETS_MS (+Inf last): fractions of requests per bucket.
FAST = {5: 0.30, 10: 0.50, 25: 0.18, 50: 0.02}  # p99 within (25, 50] ms
MEDIUM = {10: 0.10, 25: 0.40, 50: 0.45, 100: 0.05}  # slower, p99 within (50, 100] ms
SLOW = {100: 0.40, 250: 0.50, 1000: 0.10}  # p99 within (500, 1000] ms


def _telemetry_rows(version: str, requests: int, errors: int, shape: dict[float, float] | None):
    outcomes = [OutcomeCount(version, "200", "", float(requests - errors))]
    if errors:
        outcomes.append(OutcomeCount(version, "503", "", float(errors)))
    buckets: list[BucketCount] = []
    if shape is not None:
        per = [requests * shape.get(b, 0.0) for b in ISTIO_BUCKETS_MS] + [0.0]
        buckets = [
            BucketCount(version, le, c) for le, c in cumulative_buckets(ISTIO_BUCKETS_MS, per)
        ]
    return outcomes, buckets


def _analysis(base=(5000, 5, FAST), canary=(5000, 5, FAST), config: CanaryConfig | None = None):
    ob, bb = _telemetry_rows("v1", *base)
    oc, bc = _telemetry_rows("v2", *canary)
    telemetry = CanaryTelemetry(QUERY, tuple(ob + oc), tuple(bb + bc), queries_sent=2)
    return analyze_telemetry(telemetry, config)


def _gate(analysis, name):
    return next(g for g in analysis.gates if g.name == name)


def test_twenty_canary_requests_is_not_enough_traffic_yet_even_when_perfect():
    a = _analysis(canary=(20, 0, FAST))
    assert a.verdict is Verdict.INSUFFICIENT_TRAFFIC
    assert len(a.reasons) == 1
    assert "not enough traffic yet" in a.reasons[0] and "traffic gate" in a.reasons[0]
    assert "20 requests" in a.reasons[0] and "100 needed" in a.reasons[0]
    assert _gate(a, "success").status is GateStatus.NOT_JUDGED
    assert _gate(a, "latency").status is GateStatus.NOT_JUDGED


def test_insufficient_traffic_wins_over_a_failing_success_rate():
    a = _analysis(canary=(50, 25, FAST))
    assert a.verdict is Verdict.INSUFFICIENT_TRAFFIC
    assert "50.0%" in _gate(a, "success").reason  # the figure is shown, not judged


def test_five_percent_errors_rolls_back_naming_the_success_gate():
    a = _analysis(canary=(1000, 50, FAST))
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons == ("success gate failed: canary 95.0% < 99.0%",)
    assert headline(a) == "Roll back: v2 fails 5.0 % of requests; at most 1.0 % is allowed."


def test_success_gate_prints_enough_decimals_to_show_the_difference():
    a = _analysis(canary=(100000, 1005, FAST))
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons == ("success gate failed: canary 98.995% < 99.000%",)


def test_p99_over_the_slo_rolls_back_naming_the_latency_gate():
    a = _analysis(canary=(1000, 0, SLOW))
    assert a.verdict is Verdict.ROLLBACK
    (reason,) = a.reasons
    assert reason.startswith("latency gate failed: canary p99 ") and reason.endswith("> 500 ms")
    assert _gate(a, "latency").observed > 500


def test_significantly_more_errors_but_within_slo_holds():
    # 0.8% vs 0.1% on 5000 requests each: success 99.2% meets the SLO, but z ≈ 5.2.
    a = _analysis(base=(5000, 5, FAST), canary=(5000, 40, FAST))
    assert a.verdict is Verdict.HOLD
    (reason,) = a.reasons
    assert reason.startswith("errors vs baseline failed: canary significantly worse: ")
    assert "0.8% vs baseline 0.1%" in reason
    assert headline(a) == "Hold: v2 fails 0.8 % of requests against 0.1 % for v1."
    assert a.errors.p_value < 1e-5 and a.errors.ci_low > 0


def test_significantly_slower_but_within_slo_holds():
    a = _analysis(canary=(5000, 5, MEDIUM))
    assert _gate(a, "latency").status is GateStatus.PASS  # p99 < 100 ms
    assert a.verdict is Verdict.HOLD
    (reason,) = a.reasons
    assert reason.startswith("latency vs baseline failed: canary significantly slower")
    assert a.latency.prob_slower > 0.8


def test_equal_versions_with_enough_traffic_promote_with_every_gate_stated():
    a = _analysis()
    assert a.verdict is Verdict.PROMOTE
    assert [g.status for g in a.gates] == [GateStatus.PASS] * 6
    assert len(a.reasons) == 6
    assert a.reasons[2] == "success gate passed: canary 99.9% ≥ 99.0%"
    assert headline(a).startswith("Promote: v2 meets its SLOs")
    assert a.latency.prob_slower == pytest.approx(0.5)


def test_too_little_evidence_to_rule_out_more_errors_continues():
    # 0 errors in 150 canary requests: Wilson's upper bound is 2.5%, above the 1-point margin.
    a = _analysis(canary=(150, 0, FAST))
    assert a.verdict is Verdict.CONTINUE
    assert any(r.startswith("errors vs baseline inconclusive") for r in a.reasons)


def test_an_idle_baseline_is_not_enough_traffic_naming_the_baseline_never_promote():
    a = _analysis(base=(0, 0, None), canary=(2000, 2, FAST))
    assert a.verdict is Verdict.INSUFFICIENT_TRAFFIC
    (reason,) = a.reasons
    assert reason.startswith("baseline traffic gate: not enough traffic yet: baseline v1")
    assert sentences(a) == (
        "The baseline v1 served 0 requests in the window; at least 100 are needed to judge it.",
    )


def test_a_comparison_that_cannot_be_made_is_shown_as_not_judged():
    # The baseline served enough requests but has no histogram: latency cannot be compared.
    a = _analysis(base=(2000, 2, None), canary=(2000, 2, FAST))
    assert _gate(a, "latency vs baseline").status is GateStatus.NOT_JUDGED
    assert "not judged" in _gate(a, "latency vs baseline").reason
    assert a.verdict is Verdict.PROMOTE
    assert headline(a).endswith(
        "fails no more often than v1 (0.1 % against 0.1 %); not judged: latency against v1."
    )


def test_missing_canary_histogram_cannot_promote():
    a = _analysis(canary=(2000, 2, None))
    assert a.verdict is Verdict.CONTINUE
    assert a.reasons[0].startswith("latency gate has no data")


def test_per_service_config_tightens_the_gates():
    strict = CanaryConfig.from_mapping({"max_p99_ms": "30", "min_requests": "6000"})
    assert _analysis(config=strict).verdict is Verdict.INSUFFICIENT_TRAFFIC
    strict = CanaryConfig.from_mapping({"max_p99_ms": 30})
    a = _analysis(config=strict)
    assert a.verdict is Verdict.ROLLBACK
    assert a.reasons[0].endswith("> 30 ms")


@pytest.mark.parametrize(
    "values",
    [
        {"min_success_rate": 1.5},
        {"max_p99_ms": 0},
        {"min_requests": 2.5},
        {"alpha": "x"},
        {"alpha": "nan"},
        {"slower_effect": 0.4},
        {"p999_ms": 10},
    ],
)
def test_invalid_config_is_refused_as_bad_request(values):
    with pytest.raises(BadRequest):
        CanaryConfig.from_mapping(values)


def test_error_classification_follows_the_design():
    assert classify("503", "") == ERROR and classify("0", "") == ERROR
    assert classify("200", "14") == ERROR  # gRPC UNAVAILABLE under HTTP 200
    assert classify("200", "0") != ERROR and classify("404", "") != ERROR
    assert classify("404", "") == CLIENT_ERROR and classify("503", "") != CLIENT_ERROR


def test_figures_count_client_errors_apart_and_compute_quantiles():
    t = CanaryTelemetry(
        QUERY,
        outcomes=(
            OutcomeCount("v2", "200", "", 90.0),
            OutcomeCount("v2", "404", "", 6.0),
            OutcomeCount("v2", "200", "2", 4.0),
            OutcomeCount("v1", "500", "", 7.0),
        ),
        buckets=(
            BucketCount("v2", 10.0, 50.0),
            BucketCount("v2", 100.0, 100.0),
            BucketCount("v2", math.inf, 100.0),
        ),
    )
    f = version_figures(t, "v2")
    assert (f.requests, f.errors, f.client_errors) == (100.0, 4.0, 6.0)
    assert f.success_rate == pytest.approx(0.96)
    assert f.p50_ms == pytest.approx(10.0)
    assert f.p99_ms == pytest.approx(10 + 90 * 49 / 50)
    assert f.buckets == ((10.0, 50.0), (100.0, 50.0), (math.inf, 0.0))


def test_analysis_json_is_strict_json_with_the_api_fields():
    body = analysis_json(_analysis(canary=(1000, 50, SLOW)))
    text = json.dumps(body, allow_nan=False)
    back = json.loads(text)
    assert back["verdict"] == "rollback"
    assert back["reasons"] == [
        "success gate failed: canary 95.0% < 99.0%",
        back["gates"][3]["reason"],
    ]
    assert {g["name"] for g in back["gates"]} == {
        "traffic",
        "baseline traffic",
        "success",
        "latency",
        "errors vs baseline",
        "latency vs baseline",
    }
    assert back["canary"]["buckets"][-1]["le"] == "+Inf"
    assert back["tests"]["errors"]["method"].startswith("newcombe")
    assert back["config"]["max_p99_ms"] == 500.0


def test_analyze_accepts_figures_directly():
    base = version_figures(CanaryTelemetry(QUERY), "v1")
    a = analyze(base, base)
    assert a.verdict is Verdict.INSUFFICIENT_TRAFFIC
    assert "served 0 requests" in a.reasons[0]
