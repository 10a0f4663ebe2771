"""Releases page: shift a service's traffic between versions safely, beside the numbers that justify it.

Every control previews first (a server-side dry run and the YAML diff, in a dialog), then applies on
Confirm, carrying the resourceVersions the preview was computed from: a change someone made in
between is a 409 that shows their change instead of being overwritten. Writing callbacks call
security.require_writer, so Dash's POSTs pass the same identity and CSRF checks as the API.
URL state: ?namespace=&service= (and, from the canary review, &action=promote|step|rollback with
&baseline=&canary=, which opens that action's preview).
"""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from access import security
from dashboards.components.banner import error_banner, info_banner
from dashboards.components.canary_panel import verdict_panel
from dashboards.components.controls import control
from dashboards.components.release_forms import (
    BUTTONS,
    DEEP_ACTIONS,
    FORM_BUTTONS,
    POLICY_LABELS,
    POLICY_SECTIONS,
    action_payload,
    button_label,
    current_policy,
    default_roles,
    policy_values,
    retire_target,
    review_link,
    weight_sum,
)
from dashboards.components.release_view import (
    audit_table,
    conflict_dialog,
    figures_table,
    latest_figures,
    match_routes,
    mirror_state,
    preview_dialog,
    refusal_banner,
    route_api_tag,
    service_list,
    split_bar,
)
from dashboards.components.rollout_panel import card as rollout_card
from dashboards.components.rollout_panel import register_rollout_callbacks
from mesh.errors import Conflict, Forbidden, MeshdashError
from mesh.routing.match import MATCH_KINDS, MATCH_TYPES
from mesh.routing.policy import POLICY_FIELDS
from presentation.charts import version_colors
from usecases.release_guard import AgainstVerdict
from views.canary import parse_canary_params
from views.history import metrics_view, parse_metrics_params
from views.params import get_one
from views.release_actions import button_states
from views.review import ReviewParams, release_roles, verdict_view
from views.routes import audit_list, change_route, route_detail, routes_list
from wiring.services import services

FIGURES_WINDOW = "1m"  # short, so the figures follow a shift within a refresh or two
AUDIT_ROWS = 30
ALL_BUTTONS: tuple[str, ...] = (*BUTTONS, *FORM_BUTTONS)
POLICY_IDS: list[dict[str, str]] = [
    {"type": "rel-pol", "section": section, "field": key}
    for section, fields in POLICY_FIELDS.items()
    for key in fields
]
POLICY_KINDS: list[str] = [
    k for fields in POLICY_FIELDS.values() for (_p, k, _l) in fields.values()
]


def _safe(query: dict[str, Any], key: str) -> str | None:
    try:
        return get_one(query, key)
    except MeshdashError:
        return None


def _btn_class(key: str) -> str:
    return {"rollback": "md-button md-button-danger"}.get(key, "md-button")


def takeover_class(verdict: str | None) -> str:
    """Take over is the primary button only when the evidence says promote."""
    return "md-button md-button-primary" if verdict == "promote" else "md-button"


def _policy_hint(kind: str) -> str:
    return {"duration": "e.g. 30s", "percent": "0–100"}.get(kind, "whole number")


def _field(label: str, component: Any) -> html.Label:
    return html.Label(
        [html.Span(label, className="rel-field-label"), component], className="rel-field"
    )


def layout(**query: Any) -> html.Div:
    svc = services()
    namespace = _safe(query, "namespace") or svc.settings.default_namespaces[0]
    roles = {"stable": _safe(query, "baseline"), "canary": _safe(query, "canary")}
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Releases"),
                    html.P(
                        "Shift traffic between a service's versions. Every change is previewed "
                        "(server-side dry run and diff) before it is applied, and recorded in the "
                        "audit history.",
                        className="md-hint",
                    ),
                ]
            ),
            html.Div(
                [
                    control(
                        "Namespace", dcc.Input(id="rel-namespace", value=namespace, debounce=True)
                    ),
                    html.Div(
                        [
                            html.Span(
                                "Services with two or more versions", className="md-control-label"
                            ),
                            html.Div(id="rel-services"),
                        ],
                        className="rel-services",
                    ),
                ],
                className="md-controls rel-controls",
            ),
            html.Div(id="rel-banner", className="rel-banner"),
            html.Div(_body(), id="rel-body", style={"display": "none"}),
            html.Div(id="rel-preview"),
            dcc.Store(id="rel-service", data=_safe(query, "service") or None),
            dcc.Store(id="rel-roles-init", data=roles),
            dcc.Store(id="rel-pending"),
            dcc.Store(id="rel-revision", data=0),
            dcc.Store(id="rel-deep-action", data=_safe(query, "action") or ""),
            dcc.Store(id="rel-deep-go"),
            dcc.Interval(id="rel-interval", interval=svc.settings.refresh_interval_s * 1000),
        ],
        className="md-page md-page-releases",
    )


def _split_card() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H3(id="rel-title"),
                    html.Div(
                        [
                            _field("Stable (old)", dcc.Dropdown(id="rel-stable", clearable=False)),
                            _field("Canary (new)", dcc.Dropdown(id="rel-canary", clearable=False)),
                        ],
                        className="rel-roles",
                    ),
                ],
                className="rel-card-head",
            ),
            html.Div(id="rel-split"),
            html.Div(id="rel-figures"),
            html.P(id="rel-figures-note", className="md-hint rel-small"),
            html.Div(
                [
                    html.Button(
                        button_label(k, None, None), id=f"rel-btn-{k}", className=_btn_class(k)
                    )
                    for k in BUTTONS
                ],
                className="rel-buttons",
            ),
        ],
        className="md-card rel-card rel-card-wide",
    )


def _weights_card() -> html.Div:
    return html.Div(
        [
            html.H3("Exact weights"),
            html.P("Whole numbers from 0 to 100 that add up to 100.", className="md-hint"),
            html.Div(id="rel-weight-inputs", className="rel-weights"),
            html.Div(id="rel-weight-sum", className="rel-sum"),
            html.Button("Preview weights", id="rel-btn-weights", className="md-button"),
        ],
        className="md-card rel-card",
    )


def _match_card() -> html.Div:
    return html.Div(
        [
            html.H3("Canary by request content"),
            html.P(
                "Matching requests go to the chosen version; everyone else stays on the split.",
                className="md-hint",
            ),
            html.Div(id="rel-matches-box"),
            html.Div(
                [
                    _field(
                        "Match on",
                        dcc.Dropdown(
                            id="rel-match-kind",
                            options=list(MATCH_KINDS),
                            value="header",
                            clearable=False,
                        ),
                    ),
                    _field(
                        "Header or cookie name",
                        dcc.Input(id="rel-match-name", placeholder="e.g. end-user"),
                    ),
                    _field(
                        "Match type",
                        dcc.Dropdown(
                            id="rel-match-type",
                            options=list(MATCH_TYPES),
                            value="exact",
                            clearable=False,
                        ),
                    ),
                    _field("Value", dcc.Input(id="rel-match-value", placeholder="e.g. jason")),
                    _field(
                        "Send to version", dcc.Dropdown(id="rel-match-version", clearable=False)
                    ),
                ],
                className="rel-form",
            ),
            html.Button("Preview match route", id="rel-btn-match", className="md-button"),
        ],
        className="md-card rel-card",
    )


def _mirror_card() -> html.Div:
    return html.Div(
        [
            html.H3("Mirroring"),
            html.P(
                "Copy a share of live traffic to a version without live traffic; its answers are "
                "discarded.",
                className="md-hint",
            ),
            html.Div(id="rel-mirror-box"),
            html.Div(
                [
                    _field(
                        "Copy to version",
                        dcc.Dropdown(
                            id="rel-mirror-version",
                            clearable=False,
                            placeholder="none without traffic",
                        ),
                    ),
                    _field(
                        "% of live traffic",
                        dcc.Input(id="rel-mirror-percent", type="number", value=10),
                    ),
                ],
                className="rel-form",
            ),
            html.Div(
                [
                    html.Button("Preview mirroring", id="rel-btn-mirror", className="md-button"),
                    html.Button("Stop mirroring", id="rel-btn-mirror-stop", className="md-button"),
                ],
                className="rel-buttons",
            ),
        ],
        className="md-card rel-card",
    )


def _policy_card() -> html.Div:
    return html.Div(
        [
            html.H3("Traffic policy (DestinationRule)"),
            html.P(
                "Fill only what you want to change; empty fields keep their current value "
                "(shown in grey).",
                className="md-hint",
            ),
            html.Div(
                [
                    html.Fieldset(
                        [
                            html.Legend(POLICY_SECTIONS[section]),
                            *[
                                _field(
                                    POLICY_LABELS.get(key, key),
                                    dcc.Input(
                                        id={"type": "rel-pol", "section": section, "field": key},
                                        placeholder=_policy_hint(kind),
                                    ),
                                )
                                for key, (_path, kind, _low) in fields.items()
                            ],
                        ],
                        className="rel-fieldset",
                    )
                    for section, fields in POLICY_FIELDS.items()
                ],
                className="rel-policy",
            ),
            html.Button("Preview policy", id="rel-btn-policy", className="md-button"),
        ],
        className="md-card",
    )


def _body() -> list[Any]:
    return [
        html.Div(id="rel-why-not"),
        html.Div([_split_card(), _weights_card()], className="rel-row"),
        # The verdict sits under the split it judges: read it before pressing the next step.
        html.Div([html.H3("Canary analysis"), html.Div(id="rel-review")], className="md-card"),
        rollout_card(),
        html.Div([_match_card(), _mirror_card()], className="rel-row"),
        _policy_card(),
        html.Div([html.H3("Audit history"), html.Div(id="rel-audit")], className="md-card"),
    ]


def write_note(detail: dict[str, Any]) -> html.Div | None:
    """Why nothing can be changed here, in the words the model gives (the owner named)."""
    if detail.get("writable"):
        if detail.get("problem"):
            return html.Div(
                f"The split cannot be shifted here: {detail['problem']}",
                className="md-banner md-banner-warning",
                id="rel-why-not-text",
            )
        return None
    prefix = "Read-only" if detail.get("owner") else "Changes are disabled"
    return html.Div(
        [
            html.Strong(prefix + ": "),
            html.Span(detail.get("why_not") or "you may not change routes"),
            html.Span(". Everything is shown; the buttons are off.", className="rel-small"),
        ],
        className="md-banner md-banner-warning",
        id="rel-why-not-text",
        role="note",
    )


def _review(
    namespace: str, service: str, stable: str | None, canary: str | None
) -> tuple[Any, str | None]:
    """The canary's verdict for the chosen pair, before the next step (2 cached queries), with
    the way into the full review, and the verdict word; a failing backend is a banner with the
    link kept."""
    href = review_link(namespace, service, stable, canary)
    if not stable or not canary or stable == canary:
        return html.P(
            ["Choose two different versions to compare. ", dcc.Link("Release review", href=href)],
            className="md-hint",
        ), None
    args = {"namespace": namespace, "service": service, "baseline": stable, "canary": canary}
    try:
        summary = verdict_view(services(), ReviewParams(parse_canary_params(args)))
    except Exception as exc:  # every failure is a banner, never a traceback
        return [error_banner(exc), dcc.Link("Open the release review", href=href)], None
    return verdict_panel(summary, href, "rel-cv"), summary["analysis"]["verdict"]


def _weight_inputs(weights: dict[str, int]) -> list[html.Label]:
    return [
        html.Label(
            [
                html.Span(v),
                # No min/max: a browser turns an out-of-range number into None, and the
                # refusal must name the value typed (-10), not "nothing".
                dcc.Input(id={"type": "rel-w", "version": v}, type="number", step=1, value=w),
            ],
            className="rel-weight",
        )
        for v, w in weights.items()
    ]


def _placeholders(policy: dict[str, Any] | None) -> list[str]:
    now = current_policy(policy)
    return [
        f"now {now[(i['section'], i['field'])]}"
        if (i["section"], i["field"]) in now
        else f"not set · {_policy_hint(k)}"
        for i, k in zip(POLICY_IDS, POLICY_KINDS, strict=True)
    ]


def register_callbacks(app) -> None:
    register_rollout_callbacks(app)  # the guided rollout card

    @app.callback(
        Output("rel-services", "children"),
        Output("rel-service", "data"),
        Output("rel-banner", "children", allow_duplicate=True),
        Input("rel-namespace", "value"),
        Input("rel-revision", "data"),
        State("rel-service", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def list_services(namespace, _rev, current):
        svc = services()
        try:
            body = routes_list(svc, namespace or "", security.current_identity(svc.settings))
        except Exception as exc:
            return None, None, error_banner(exc)
        several = [s for s in body["services"] if len(s.get("versions") or []) >= 2]
        names = [s["service"] for s in several]
        if not names:
            empty = html.P(
                f"No service in {body['namespace']} has two or more versions. Deploy a second "
                "version (a Deployment with another `version` label) to release it here.",
                className="md-hint",
                id="rel-empty",
            )
            return empty, None, None
        chosen = current if current in names else names[0]
        banner: Any = no_update
        if current and current not in names:
            banner = info_banner(
                f"{current} has fewer than two versions in {body['namespace']}; showing {chosen}."
            )
        return (
            service_list(several, body["namespace"], chosen),
            chosen if chosen != current else no_update,
            banner,
        )

    @app.callback(
        Output("rel-body", "style"),
        Output("rel-title", "children"),
        Output("rel-stable", "options"),
        Output("rel-stable", "value"),
        Output("rel-canary", "options"),
        Output("rel-canary", "value"),
        Output("rel-weight-inputs", "children"),
        Output("rel-matches-box", "children"),
        Output("rel-match-version", "options"),
        Output("rel-match-version", "value"),
        Output("rel-mirror-box", "children"),
        Output("rel-mirror-version", "options"),
        Output("rel-mirror-version", "value"),
        Output({"type": "rel-pol", "section": ALL, "field": ALL}, "placeholder"),
        Output("rel-why-not", "children"),
        Output("rel-audit", "children"),
        Output("rel-deep-go", "data"),
        Output("rel-deep-action", "data"),
        *[Output(f"rel-btn-{k}", "disabled") for k in FORM_BUTTONS],
        Input("rel-service", "data"),
        Input("rel-revision", "data"),
        State("rel-namespace", "value"),
        State("rel-stable", "value"),
        State("rel-canary", "value"),
        State("rel-roles-init", "data"),
        State("rel-deep-action", "data"),
    )
    def show(service, _rev, namespace, stable, canary, roles_init, deep):
        n = len(FORM_BUTTONS)
        blank = ({"display": "none"}, "", [], None, [], None, [], None, [], None, None, [], None)
        placeholders = _placeholders(None)
        if not service:
            return (*blank, placeholders, None, None, no_update, no_update, *[True] * n)
        svc = services()
        try:
            detail = route_detail(svc, namespace, service, security.current_identity(svc.settings))
        except Exception as exc:
            banner = error_banner(exc)
            return (*blank, placeholders, banner, None, no_update, no_update, *[True] * n)
        weights = {v: int(detail["weights"].get(v, 0)) for v in detail["versions"]}
        init = roles_init or {}
        if ctx.triggered_id == "rel-revision":  # an apply: the roles follow the new split
            stable = canary = None
        else:
            stable, canary = stable or init.get("stable"), canary or init.get("canary")
        try:
            _, live_stable, live_canary = release_roles(svc, namespace, service)
        except MeshdashError:
            live_stable = live_canary = None
        stable, canary = default_roles(weights, stable or live_stable, canary or live_canary)
        versions = list(weights)
        writable = bool(detail.get("writable"))
        idle = [v for v, w in weights.items() if w == 0]
        try:
            entries = audit_list(svc, namespace, service, AUDIT_ROWS)["entries"]
            audit_view: Any = audit_table(entries)
        except Exception as exc:
            audit_view = error_banner(exc)
        go = {"button": DEEP_ACTIONS[deep], "at": time.time()} if deep in DEEP_ACTIONS else None
        disabled = [not writable] * n
        if not detail.get("mirrors"):
            disabled[FORM_BUTTONS.index("mirror-stop")] = True
        if detail.get("api") == "HTTPRoute":  # a traffic policy lives in a DestinationRule
            disabled[FORM_BUTTONS.index("policy")] = True
        title = [
            "Traffic split · ",
            html.Span(f"{detail['namespace']}/{service}", className="rel-mono"),
            " ",
            route_api_tag(detail),
        ]
        return (
            {"display": "flex"},
            title,
            versions,
            stable,
            versions,
            canary,
            _weight_inputs(weights),
            match_routes(detail.get("matches") or [], writable),
            versions,
            canary,
            mirror_state(detail.get("mirrors") or []),
            idle,
            canary if canary in idle else (idle[0] if idle else None),
            _placeholders(detail.get("policy")),
            write_note(detail),
            audit_view,
            go,
            "" if deep else no_update,
            *disabled,
        )

    @app.callback(
        Output("rel-split", "children"),
        Output("rel-figures", "children"),
        Output("rel-figures-note", "children"),
        Input("rel-service", "data"),
        Input("rel-stable", "value"),
        Input("rel-canary", "value"),
        Input("rel-interval", "n_intervals"),
        Input("rel-revision", "data"),
        State("rel-namespace", "value"),
    )
    def live(service, stable, canary, _n, _rev, namespace):
        if not service:
            return None, None, ""
        svc = services()
        try:
            detail = route_detail(svc, namespace, service, security.current_identity(svc.settings))
        except Exception as exc:
            return error_banner(exc), None, ""
        weights = {v: int(detail["weights"].get(v, 0)) for v in detail["versions"]}
        colours = version_colors(list(weights))
        note: list[Any] = []
        if not detail.get("routed"):
            note.append(
                "No VirtualService routes this service yet: traffic is spread over every "
                "version. The first change creates the route. "
            )
        try:
            params = parse_metrics_params(
                {"namespace": namespace, "service": service, "window": FIGURES_WINDOW}
            )
            body = metrics_view(svc, params)
            summary = latest_figures(body)
            end = time.gmtime(body.get("end") or time.time())
            note.append(
                f"Live: rates over the last {body.get('rate_interval', FIGURES_WINDOW)}, refreshed "
                f"every {svc.settings.refresh_interval_s}s; as of "
                f"{time.strftime('%H:%M:%S UTC', end)}."
            )
        except Exception as exc:  # the split still shows without live figures; say why
            summary = {}
            note.append(error_banner(exc))
        table = figures_table(
            weights,
            summary,
            stable=stable,
            canary=canary,
            subsets=detail.get("subsets") or [],
            window=FIGURES_WINDOW,
            colours=colours,
        )
        return split_bar(weights, colours, bar_id="rel-bar"), table, note

    @app.callback(
        Output("rel-review", "children"),
        Output("rel-btn-takeover", "className"),
        Input("rel-stable", "value"),
        Input("rel-canary", "value"),
        Input("rel-interval", "n_intervals"),
        Input("rel-revision", "data"),
        State("rel-namespace", "value"),
        State("rel-service", "data"),
    )
    def review(stable, canary, _tick, _rev, namespace, service):
        if not service:
            return None, takeover_class(None)
        panel, verdict = _review(namespace, service, stable, canary)
        return panel, takeover_class(verdict)

    @app.callback(
        *[Output(f"rel-btn-{k}", "children") for k in BUTTONS],
        *[Output(f"rel-btn-{k}", "disabled") for k in BUTTONS],
        *[Output(f"rel-btn-{k}", "title") for k in BUTTONS],
        Input("rel-stable", "value"),
        Input("rel-canary", "value"),
        Input("rel-revision", "data"),
        State("rel-namespace", "value"),
        State("rel-service", "data"),
    )
    def labels(stable, canary, _rev, namespace, service):
        """Labels name the versions; a button that would change nothing, or that the model
        would refuse, is disabled with the reason as its tooltip."""
        n = len(BUTTONS)
        if not service:
            return [*[button_label(k, stable, canary) for k in BUTTONS], *[True] * n, *[""] * n]
        svc = services()
        try:
            detail = route_detail(svc, namespace, service, security.current_identity(svc.settings))
            weights = {v: int(detail["weights"].get(v, 0)) for v in detail["versions"]}
            retire = retire_target(weights, stable, canary)
            payloads = {
                k: action_payload(k, stable=stable, canary=canary, form={"version": retire})
                for k in BUTTONS
            }
            why = button_states(svc, namespace, service, payloads)
        except MeshdashError as exc:
            text = str(getattr(exc, "message", None) or exc)
            return [*[button_label(k, stable, canary) for k in BUTTONS], *[True] * n, *[text] * n]
        if not detail.get("writable"):
            why = {k: detail.get("why_not") or "changes are disabled" for k in BUTTONS}
        return [
            *[button_label(k, stable, canary, retire) for k in BUTTONS],
            *[bool(why[k]) for k in BUTTONS],
            *[why[k] and f"Not available: {why[k]}" for k in BUTTONS],
        ]

    @app.callback(
        Output("rel-weight-sum", "children"),
        Input({"type": "rel-w", "version": ALL}, "value"),
        State({"type": "rel-w", "version": ALL}, "id"),
    )
    def show_sum(values, ids):
        if not values:
            return ""
        total, problem = weight_sum(values, [i["version"] for i in ids or []])
        return html.Span(
            f"Sum: {total:g}" + (f" — {problem}" if problem else " ✓"),
            className="rel-sum-bad" if problem else "rel-sum-ok",
            id="rel-sum-text",
        )

    @app.callback(Output("rel-match-name", "disabled"), Input("rel-match-kind", "value"))
    def match_name_needed(kind):
        return kind == "uri"

    @app.callback(
        Output("rel-preview", "children"),
        Output("rel-pending", "data"),
        Output("rel-banner", "children", allow_duplicate=True),
        *[Input(f"rel-btn-{k}", "n_clicks") for k in ALL_BUTTONS],
        Input({"type": "rel-rm-match", "index": ALL}, "n_clicks"),
        Input("rel-deep-go", "data"),
        State("rel-namespace", "value"),
        State("rel-service", "data"),
        State("rel-stable", "value"),
        State("rel-canary", "value"),
        State({"type": "rel-w", "version": ALL}, "value"),
        State({"type": "rel-w", "version": ALL}, "id"),
        State("rel-match-kind", "value"),
        State("rel-match-name", "value"),
        State("rel-match-type", "value"),
        State("rel-match-value", "value"),
        State("rel-match-version", "value"),
        State("rel-mirror-version", "value"),
        State("rel-mirror-percent", "value"),
        State({"type": "rel-pol", "section": ALL, "field": ALL}, "value"),
        State({"type": "rel-pol", "section": ALL, "field": ALL}, "id"),
        prevent_initial_call=True,
    )
    def preview(*args):
        (
            namespace,
            service,
            stable,
            canary,
            wvalues,
            wids,
            kind,
            name,
            mtype,
            mvalue,
            mversion,
            mirror_version,
            mirror_pct,
            pvalues,
            pids,
        ) = args[-15:]
        skip = no_update, no_update, no_update
        fired = ctx.triggered[0]["value"] if ctx.triggered else None
        trigger = ctx.triggered_id
        if not fired or not service:
            return skip  # a button appearing (n_clicks None) is not a click
        form: dict[str, Any] = {}
        if trigger == "rel-deep-go":
            button = fired.get("button") if isinstance(fired, dict) else None
            if button not in BUTTONS:
                return skip
        elif isinstance(trigger, dict) and trigger.get("type") == "rel-rm-match":
            button, form = "remove_match", {"index": trigger.get("index")}
        elif isinstance(trigger, str) and trigger.startswith("rel-btn-"):
            button = trigger.removeprefix("rel-btn-")
            form = {
                "kind": kind,
                "name": name,
                "match": mtype,
                "value": mvalue,
                "version": mirror_version if button == "mirror" else mversion,
                "percentage": mirror_pct,
                "policy": policy_values(pvalues, pids),
            }
        else:
            return skip
        svc = services()
        if button == "retire":  # the role without traffic, as the button's label says
            try:
                detail = route_detail(svc, namespace, service)
            except Exception as exc:
                return None, None, error_banner(exc)
            weights = {v: int(detail["weights"].get(v, 0)) for v in detail["versions"]}
            form = {"version": retire_target(weights, stable, canary)}
        payload = action_payload(
            button,
            stable=stable,
            canary=canary,
            versions=[i["version"] for i in wids],
            weights={i["version"]: v for i, v in zip(wids, wvalues, strict=True)},
            form=form,
        )
        try:
            identity = security.require_writer(svc.settings)
            body = change_route(svc, namespace, service, {**payload, "dry_run": True}, identity)
        except Exception as exc:
            return None, None, refusal_banner(exc)
        if not body.get("changed", True) or not body.get("diff"):
            return None, None, info_banner(f"Nothing to change: {body.get('summary', '')}.")
        if trigger == "rel-deep-go" and not body.get("confirm"):
            # A link opened this preview: a write is never one click away from a link, the
            # person ticks the confirmation first (take-over and retire always ask).
            body = {**body, "confirm": "this change was opened from a link, and I want it"}
        pending = {
            **payload,
            "base": body.get("base"),
            "needs_confirm": bool(body.get("confirm")) or bool(body.get("override_needed")),
            "needs_override": bool(body.get("override_needed")),
        }
        return preview_dialog(body, ""), pending, None

    @app.callback(
        Output("rel-preview", "children", allow_duplicate=True),
        Output("rel-pending", "data", allow_duplicate=True),
        Output("rel-banner", "children", allow_duplicate=True),
        Output("rel-revision", "data"),
        Input("rel-confirm", "n_clicks"),
        Input("rel-cancel", "n_clicks"),
        State("rel-pending", "data"),
        State("rel-reason", "value"),
        State("rel-confirm-check", "value"),
        State("rel-namespace", "value"),
        State("rel-service", "data"),
        State("rel-revision", "data"),
        prevent_initial_call=True,
    )
    def confirm(n_ok, n_cancel, pending, reason, checked, namespace, service, revision):
        skip = no_update, no_update, no_update, no_update
        if ctx.triggered_id == "rel-cancel":
            return (None, None, None, no_update) if n_cancel else skip
        if not n_ok or not pending:
            return skip
        if pending.get("needs_confirm") and not checked:
            return no_update, no_update, info_banner("Tick the confirmation box first."), no_update
        if pending.get("needs_override") and not (reason or "").strip():
            text = "Going against the verdict needs a reason: it is recorded in the audit log."
            return no_update, no_update, info_banner(text), no_update
        payload = {k: v for k, v in pending.items() if k not in ("needs_confirm", "needs_override")}
        payload["reason"] = reason or ""
        if pending.get("needs_override"):
            payload["override"] = True
        svc = services()
        try:
            identity = security.require_writer(svc.settings)
            body = change_route(svc, namespace, service, {**payload, "dry_run": False}, identity)
        except AgainstVerdict as exc:  # the verdict turned since the preview
            return None, None, refusal_banner(exc), (revision or 0) + 1
        except Conflict as exc:
            return conflict_dialog(str(exc), exc.diff or ""), None, None, (revision or 0) + 1
        except Forbidden as exc:
            return None, None, error_banner(exc), (revision or 0) + 1
        except Exception as exc:
            return no_update, no_update, refusal_banner(exc), no_update
        what = body.get("summary") or payload["action"]
        audit = body.get("audit") or {}
        if audit.get("recorded", True):
            done = info_banner(f"Applied: {what}. Recorded in the audit history.")
        else:
            done = html.Div(
                [html.Strong(f"Applied: {what}. "), html.Span(audit.get("message", ""))],
                className="md-banner md-banner-warning",
                role="alert",
                id="rel-audit-pending",
            )
        return None, None, done, (revision or 0) + 1

    app.clientside_callback(
        """
        function(ticked, reason, options) {
            const asked = Boolean(options && options.length);
            const override = asked && options[0].value === 'override';
            const noReason = !(reason || '').trim();
            return (asked && !(ticked && ticked.length)) || (override && noReason);
        }
        """,
        Output("rel-confirm", "disabled"),
        Input("rel-confirm-check", "value"),
        Input("rel-reason", "value"),
        State("rel-confirm-check", "options"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        """
        function(ns, service) {
            const p = new URLSearchParams();
            if (ns) { p.set('namespace', ns); }
            if (service) { p.set('service', service); }
            const url = window.location.pathname + '?' + p.toString();
            if (url !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, '', url);
            }
            return '';
        }
        """,
        Output("rel-figures-note", "title"),
        Input("rel-namespace", "value"),
        Input("rel-service", "data"),
    )
