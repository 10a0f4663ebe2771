"""The page kit: the control bar's pieces, the refresh timer and the URL sync every page uses.

Written once so the pages agree: the same window and refresh choices with the same labels, the
same "Refresh now" button, an interval that follows the refresh choice, and the page's state
kept in the address bar (replaceState, so Back leaves the page instead of stepping through
every change).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dash import Input, Output, State, ctx, dcc, html, no_update

from mesh import validate
from mesh.errors import MeshdashError
from views.params import get_one, typed_instant, typed_text
from wiring.services import services

# The windows the live pages offer (topology, overview, inventory, review).
WINDOWS: tuple[str, ...] = ("1m", "5m", "10m", "30m", "1h", "3h")
# The history pages (service, workload) look further back; 1m is too short for a chart.
HISTORY_WINDOWS: tuple[str, ...] = ("5m", "10m", "30m", "1h", "3h", "6h", "12h", "1d")
# Refresh choices, in seconds (0: off).
REFRESH: dict[str, int] = {"off": 0, "15s": 15, "30s": 30, "1m": 60}
# The topology is watched during incidents: it also offers 10 s.
FAST_REFRESH: dict[str, int] = {"off": 0, "10s": 10, "15s": 15, "30s": 30, "1m": 60}
# The overview and the lists refresh on a fixed beat (paused at a past instant).
LIST_REFRESH_S = 30


def control(label: str, component: Any, wide: bool = False) -> html.Label:
    """One labelled control of a page's control bar."""
    return html.Label(
        [html.Span(label, className="md-control-label"), component],
        className="md-control md-control-wide" if wide else "md-control",
    )


def control_bar(children: Sequence[Any], class_name: str = "md-controls") -> html.Div:
    return html.Div(list(children), className=class_name)


def window_options(windows: Sequence[str]) -> list[dict[str, str]]:
    return [{"label": f"Last {w}", "value": w} for w in windows]


def refresh_options(choices: Mapping[str, int]) -> list[dict[str, str]]:
    return [{"label": "Off" if k == "off" else f"Every {k}", "value": k} for k in choices]


def picker(id_: str, options: list[dict[str, str]], value: str) -> dcc.Dropdown:
    """A fixed-choice dropdown: no clearing, no typing."""
    return dcc.Dropdown(id=id_, options=options, value=value, clearable=False, searchable=False)


def window_control(
    id_: str, windows: Sequence[str], value: str, label: str = "Window"
) -> html.Label:
    return control(label, picker(id_, window_options(windows), value))


def refresh_control(
    id_: str, choices: Mapping[str, int], value: str, at: str | None = None
) -> html.Label:
    """The refresh choice; at a past instant it says paused and cannot be changed."""
    dropdown = picker(id_, refresh_options(choices), value)
    if at is not None:
        dropdown.options, dropdown.disabled = paused_options(value), True
    return control("Refresh", dropdown)


def paused_options(value: str) -> list[dict[str, str]]:
    """The refresh dropdown's one choice at a past instant (the choice kept for "now")."""
    return [{"label": "Paused (past time)", "value": value}]


def refresh_now(id_: str) -> html.Button:
    return html.Button("Refresh now", id=id_, className="md-button")


def timer_settings(
    choices: Mapping[str, int], refresh: str | None, at: str | None = None
) -> tuple[int, bool]:
    """(interval in ms, disabled) for a refresh choice; an unknown choice is off, and so is
    every choice at a past instant (the figures there never change)."""
    seconds = choices.get(refresh or "", 0)
    return max(seconds, 1) * 1000, seconds == 0 or at is not None


def refresh_timer(
    id_: str, choices: Mapping[str, int], refresh: str, at: str | None = None
) -> dcc.Interval:
    interval, disabled = timer_settings(choices, refresh, at)
    return dcc.Interval(id=id_, interval=interval, disabled=disabled)


def url_window(query: Mapping[str, Any], default: str) -> str:
    """Any valid duration from the URL (another page's 1m or 7m too), written the canonical
    way; else `default`."""
    try:
        raw = get_one(query, "window") or default
        return validate.format_duration(validate.duration_seconds(raw))
    except MeshdashError:
        return default


def url_at(query: Mapping[str, Any]) -> str | None:
    """A past instant from the URL (validated when the view is asked), or None for now."""
    try:
        return get_one(query, "at")
    except MeshdashError:
        return None


def time_note(at: str | None, refresh_s: int) -> str:
    """How often the figures refresh; nothing at a past instant, which the past banner
    (past_banner) already states with its time."""
    return f"Now · refreshes every {refresh_s} s" if at is None else ""


def register_refresh(
    app,
    timer_id: str,
    refresh_id: str,
    choices: Mapping[str, int],
    at_store: str | None = None,
) -> None:
    """The timer follows the refresh dropdown. With `at_store` (a Store holding the page's
    `at`, which the page may change, as the topology's replay does) the timer stops and the
    dropdown says paused whenever `at` is set."""
    if at_store is None:

        @app.callback(
            Output(timer_id, "interval"),
            Output(timer_id, "disabled"),
            Input(refresh_id, "value"),
        )
        def interval(refresh):
            return timer_settings(choices, refresh)

        return

    @app.callback(
        Output(timer_id, "interval"),
        Output(timer_id, "disabled"),
        Output(refresh_id, "options"),
        Output(refresh_id, "disabled"),
        Input(refresh_id, "value"),
        Input(at_store, "data"),
    )
    def interval_at(refresh, at):
        past = at or None
        options = paused_options(refresh) if past else refresh_options(choices)
        return (*timer_settings(choices, refresh, past), options, past is not None)


# --- the end time: now, or a past instant -------------------------------------------------------


def past_text(at: str | None) -> str:
    """The banner's words for a past instant; "" for now."""
    if not at:
        return ""
    shown = typed_text(at)
    if not shown:
        return f"The time in the address ({at}) is not a valid time"
    return f"Viewing {shown} UTC: auto-refresh paused"


def time_control(prefix: str, at: str | None) -> html.Div:
    """The end time of what the page shows: empty for now, or a UTC date and time (the URL
    keeps it as `at=`, UNIX seconds). Enter or "Go" opens the page at that time."""
    return html.Div(
        [
            control(
                "Ends at (UTC)",
                html.Div(
                    [
                        dcc.Input(
                            id=f"{prefix}-end",
                            type="text",
                            value=typed_text(at),
                            className="md-time-input",
                            placeholder="now",
                            spellCheck=False,
                            autoComplete="off",
                        ),
                        html.Button("Go", id=f"{prefix}-end-go", className="md-button"),
                    ],
                    className="md-time-row",
                    title="Empty for now, or a UTC time: YYYY-MM-DD HH:MM[:SS]",
                ),
            ),
            html.Span(id=f"{prefix}-end-error", className="md-time-error", role="alert"),
            dcc.Store(id=f"{prefix}-goto"),
        ],
        className="md-time-control",
    )


def past_banner(prefix: str, at: str | None) -> html.Div:
    """ "Viewing <time> UTC: auto-refresh paused" and "Back to now"; hidden at now."""
    return html.Div(
        [
            html.Span(className="md-past-icon", **{"aria-hidden": "true"}),
            html.Span(past_text(at), id=f"{prefix}-past-text"),
            html.Button("Back to now", id=f"{prefix}-now", className="md-button md-past-now"),
        ],
        id=f"{prefix}-past",
        className="md-past-banner",
        role="status",
        hidden=not at,
    )


def goto_at(typed: str | None, back_to_now: bool) -> dict[str, str | None]:
    """Where the picker sends the page: {"at": UNIX seconds as text, or None for now}.
    Raises BadRequest (field "at") for a typed time that is not one."""
    if back_to_now:
        return {"at": None}
    at = typed_instant(typed, services().clock())
    if at is None:
        return {"at": None}
    return {"at": str(int(at)) if at == int(at) else repr(at)}


def register_time(app, prefix: str, at_store: str | None = None, drop: Sequence[str] = ()) -> None:
    """The picker's callbacks: a typed time or "Back to now" reopens the page with `at` set
    or cleared (and the `drop` parameters removed), so every figure is asked again at that
    time; a time that is not one says why, in words, and changes nothing. With `at_store`
    the banner follows a page that changes its own `at` (the topology's replay)."""

    @app.callback(
        Output(f"{prefix}-goto", "data"),
        Output(f"{prefix}-end-error", "children"),
        Input(f"{prefix}-end-go", "n_clicks"),
        Input(f"{prefix}-end", "n_submit"),
        Input(f"{prefix}-now", "n_clicks"),
        State(f"{prefix}-end", "value"),
        prevent_initial_call=True,
    )
    def go(_go, _submit, _now, typed):
        try:
            return goto_at(typed, ctx.triggered_id == f"{prefix}-now"), ""
        except MeshdashError as exc:
            return no_update, str(exc)

    app.clientside_callback(
        """
        function(goto) {
            if (!goto) { return window.dash_clientside.no_update; }
            const p = new URLSearchParams(window.location.search);
            if (goto.at) { p.set('at', goto.at); } else { p.delete('at'); }
            """
        + json.dumps(list(drop))
        + """.forEach(k => p.delete(k));
            const q = p.toString();
            window.location.assign(window.location.pathname + (q ? '?' + q : ''));
            return '';
        }
        """,
        Output(f"{prefix}-end-error", "title"),
        Input(f"{prefix}-goto", "data"),
        prevent_initial_call=True,
    )
    if at_store is None:
        return

    @app.callback(
        Output(f"{prefix}-past-text", "children"),
        Output(f"{prefix}-past", "hidden"),
        Output(f"{prefix}-end", "value"),
        Input(at_store, "data"),
    )
    def past(at):
        return past_text(at), not at, typed_text(at)


# --- the page's state in the address bar ---------------------------------------------------------

How = Literal["if_set", "always", "each", "joined", "on_flag"]


@dataclass(frozen=True, slots=True)
class UrlParam:
    """One query parameter kept in the URL, read from a component's property.

    how: "if_set" (only when non-empty), "always", "each" (a list, one parameter per item),
    "joined" (a list, comma-separated, only when non-empty), "on_flag" (a checklist holding
    "on" sets the parameter to "on"). `field` reads one key of a dict-valued property (a Store);
    `state` reads it without triggering the sync.
    """

    name: str
    component: str
    prop: str = "value"
    how: How = "if_set"
    field: str | None = None
    state: bool = False


_REPLACE = """
            const url = window.location.pathname + '?' + p.toString();
            if (url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, '', url);
            }
            return '';"""


def _setter(param: UrlParam, arg: str) -> str:
    name = json.dumps(param.name)
    value = f"{arg}[{json.dumps(param.field)}]" if param.field else arg
    guard = f"{arg} && " if param.field else ""
    return {
        "if_set": f"if ({guard}{value}) {{ p.set({name}, {value}); }}",
        "always": f"p.set({name}, {value});",
        "each": f"({value} || []).forEach(x => p.append({name}, x));",
        "joined": f"if ({guard}{value} && {value}.length) {{ p.set({name}, {value}.join(',')); }}",
        "on_flag": f"if (({value} || []).includes('on')) {{ p.set({name}, 'on'); }}",
    }[param.how]


def url_sync_script(params: Sequence[UrlParam]) -> tuple[str, list[tuple[str, str, bool]]]:
    """The clientside function and its arguments (component, prop, state), one per property."""
    keys = list(dict.fromkeys((p.component, p.prop, p.state) for p in params))
    args = [k for k in keys if not k[2]] + [k for k in keys if k[2]]  # Dash: inputs, then states
    lines = [_setter(p, f"a{args.index((p.component, p.prop, p.state))}") for p in params]
    names = ", ".join(f"a{k}" for k in range(len(args)))
    body = "\n            ".join(lines)
    script = f"""
        function({names}) {{
            const p = new URLSearchParams();
            {body}{_REPLACE}
        }}
        """
    return script, args


def register_url_sync(
    app, sink_id: str, params: Sequence[UrlParam], sink_prop: str = "children"
) -> None:
    """Keep `params` in the URL; the callback writes "" to `sink_id`'s `sink_prop`."""
    script, args = url_sync_script(params)
    inputs = [State(c, p) if state else Input(c, p) for c, p, state in args]
    app.clientside_callback(script, Output(sink_id, sink_prop), *inputs)


def register_url_param(app, sink_id: str, name: str, component: str, prop: str) -> None:
    """Keep one parameter in the URL (set, or removed when empty), the others as they are:
    for a page whose other parameters are fixed when it opens (the trace's `span=`)."""
    app.clientside_callback(
        """
        function(value) {
            const p = new URLSearchParams(window.location.search);
            if (value) { p.set("""
        + json.dumps(name)
        + """, value); } else { p.delete("""
        + json.dumps(name)
        + """); }"""
        + _REPLACE
        + """
        }
        """,
        Output(sink_id, "children"),
        Input(component, prop),
    )


def register_url_from_query(app, sink_id: str, store_id: str) -> None:
    """Put a Store's `query` (the parameters the view answered for) in the URL."""
    app.clientside_callback(
        """
        function(data) {
            if (!data || !data.query) { return window.dash_clientside.no_update; }
            const p = new URLSearchParams(data.query);"""
        + _REPLACE
        + """
        }
        """,
        Output(sink_id, "children"),
        Input(store_id, "data"),
    )
