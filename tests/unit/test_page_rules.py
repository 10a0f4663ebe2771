"""The rules the pages used to hold, now below them: which services can be released, the default
roles, weights from shares, the window health and when a canary figure is worse."""

import pytest

from mesh.canary.worse import FIGURE_KEYS, worse_than_baseline
from mesh.health import HealthThresholds
from mesh.releases.eligibility import releasable, releasable_services
from mesh.releases.roles import (
    default_roles,
    mirror_targets,
    split_weights,
    weights_from_shares,
)
from mesh.window_health import failing_success_below, success_health, window_health
from reports.release_report import figure_rows


def test_a_service_is_releasable_with_two_versions_or_more():
    assert not releasable(None)
    assert not releasable([])
    assert not releasable(["v1"])
    assert releasable(["v1", "v2"])
    rows = [
        {"service": "a", "versions": ["v1"]},
        {"service": "b", "versions": ["v1", "v2", "v3"]},
        {"service": "c"},
        {"service": "d", "versions": ["v2", "v1"]},
    ]
    assert [r["service"] for r in releasable_services(rows)] == ["b", "d"]


def test_weights_from_shares_are_whole_percents_and_none_is_zero():
    assert weights_from_shares({"v1": 0.755, "v2": 0.245, "v3": None}) == {
        "v1": 76,
        "v2": 24,
        "v3": 0,
    }
    # The busiest share becomes the stable role, the next the canary.
    assert default_roles(weights_from_shares({"v1": 0.1, "v2": 0.9})) == ("v2", "v1")


def test_only_versions_without_live_traffic_can_be_mirrored_to():
    assert mirror_targets({"v1": 100, "v2": 0, "v3": 0}) == ["v2", "v3"]
    assert mirror_targets({"v1": 50, "v2": 50}) == []


def test_split_weights_cover_every_version_in_order():
    assert split_weights({"v2": 90, "v1": 10.0}, ["v1", "v2", "v3"]) == {
        "v1": 10,
        "v2": 90,
        "v3": 0,
    }


T = HealthThresholds()


@pytest.mark.parametrize(
    ("rps", "errors", "client", "state"),
    [
        (None, None, None, "idle"),
        (0.0, 0.5, 0.0, "idle"),
        (2.0, None, None, "healthy"),
        (2.0, 0.001, None, "degraded"),
        (2.0, 0.10, None, "failure"),
        (2.0, 0.0, 0.10, "degraded"),
        (2.0, 0.0, 0.20, "failure"),
    ],
)
def test_window_health_is_the_graph_rule_with_missing_figures(rps, errors, client, state):
    assert window_health(rps, errors, client, T) == state


def test_success_health_reads_the_error_ratio_from_the_success_rate():
    assert success_health(3.0, 0.95, 0.0, T) == "degraded"
    assert success_health(3.0, 0.90, 0.0, T) == "failure"
    assert success_health(3.0, None, 0.0, T) == "healthy"  # no success rate: no errors seen
    assert success_health(3.0, 1.0, 0.0, HealthThresholds(error_degraded=0.02)) == "healthy"
    assert failing_success_below(T) == pytest.approx(0.90)
    assert failing_success_below(HealthThresholds(error_failure=0.25)) == pytest.approx(0.75)


FIGS = {
    "requests": 1000,
    "success_rate": 0.99,
    "errors": 10,
    "client_errors": 0,
    "p50_ms": 10.0,
    "p95_ms": 100.0,
    "p99_ms": 200.0,
}


def test_worse_flags_follow_the_review_figure_rows():
    rows = figure_rows({"baseline": FIGS, "canary": FIGS})
    assert len(rows) == len(FIGURE_KEYS)
    assert worse_than_baseline(FIGS, FIGS) == dict.fromkeys(FIGURE_KEYS, False)


def test_a_canary_is_worse_past_a_tenth_of_a_point_or_ten_percent_slower():
    just = {**FIGS, "success_rate": 0.9891, "p95_ms": 110.0}
    assert not any(worse_than_baseline(FIGS, just).values())
    worse = {**FIGS, "success_rate": 0.9889, "p95_ms": 110.1, "p99_ms": 150.0, "errors": 99}
    flags = worse_than_baseline(FIGS, worse)
    assert [k for k, v in flags.items() if v] == ["success_rate", "p95_ms"]
    assert not any(worse_than_baseline(FIGS, {**FIGS, "p50_ms": None}).values())
