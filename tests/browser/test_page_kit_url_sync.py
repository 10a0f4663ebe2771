"""The page kit's URL sync script (dashboards/kit.py url_sync_script), run in Chromium as the
pages run it: which parameters it writes, in which order, and that it leaves the history alone
when nothing changed."""

from __future__ import annotations

import json

import pytest

from dashboards.kit import UrlParam, url_sync_script

pytestmark = pytest.mark.browser


def run(page, params, values, search=""):
    """The URL the sync script leaves in the address bar, given each argument's value: the
    script runs in Chromium with `window` shadowed, so the test page's own URL is untouched."""
    script, args = url_sync_script(params)
    program = f"""() => {{
    const window = {{location: {{pathname: '/p', search: {json.dumps(search)}}},
                     history: {{state: null, replaceState: (s, t, url) => {{ window.out = url; }}}}}};
    const f = {script};
    const r = f(...{json.dumps(values)});
    return JSON.stringify([r, window.out === undefined ? null : window.out]);
    }}"""
    return json.loads(page.evaluate(program))[1], args


def test_url_sync_writes_each_kind_of_parameter_in_order(page):
    params = [
        UrlParam("namespace", "ns", how="each"),
        UrlParam("graph", "view", how="always"),
        UrlParam("service", "svc"),
        UrlParam("highlight", "hl", "data", how="joined"),
        UrlParam("security", "sec", how="on_flag"),
        UrlParam("before", "init", "data", field="before", state=True),
        UrlParam("at", "init", "data", field="at", state=True),
    ]
    url, args = run(page, params, [["a", "b"], "app", "", ["x", "y"], ["on"], {"at": "17"}])
    assert url == "/p?namespace=a&namespace=b&graph=app&highlight=x%2Cy&security=on&at=17"
    assert args[-1] == ("init", "data", True)  # one argument for both fields, a State, last
    url, _ = run(page, params, [[], "app", "reviews", [], [], None])
    assert url == "/p?graph=app&service=reviews"


def test_url_sync_states_come_after_inputs_whatever_the_order_given(page):
    params = [
        UrlParam("at", "store", "data", state=True),
        UrlParam("window", "win", how="always"),
    ]
    url, args = run(page, params, ["5m", "99"])
    assert args == [("win", "value", False), ("store", "data", True)]
    assert url == "/p?at=99&window=5m"


def test_url_sync_leaves_the_history_alone_when_nothing_changed(page):
    url, _ = run(page, [UrlParam("window", "win", how="always")], ["5m"], search="?window=5m")
    assert url is None
