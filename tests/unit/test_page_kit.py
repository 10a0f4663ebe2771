"""The page kit: refresh choices, time notes and windows from the URL (the URL sync script runs
in Chromium: tests/browser/test_page_kit_url_sync.py)."""

from dashboards.kit import (
    FAST_REFRESH,
    REFRESH,
    refresh_options,
    time_note,
    timer_settings,
    url_window,
    window_options,
)


def test_refresh_choices_set_the_timer_and_off_disables_it():
    assert timer_settings(REFRESH, "30s") == (30_000, False)
    assert timer_settings(FAST_REFRESH, "10s") == (10_000, False)
    assert timer_settings(REFRESH, "10s") == (1000, True)  # not offered here: off
    assert timer_settings(REFRESH, "off") == (1000, True)
    assert timer_settings(REFRESH, None) == (1000, True)
    assert [o["label"] for o in refresh_options(FAST_REFRESH)] == [
        "Off",
        "Every 10s",
        "Every 15s",
        "Every 30s",
        "Every 1m",
    ]
    assert window_options(("1m", "1h")) == [
        {"label": "Last 1m", "value": "1m"},
        {"label": "Last 1h", "value": "1h"},
    ]


def test_time_note_says_now_and_leaves_a_past_instant_to_the_past_banner():
    assert time_note(None, 30) == "Now · refreshes every 30 s"
    assert time_note("0", 30) == ""  # past_banner says "Viewing ... UTC: auto-refresh paused"
    assert time_note("soon", 30) == ""


def test_a_window_from_the_url_is_any_valid_duration_written_canonically():
    assert url_window({"window": "90s"}, "10m") == "90s"
    assert url_window({"window": "120m"}, "10m") == "2h"
    assert url_window({"window": "soon"}, "10m") == "10m"
    assert url_window({"window": ["1m", "5m"]}, "30m") == "30m"  # given twice: the default
    assert url_window({}, "30m") == "30m"
