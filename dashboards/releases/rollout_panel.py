"""The releases page's guided rollout card: start one (with a preview of every step), follow the
running one (step, next check, time left, past steps with their verdicts), and steer it.

Callbacks translate between the page and views.rollouts; every rule lives there, so the API and
the page behave alike. Writing callbacks call security.require_writer (identity and CSRF).
"""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from access import security
from dashboards.components.banner import error_banner, info_banner
from dashboards.components.release_view import refusal_banner
from mesh.errors import MeshdashError, NotFound
from mesh.releases.rollout_plan import DEFAULT_STEPS, FINISHED
from views.rollouts import control, rollout_detail, start_rollout
from wiring.services import services

STATE_CLASS = {
    "running": "md-chip md-chip-healthy",
    "paused": "md-chip md-chip-degraded",
    "promoted": "md-chip md-chip-healthy",
    "rolled_back": "md-chip md-chip-failure",
    "aborted": "md-chip md-chip-idle",
}
VERDICT_CLASS = {
    "promote": "ro-verdict-good",
    "continue": "ro-verdict-good",
    "rollback": "ro-verdict-bad",
    "hold": "ro-verdict-wait",
}


def parse_steps(text: str | None) -> list[int] | str:
    """The steps typed as "10, 25, 50, 100"; a plain-words problem instead when unreadable."""
    parts = [p.strip() for p in (text or "").replace(";", ",").split(",") if p.strip()]
    if not parts:
        return "type the canary's weight at each step, e.g. 10, 25, 50, 100"
    try:
        return [int(p) for p in parts]
    except ValueError:
        return f"steps must be whole numbers separated by commas; got {text!r}"


def step_preview(
    steps: list[int], bake_s: int | None, baseline: str | None, canary: str | None
) -> list[str]:
    """One line per step: the split it sets, and what happens at its end."""
    if not baseline or not canary or baseline == canary:
        return ["Choose a stable and a canary version above."]
    out = []
    for i, w in enumerate(steps, start=1):
        split = f"{baseline} {100 - w} % · {canary} {w} %"
        if i == len(steps):
            out.append(f"Step {i}: {split}; the rollout is then promoted.")
        else:
            out.append(
                f"Step {i}: {split}; after {bake_s or '?'} s, the verdict decides: promote or "
                "continue goes on, hold waits, rollback follows the plan."
            )
    return out


def card() -> html.Div:
    """The card's static part; contents are filled by the callbacks below."""
    return html.Div(
        [
            html.H3("Guided rollout"),
            html.P(
                "meshdash steps the weights on the same verdict as the canary analysis above, "
                "pauses or rolls back by itself, and keeps going after a restart. You can "
                "pause, skip or abort at any time.",
                className="md-hint",
            ),
            html.Div(id="ro-status"),
            html.Div(
                [
                    html.Label(
                        [
                            html.Span("Steps (canary %)", className="rel-field-label"),
                            dcc.Input(
                                id="ro-steps", value=", ".join(str(s) for s in DEFAULT_STEPS)
                            ),
                        ],
                        className="rel-field",
                    ),
                    html.Label(
                        [
                            html.Span("Bake time per step (s)", className="rel-field-label"),
                            dcc.Input(id="ro-bake", type="number", value=300, min=1, step=1),
                        ],
                        className="rel-field",
                    ),
                    html.Label(
                        [
                            html.Span("Minimum requests per step", className="rel-field-label"),
                            dcc.Input(id="ro-min", type="number", value=100, min=1, step=1),
                        ],
                        className="rel-field",
                    ),
                    html.Label(
                        [
                            html.Span("If a step fails", className="rel-field-label"),
                            dcc.RadioItems(
                                id="ro-on-failure",
                                options=[
                                    {"label": "roll back", "value": "rollback"},
                                    {"label": "pause for a person", "value": "pause"},
                                ],
                                value="rollback",
                                inline=True,
                                labelClassName="ro-radio",
                            ),
                        ],
                        className="rel-field",
                    ),
                    html.Label(
                        [
                            html.Span("Reason", className="rel-field-label"),
                            dcc.Input(id="ro-reason", placeholder="e.g. release 2.4"),
                        ],
                        className="rel-field",
                    ),
                ],
                className="rel-roles ro-form",
            ),
            html.Ol(id="ro-preview", className="ro-preview"),
            html.Button(
                "Start guided rollout", id="ro-start", className="md-button md-button-primary"
            ),
            dcc.Store(id="ro-revision", data=0),
        ],
        className="md-card ro-card",
        id="ro-card",
    )


def _when(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t)) + " UTC" if t else "—"


def _split_text(weights: dict[str, int]) -> str:
    return " · ".join(f"{v} {w} %" for v, w in weights.items()) or "not written yet"


def status_view(body: dict[str, Any]) -> html.Div:
    """The rollout as it stands: state, step, next check, time left, why, and its history."""
    state = body["state"]
    facts = [
        html.Span(
            state.replace("_", " "), className=STATE_CLASS.get(state, "md-chip md-chip-idle")
        ),
        html.Span(
            f" {body['canary']} replacing {body['baseline']}: step {body['step']} of "
            f"{body['steps_total']}; last written {_split_text(body['weights'])}"
        ),
    ]
    lines = [html.P(facts, id="ro-state", **{"data-state": state})]
    if state == "running" and body.get("next_check"):
        lines.append(
            html.P(
                f"Next check {_when(body['next_check'])} (in {body['time_left_s']} s); "
                f"bake {body['bake_s']} s per step, at least {body['min_requests']} requests.",
                className="md-hint",
            )
        )
    if body.get("why"):
        lines.append(html.P(body["why"], className="md-hint", id="ro-why"))
    rows = [
        html.Tr(
            [
                html.Td(_when(h["t"])),
                html.Td(_split_text(h["weights"])),
                html.Td(
                    h["verdict"].replace("_", " "), className=VERDICT_CLASS.get(h["verdict"], "")
                ),
                html.Td((h.get("reasons") or [""])[0], className="rel-small"),
            ]
        )
        for h in reversed(body.get("history") or [])
    ]
    if rows:
        lines.append(
            html.Table(
                [
                    html.Thead(
                        html.Tr([html.Th(t) for t in ("When", "Weights", "Verdict", "Why")])
                    ),
                    html.Tbody(rows),
                ],
                className="md-table ro-history",
            )
        )
    if state not in FINISHED:
        buttons = [
            ("pause", "Pause", state != "running"),
            ("resume", "Resume", state != "paused"),
            ("skip", "Skip to next step", body["step"] >= body["steps_total"]),
            ("abort", "Abort (keep weights)", False),
            ("abort-rollback", "Abort and roll back", False),
        ]
        lines.append(
            html.Div(
                [
                    html.Button(
                        label,
                        id={"type": "ro-cmd", "cmd": key},
                        className="md-button md-button-danger"
                        if key == "abort-rollback"
                        else "md-button",
                        disabled=disabled,
                    )
                    for key, label, disabled in buttons
                ],
                className="rel-buttons",
            )
        )
    return html.Div(lines, className="ro-status")


def register_rollout_callbacks(app: Any) -> None:
    @app.callback(
        Output("ro-preview", "children"),
        Input("ro-steps", "value"),
        Input("ro-bake", "value"),
        Input("rel-stable", "value"),
        Input("rel-canary", "value"),
    )
    def preview(steps_text, bake, stable, canary):
        steps = parse_steps(steps_text)
        if isinstance(steps, str):
            return [html.Li(steps, className="rel-sum-bad")]
        return [html.Li(line) for line in step_preview(steps, bake, stable, canary)]

    @app.callback(
        Output("ro-status", "children"),
        Output("ro-start", "disabled"),
        Input("rel-service", "data"),
        Input("rel-interval", "n_intervals"),
        Input("rel-revision", "data"),
        Input("ro-revision", "data"),
        State("rel-namespace", "value"),
    )
    def status(service, _n, _rev, _ro_rev, namespace):
        if not service:
            return None, True
        try:
            body = rollout_detail(services(), namespace, service)
        except NotFound:
            return html.P("No guided rollout of this service yet.", className="md-hint"), False
        except MeshdashError as exc:
            return error_banner(exc), True
        return status_view(body), body["state"] not in FINISHED

    @app.callback(
        Output("rel-banner", "children", allow_duplicate=True),
        Output("ro-revision", "data"),
        Input("ro-start", "n_clicks"),
        Input({"type": "ro-cmd", "cmd": ALL}, "n_clicks"),
        State("rel-namespace", "value"),
        State("rel-service", "data"),
        State("rel-stable", "value"),
        State("rel-canary", "value"),
        State("ro-steps", "value"),
        State("ro-bake", "value"),
        State("ro-min", "value"),
        State("ro-on-failure", "value"),
        State("ro-reason", "value"),
        State("ro-revision", "data"),
        prevent_initial_call=True,
    )
    def act(
        _start, _cmds, namespace, service, stable, canary, steps, bake, least, on_fail, reason, rev
    ):
        if not ctx.triggered or not ctx.triggered[0]["value"] or not service:
            return no_update, no_update
        svc = services()
        trigger = ctx.triggered_id
        try:
            identity = security.require_writer(svc.settings)
            if trigger == "ro-start":
                parsed = parse_steps(steps)
                payload = {
                    "canary": canary,
                    "baseline": stable,
                    "steps": parsed if isinstance(parsed, list) else steps,
                    "bake_s": bake,
                    "min_requests": least,
                    "on_failure": on_fail,
                    "reason": reason or "",
                }
                body = start_rollout(svc, namespace, service, payload, identity)
                done = f"Guided rollout started: step 1 of {body['steps_total']} is applied."
            else:
                cmd = trigger["cmd"]
                command = "abort" if cmd == "abort-rollback" else cmd
                body = control(
                    svc,
                    namespace,
                    service,
                    command,
                    {"rollback": cmd == "abort-rollback"},
                    identity,
                )
                done = f"Rollout {command}: now {body['state'].replace('_', ' ')}."
        except MeshdashError as exc:
            return refusal_banner(exc), (rev or 0) + 1
        return info_banner(done), (rev or 0) + 1
