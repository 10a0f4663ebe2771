"""The page kit: refresh choices and the URL sync script, run in node as the browser would."""

import json
import shutil
import subprocess

import pytest

from dashboards.kit import (
    FAST_REFRESH,
    REFRESH,
    UrlParam,
    refresh_options,
    time_note,
    timer_settings,
    url_sync_script,
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


def test_time_note_says_now_or_the_paused_instant():
    assert time_note(None, 30) == "Now · refreshes every 30 s"
    assert time_note("0", 30) == "At 1970-01-01 00:00:00 UTC · auto-refresh paused"
    assert time_note("soon", 30) == "At an invalid time"


def test_a_window_from_the_url_is_any_valid_duration_written_canonically():
    assert url_window({"window": "90s"}, "10m") == "90s"
    assert url_window({"window": "120m"}, "10m") == "2h"
    assert url_window({"window": "soon"}, "10m") == "10m"
    assert url_window({"window": ["1m", "5m"]}, "30m") == "30m"  # given twice: the default
    assert url_window({}, "30m") == "30m"


def run(params, values, search=""):
    """The URL the sync script leaves in the address bar, given each argument's value."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script, args = url_sync_script(params)
    program = f"""
    const window = {{location: {{pathname: '/p', search: {json.dumps(search)}}},
                     history: {{state: null, replaceState: (s, t, url) => {{ window.out = url; }}}}}};
    const f = {script};
    const r = f(...{json.dumps(values)});
    console.log(JSON.stringify([r, window.out === undefined ? null : window.out]));
    """
    out = subprocess.run([node, "-e", program], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[1], args


def test_url_sync_writes_each_kind_of_parameter_in_order():
    params = [
        UrlParam("namespace", "ns", how="each"),
        UrlParam("graph", "view", how="always"),
        UrlParam("service", "svc"),
        UrlParam("highlight", "hl", "data", how="joined"),
        UrlParam("security", "sec", how="on_flag"),
        UrlParam("before", "init", "data", field="before", state=True),
        UrlParam("at", "init", "data", field="at", state=True),
    ]
    url, args = run(params, [["a", "b"], "app", "", ["x", "y"], ["on"], {"at": "17"}])
    assert url == "/p?namespace=a&namespace=b&graph=app&highlight=x%2Cy&security=on&at=17"
    assert args[-1] == ("init", "data", True)  # one argument for both fields, a State, last
    url, _ = run(params, [[], "app", "reviews", [], [], None])
    assert url == "/p?graph=app&service=reviews"


def test_url_sync_states_come_after_inputs_whatever_the_order_given():
    params = [
        UrlParam("at", "store", "data", state=True),
        UrlParam("window", "win", how="always"),
    ]
    url, args = run(params, ["5m", "99"])
    assert args == [("win", "value", False), ("store", "data", True)]
    assert url == "/p?at=99&window=5m"


def test_url_sync_leaves_the_history_alone_when_nothing_changed():
    url, _ = run([UrlParam("window", "win", how="always")], ["5m"], search="?window=5m")
    assert url is None
