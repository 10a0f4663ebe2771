"""The topology's replay bar: step through a time range, one graph per step.

The steps and their bounds are mesh/replay.py's; this module only turns the bar's buttons into
a step index and the page's `at` (the "topo-at" Store the graph loads from), so each step
re-draws the graph at that instant and the URL holds the step shown (`at=`) and the range
(`replay_from`, `replay_to`, `replay_step`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.kit import UrlParam, control, picker
from mesh import replay
from mesh.errors import MeshdashError
from views.params import get_one, typed_instant, typed_text
from wiring.services import services

DEFAULT_RANGE_S = 30 * 60
DEFAULT_STEP = "1m"
# The URL parameters of the range; "Back to now" drops them with `at`.
URL_KEYS: tuple[str, ...] = ("replay_from", "replay_to", "replay_step")
BUTTONS = ("topo-replay-back", "topo-replay-play", "topo-replay-fwd")


def _arg(query: Mapping[str, Any], key: str) -> str | None:
    try:
        return get_one(query, key)
    except MeshdashError:
        return None


def planned(typed_from: str | None, typed_to: str | None, step: str, now: float) -> dict[str, Any]:
    """The Store's range for typed bounds (an empty end is now, frozen here so the steps stay
    put). Raises BadRequest naming the field at fault."""
    end = typed_instant(typed_to, now, field="replay_to")
    end = now if end is None else end
    start = typed_instant(typed_from, now, field="replay_from")
    if start is None:
        start = end - DEFAULT_RANGE_S
    plan = replay.plan(start, end, step, now)
    return {
        "from": str(plan.start),
        "to": str(plan.end),
        "step": step,
        "instants": list(plan.instants),
    }


def initial(query: Mapping[str, Any], at: str | None, now: float) -> dict[str, Any] | None:
    """The range a pasted URL asks for, showing its `at`; None without one (or a bad one)."""
    start, end = _arg(query, "replay_from"), _arg(query, "replay_to")
    if not start or not end:
        return None
    try:
        state = planned(start, end, _arg(query, "replay_step") or DEFAULT_STEP, now)
        shown = float(at) if at else None
    except (MeshdashError, ValueError):
        return None
    return {**state, "index": replay.index_of(tuple(state["instants"]), shown)}


def position_text(state: Mapping[str, Any] | None) -> str:
    if not state:
        return "Choose a range, then step or play."
    t = state["instants"][state["index"]]
    return f"Step {state['index'] + 1} of {len(state['instants'])} · {typed_text(t)} UTC"


def bar(query: Mapping[str, Any], at: str | None) -> html.Details:
    """The replay bar, open when the URL holds a range."""
    now = services().clock()
    state = initial(query, at, now)
    end = float(state["to"]) if state else (float(at) if at else now)
    start = float(state["from"]) if state else end - DEFAULT_RANGE_S
    step = state["step"] if state else DEFAULT_STEP
    steps = replay.STEP_CHOICES if step in replay.STEP_CHOICES else (*replay.STEP_CHOICES, step)
    speed = _arg(query, "speed")
    speed = speed if speed in replay.SPEEDS else "normal"
    return html.Details(
        [
            html.Summary("Replay a time range"),
            html.Div(
                [
                    control("From (UTC)", _time_input("topo-replay-from", typed_text(start))),
                    control("To (UTC)", _time_input("topo-replay-to", typed_text(end))),
                    control(
                        "Step",
                        picker("topo-replay-step", [{"label": s, "value": s} for s in steps], step),
                    ),
                    control(
                        "Speed",
                        picker(
                            "topo-replay-speed",
                            [
                                {"label": f"{k} ({v:g} s a step)", "value": k}
                                for k, v in replay.SPEEDS.items()
                            ],
                            speed,
                        ),
                    ),
                    html.Div(
                        [
                            html.Button("◀ Back", id="topo-replay-back", className="md-button"),
                            html.Button(
                                "▶ Play",
                                id="topo-replay-play",
                                className="md-button md-button-primary",
                            ),
                            html.Button("Forward ▶", id="topo-replay-fwd", className="md-button"),
                        ],
                        className="md-replay-buttons",
                    ),
                    html.Span(
                        position_text(state),
                        id="topo-replay-position",
                        className="md-replay-position",
                    ),
                    html.Span(id="topo-replay-error", className="md-replay-error", role="alert"),
                ],
                className="md-replay-row",
            ),
            dcc.Store(id="topo-replay", data=state),
            dcc.Interval(
                id="topo-replay-tick",
                interval=int(replay.SPEEDS[speed] * 1000),
                disabled=True,
            ),
        ],
        id="topo-replay-bar",
        className="md-replay",
        open=state is not None,
    )


def _time_input(id_: str, value: str) -> dcc.Input:
    return dcc.Input(
        id=id_,
        type="text",
        value=value,
        className="md-time-input",
        placeholder="YYYY-MM-DD HH:MM",
        spellCheck=False,
        autoComplete="off",
    )


def advance(
    trigger: str | None,
    state: Mapping[str, Any] | None,
    fresh: Mapping[str, Any],
    playing: bool,
) -> tuple[dict[str, Any], bool]:
    """The next (state, playing) for a button or a tick. `fresh` is the range as typed now:
    a changed range starts again from its first step."""
    same = bool(state) and state["instants"] == fresh["instants"]
    index = state["index"] if same else None
    instants = tuple(fresh["instants"])
    last = len(instants) - 1
    if trigger == "topo-replay-play":
        playing = not playing
        if playing and (index is None or index == last):
            index = 0  # play from the start when at the end or on a new range
    elif trigger == "topo-replay-back":
        playing, index = False, replay.moved(instants, 0 if index is None else index, -1)
    elif trigger == "topo-replay-fwd":
        playing = False
        index = 0 if index is None else replay.moved(instants, index, 1)
    elif trigger == "topo-replay-tick":
        index = 0 if index is None else replay.moved(instants, index, 1)
    if index is None:
        index = 0
    if index == last and trigger == "topo-replay-tick":
        playing = False  # the end of the range: stop there
    return {**fresh, "index": index}, playing


def register_callbacks(app) -> None:
    @app.callback(
        Output("topo-replay", "data"),
        Output("topo-at", "data"),
        Output("topo-replay-position", "children"),
        Output("topo-replay-error", "children"),
        Output("topo-replay-tick", "disabled"),
        Output("topo-replay-play", "children"),
        Input("topo-replay-back", "n_clicks"),
        Input("topo-replay-play", "n_clicks"),
        Input("topo-replay-fwd", "n_clicks"),
        Input("topo-replay-tick", "n_intervals"),
        State("topo-replay-from", "value"),
        State("topo-replay-to", "value"),
        State("topo-replay-step", "value"),
        State("topo-replay", "data"),
        State("topo-replay-tick", "disabled"),
        prevent_initial_call=True,
    )
    def step(_back, _play, _fwd, _tick, typed_from, typed_to, step_size, state, stopped):
        try:
            fresh = planned(typed_from, typed_to, step_size, services().clock())
        except MeshdashError as exc:
            return no_update, no_update, no_update, str(exc), True, "▶ Play"
        new, playing = advance(ctx.triggered_id, state, fresh, not stopped)
        at = str(new["instants"][new["index"]])
        return new, at, position_text(new), "", not playing, "❚❚ Pause" if playing else "▶ Play"

    @app.callback(Output("topo-replay-tick", "interval"), Input("topo-replay-speed", "value"))
    def speed(choice):
        return int(replay.SPEEDS.get(choice, replay.SPEEDS["normal"]) * 1000)


URL_PARAMS: tuple[UrlParam, ...] = (
    UrlParam("replay_from", "topo-replay", "data", field="from"),
    UrlParam("replay_to", "topo-replay", "data", field="to"),
    UrlParam("replay_step", "topo-replay", "data", field="step"),
)
