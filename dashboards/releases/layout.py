"""The releases page's layout: the service picker, then one card per kind of change.

The cards start empty; the callbacks (dashboards/releases/callbacks.py) fill them for the chosen
service. URL state: ?namespace=&service= (and, from the canary review, &action=promote|step|
rollback with &baseline=&canary=, which opens that action's preview).
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashboards.components.namespace_options import namespace_options
from dashboards.kit import control, control_bar
from dashboards.releases.forms import BUTTONS, POLICY_LABELS, POLICY_SECTIONS, button_label
from dashboards.releases.rollout_panel import card as rollout_card
from mesh.errors import MeshdashError
from mesh.routing.match import MATCH_KINDS, MATCH_TYPES
from mesh.routing.policy import POLICY_FIELDS
from views.params import get_one
from wiring.services import services


def _safe(query: dict[str, Any], key: str) -> str | None:
    try:
        return get_one(query, key)
    except MeshdashError:
        return None


def _btn_class(key: str) -> str:
    return {"rollback": "md-button md-button-danger"}.get(key, "md-button")


def policy_hint(kind: str) -> str:
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
            control_bar(
                [
                    control(
                        "Namespace",
                        dcc.Dropdown(
                            id="rel-namespace",
                            options=namespace_options(svc, [namespace]),
                            value=namespace,
                            clearable=False,
                        ),
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
                class_name="md-controls rel-controls",
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
                                        placeholder=policy_hint(kind),
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
