"""Time on every page: typed times, the past banner's words, the paused refresh, replay steps,
the topology's selection in the URL and links that carry the time (the browser side is
tests/browser/test_time_travel.py)."""

from __future__ import annotations

import pytest

from dashboards.components.links import service_link, traces_link, workload_link
from dashboards.kit import FAST_REFRESH, past_text, timer_settings
from dashboards.topology import replay as replay_bar
from dashboards.topology.selection import selected_of, url_fields, why_of
from mesh import replay
from mesh.errors import BadRequest
from views.params import typed_instant, typed_text
from views.trace_links import topology_highlight_link

NOW = 1_764_882_000.0  # 2025-12-04 21:00:00 UTC


def test_a_typed_utc_time_becomes_unix_seconds_and_back():
    assert typed_instant("2025-12-04 20:30:15", NOW) == NOW - 1785
    assert typed_instant("2025-12-04T20:30", NOW) == NOW - 1800
    assert typed_instant(" 2025-12-04 20:30 UTC ", NOW) == NOW - 1800
    assert typed_instant(str(int(NOW - 60)), NOW) == NOW - 60  # a UNIX time pasted in
    assert typed_instant("", NOW) is None and typed_instant(None, NOW) is None  # now
    assert typed_text(NOW - 1785) == "2025-12-04 20:30:15"
    assert typed_text(None) == "" and typed_text("soon") == ""


@pytest.mark.parametrize(
    "typed",
    ["yesterday", "2025-13-01 00:00", "1999-12-31 23:00", "2025-12-07 00:00", "nan"],
)
def test_a_typed_time_that_is_not_one_is_refused_naming_the_field(typed):
    with pytest.raises(BadRequest) as err:
        typed_instant(typed, NOW)
    assert err.value.field == "at"


def test_the_past_banner_says_when_and_that_refresh_is_paused():
    assert past_text(None) == "" and past_text("") == ""
    assert past_text(str(int(NOW))) == "Viewing 2025-12-04 21:00:00 UTC: auto-refresh paused"
    assert "not a valid time" in past_text("soon")
    assert timer_settings(FAST_REFRESH, "10s", str(int(NOW))) == (10_000, True)
    assert timer_settings(FAST_REFRESH, "10s", None) == (10_000, False)


def test_replay_steps_end_at_the_end_and_are_bounded():
    plan = replay.plan(NOW - 300, NOW, "1m", NOW)
    assert plan.instants == tuple(int(NOW) - k * 60 for k in (4, 3, 2, 1, 0))
    odd = replay.Replay(0, 150, 60)  # 150 s in 60 s steps: the first covers 30 s
    assert odd.instants == (30, 90, 150)
    assert replay.index_of(plan.instants, NOW - 130) == 1  # the last step at or before
    assert replay.index_of(plan.instants, NOW - 1000) == 0
    assert replay.index_of(plan.instants, None) == 4
    assert replay.moved(plan.instants, 4, 1) == 4 and replay.moved(plan.instants, 0, -1) == 0
    for start, end, step, field in [
        (NOW, NOW - 60, "1m", "replay_from"),  # backwards
        (NOW - 86400 * 2, NOW, "1m", "replay_step"),  # 2880 steps
        (NOW - 600, NOW, "5s", "replay_step"),  # below the smallest step
        (NOW - 600, NOW + 3 * 86400, "1m", "replay_to"),  # days ahead of the clock
        (NOW - 600, NOW, "soon", "replay_step"),
    ]:
        with pytest.raises(BadRequest) as err:
            replay.plan(start, end, step, NOW)
        assert err.value.field == field


def test_replay_buttons_move_along_the_range_and_play_stops_at_the_end():
    fresh = replay_bar.planned("2025-12-04 20:55", "2025-12-04 21:00", "1m", NOW)
    assert fresh["instants"] == [int(NOW) - k * 60 for k in (4, 3, 2, 1, 0)]
    state, playing = replay_bar.advance("topo-replay-fwd", None, fresh, False)
    assert (state["index"], playing) == (0, False)  # a new range starts at its first step
    state, _ = replay_bar.advance("topo-replay-fwd", state, fresh, False)
    state, _ = replay_bar.advance("topo-replay-back", state, fresh, False)
    assert state["index"] == 0
    state, playing = replay_bar.advance("topo-replay-play", {**state, "index": 3}, fresh, False)
    assert (state["index"], playing) == (3, True)
    state, playing = replay_bar.advance("topo-replay-tick", state, fresh, True)
    assert (state["index"], playing) == (4, False)  # the last step: playing stops
    state, playing = replay_bar.advance("topo-replay-play", state, fresh, False)
    assert (state["index"], playing) == (0, True)  # play again from the start
    other = replay_bar.planned("2025-12-04 20:50", "2025-12-04 21:00", "5m", NOW)
    state, _ = replay_bar.advance("topo-replay-fwd", {**fresh, "index": 4}, other, False)
    assert state["index"] == 0 and state["step"] == "5m"  # a changed range starts again
    query = {"replay_from": str(int(NOW) - 300), "replay_to": str(int(NOW)), "replay_step": "1m"}
    assert replay_bar.initial(query, str(int(NOW) - 120), NOW)["index"] == 2
    assert replay_bar.initial({**query, "replay_step": "1s"}, None, NOW) is None


def test_the_selection_and_the_open_answer_round_trip_through_the_url():
    node = {"kind": "node", "id": "bookinfo/reviews-v2"}
    edge = {"kind": "edge", "source": "bookinfo/productpage-v1", "target": "bookinfo/reviews-v2"}
    assert url_fields(node, None) == {"node": "bookinfo/reviews-v2"}
    fields = url_fields(edge, {"node": None})
    assert fields == {
        "edge": "bookinfo/productpage-v1,bookinfo/reviews-v2",
        "why": "namespace",
    }
    assert selected_of(fields) == edge and why_of(fields) == {"node": None}
    assert selected_of({"node": "bookinfo/reviews-v2"}) == node
    assert why_of({"why": "bookinfo/reviews-v2"}) == {"node": "bookinfo/reviews-v2"}
    assert selected_of({"edge": "only-one"}) is None and selected_of({}) is None
    assert selected_of({"node": ["a", "b"]}) is None  # given twice: nothing


def test_links_carry_the_window_and_the_time():
    assert service_link("bookinfo", "reviews", "10m", "1764882000") == (
        "/service?namespace=bookinfo&service=reviews&window=10m&at=1764882000"
    )
    assert service_link("bookinfo", "reviews", "10m") == (
        "/service?namespace=bookinfo&service=reviews&window=10m"
    )
    assert workload_link("bookinfo", "reviews-v2", "5m", "1").endswith("window=5m&at=1")
    assert traces_link("bookinfo", "reviews", "1h", "7").endswith("lookback=1h&at=7")
    path = {"nodes": ["bookinfo/productpage-v1", "bookinfo/reviews-v2"]}
    link = topology_highlight_link(path, None, at=NOW + 0.25)
    assert link.endswith(f"&at={int(NOW) + 1}")  # the trace's end, rounded up
