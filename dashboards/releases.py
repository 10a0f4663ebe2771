"""Releases page: shift a service's canary weights safely, beside the numbers that justify it.

Every button previews first (a server-side dry run and the YAML diff), then applies on Confirm,
carrying the resourceVersions the preview was computed from, so a concurrent edit is a 409 that
shows the other change instead of being overwritten.
"""

from __future__ import annotations

import time
from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

import security
from api import services
from dashboards.components import format as fmt
from dashboards.components.banner import error_banner, info_banner
from dashboards.components.charts import version_colors
from dashboards.components.controls import control
from mesh.errors import Conflict, MeshdashError
from mesh.routing import POLICY_FIELDS
from views.metrics import metrics_view, parse_metrics_params
from views.params import get_one
from views.routes import audit_list, change_route, route_detail, routes_list

BUTTONS: dict[str, str] = {
    "step": "+10% to canary",
    "even": "50/50",
    "takeover": "Take over all traffic",
    "rollback": "Roll back",
    "retire": "Retire old version",
}


def action_payload(
    button: str,
    *,
    stable: str,
    canary: str,
    versions: list[str],
    weights: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """The /api/routes action a page control stands for; the model validates it."""
    form = form or {}
    if button == "step":
        body: dict[str, Any] = {
            "action": "step_canary",
            "canary": canary,
            "stable": stable,
            "step": 10,
        }
    elif button == "even":
        body = {
            "action": "set_weights",
            "weights": {v: 50 if v in (stable, canary) else 0 for v in versions},
        }
    elif button == "takeover":
        body = {"action": "take_over", "canary": canary}
    elif button == "rollback":
        body = {"action": "rollback", "stable": stable}
    elif button == "retire":
        body = {"action": "retire", "version": stable}
    elif button == "weights":
        body = {"action": "set_weights", "weights": {v: _int(weights, v) for v in versions}}
    elif button == "match":
        body = {
            "action": "match_canary",
            "canary": canary,
            "kind": form.get("kind") or "header",
            "header": form.get("header") or "",
            "match": form.get("match") or "exact",
            "value": form.get("value") or "",
        }
    elif button == "policy":
        body = {"action": "traffic_policy"}
        for section, values in (form.get("policy") or {}).items():
            given = {k: v for k, v in values.items() if v not in (None, "")}
            if given:
                body[section] = given
    elif button == "mirror":
        body = {"action": "mirror", "version": canary, "percentage": form.get("percentage")}
    else:
        raise ValueError(f"unknown control {button!r}")
    body["reason"] = reason or ""
    return body


def _int(weights: dict[str, Any] | None, version: str) -> Any:
    value = (weights or {}).get(version)
    return int(value) if isinstance(value, int | float) and float(value).is_integer() else value


def layout(**query: Any) -> html.Div:
    svc = services()
    namespace = _safe(query, "namespace") or svc.settings.default_namespaces[0]
    service = _safe(query, "service") or ""
    action = _safe(query, "action") or ""
    return html.Div(
        [
            html.H2("Releases"),
            html.P(
                "Shift traffic between versions. Every change is previewed (server-side dry run "
                "and diff) before it is applied, and recorded in the audit history.",
                className="md-hint",
            ),
            html.Div(
                [
                    control(
                        "Namespace", dcc.Input(id="rel-namespace", value=namespace, debounce=True)
                    ),
                    control(
                        "Service",
                        dcc.Dropdown(id="rel-service", value=service or None, clearable=False),
                        wide=True,
                    ),
                    control("Stable (old)", dcc.Dropdown(id="rel-stable", clearable=False)),
                    control("Canary (new)", dcc.Dropdown(id="rel-canary", clearable=False)),
                    control(
                        "Reason (recorded in the audit log)",
                        dcc.Input(id="rel-reason", placeholder="why this change", debounce=False),
                        wide=True,
                    ),
                ],
                className="md-controls",
            ),
            html.Div(id="rel-banner"),
            html.Div(
                [
                    html.Div(
                        [
                            html.H3("Current split"),
                            html.Div(id="rel-split"),
                            html.Div(id="rel-figures"),
                            html.Div(
                                [
                                    html.Button(
                                        label, id=f"rel-btn-{key}", className=_btn_class(key)
                                    )
                                    for key, label in BUTTONS.items()
                                ],
                                className="rel-buttons",
                            ),
                            html.Div(id="rel-why-not", className="md-hint"),
                        ],
                        className="md-card rel-card",
                    ),
                    html.Div(
                        [
                            html.H3("Exact weights"),
                            html.Div(id="rel-weight-inputs", className="rel-weights"),
                            html.Div(id="rel-weight-sum", className="rel-sum"),
                            html.Button(
                                "Preview weights", id="rel-btn-weights", className="md-button"
                            ),
                        ],
                        className="md-card rel-card",
                    ),
                ],
                className="rel-row",
            ),
            html.Div(
                [
                    html.Div(
                        [
                            html.H3("Canary by request content"),
                            html.P(
                                "Matching requests go to the canary; everyone else stays on the split.",
                                className="md-hint",
                            ),
                            html.Div(
                                [
                                    dcc.Dropdown(
                                        id="rel-match-kind",
                                        options=["header", "cookie", "uri"],
                                        value="header",
                                        clearable=False,
                                    ),
                                    dcc.Input(
                                        id="rel-match-header",
                                        placeholder="header or cookie name, e.g. end-user",
                                    ),
                                    dcc.Dropdown(
                                        id="rel-match-type",
                                        options=["exact", "prefix", "regex"],
                                        value="exact",
                                        clearable=False,
                                    ),
                                    dcc.Input(
                                        id="rel-match-value", placeholder="value, e.g. jason"
                                    ),
                                ],
                                className="rel-form",
                            ),
                            html.Button(
                                "Preview match route", id="rel-btn-match", className="md-button"
                            ),
                        ],
                        className="md-card rel-card",
                    ),
                    html.Div(
                        [
                            html.H3("Mirroring"),
                            html.P(
                                "Copy a share of live traffic to the canary; its answers are discarded.",
                                className="md-hint",
                            ),
                            html.Div(
                                [
                                    dcc.Input(
                                        id="rel-mirror-percent",
                                        type="number",
                                        min=0,
                                        max=100,
                                        value=10,
                                    ),
                                    html.Span("% of traffic"),
                                ],
                                className="rel-form",
                            ),
                            html.Button(
                                "Preview mirroring", id="rel-btn-mirror", className="md-button"
                            ),
                        ],
                        className="md-card rel-card",
                    ),
                ],
                className="rel-row",
            ),
            html.Div(
                [
                    html.H3("Traffic policy (DestinationRule)"),
                    html.P(
                        "Connection pool and circuit breaking (outlier detection). Empty fields are left as they are.",
                        className="md-hint",
                    ),
                    html.Div(
                        [
                            html.Label(
                                [
                                    html.Span(f"{key} ({section})", className="md-control-label"),
                                    dcc.Input(
                                        id={"type": "rel-pol", "section": section, "field": key},
                                        placeholder=_policy_hint(kind),
                                    ),
                                ],
                                className="md-control",
                            )
                            for section, fields in POLICY_FIELDS.items()
                            for key, (_path, kind, _min) in fields.items()
                        ],
                        className="rel-policy",
                    ),
                    html.Button("Preview policy", id="rel-btn-policy", className="md-button"),
                ],
                className="md-card",
            ),
            html.Div(id="rel-preview"),
            html.Div([html.H3("Audit history"), html.Div(id="rel-audit")], className="md-card"),
            dcc.Store(id="rel-pending"),
            dcc.Store(id="rel-revision", data=0),
            dcc.Store(id="rel-deep-action", data=action),
        ],
        className="md-page md-page-releases",
    )


def _policy_hint(kind: str) -> str:
    return {"duration": "e.g. 30s", "percent": "0-100"}.get(kind, "whole number")


def _policy_form(values: list[Any], ids: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, v in zip(ids, values, strict=True):
        text = (v or "").strip() if isinstance(v, str) else v
        if text in (None, ""):
            continue
        if isinstance(text, str) and text.lstrip("-").isdigit():
            text = int(text)
        out.setdefault(i["section"], {})[i["field"]] = text
    return out


def _safe(query: dict[str, Any], key: str) -> str | None:
    try:
        return get_one(query, key)
    except MeshdashError:
        return None


def _btn_class(key: str) -> str:
    return {
        "takeover": "md-button md-button-primary",
        "rollback": "md-button md-button-danger",
    }.get(key, "md-button")


def split_bar(weights: dict[str, int]) -> html.Div:
    colours = version_colors(list(weights))
    segments = [
        html.Div(
            f"{v} {w}%" if w >= 8 else "",
            className="rel-seg",
            id={"type": "rel-seg", "version": v},
            title=f"{v}: {w}%",
            style={"width": f"{w}%", "background": colours[v]},
        )
        for v, w in weights.items()
        if w > 0
    ]
    legend = [
        html.Span(
            [html.I(style={"background": colours[v]}), f"{v} {w}%"], className="rel-legend-item"
        )
        for v, w in weights.items()
    ]
    return html.Div(
        [
            html.Div(segments, className="rel-bar", id="rel-bar"),
            html.Div(legend, className="rel-legend"),
        ]
    )


def figures_table(weights: dict[str, int], summary: dict[str, Any]) -> html.Table:
    head = html.Tr(
        [
            html.Th(h)
            for h in ("Version", "Weight", "Requests (last 5m)", "Success (5m)", "p95 (5m)")
        ]
    )
    rows = [
        html.Tr(
            [
                html.Td(v),
                html.Td(f"{w}%"),
                html.Td(fmt.rps((summary.get(v) or {}).get("rps"))),
                html.Td(fmt.percent((summary.get(v) or {}).get("success_rate"), 2)),
                html.Td(fmt.ms((summary.get(v) or {}).get("p95_ms"))),
            ]
        )
        for v, w in weights.items()
    ]
    return html.Table([html.Thead(head), html.Tbody(rows)], className="rel-table")


def diff_view(diff: str) -> html.Pre:
    def line(text: str) -> html.Span:
        cls = "rel-add" if text.startswith("+") else "rel-del" if text.startswith("-") else ""
        return html.Span(text + "\n", className=cls)

    return html.Pre([line(t) for t in diff.splitlines()], className="rel-diff", id="rel-diff")


def audit_table(entries: list[dict[str, Any]]) -> html.Div:
    if not entries:
        return html.P("No changes recorded yet.", className="md-hint")
    head = html.Tr(
        [html.Th(h) for h in ("When (UTC)", "Who", "Action", "Object", "Reason", "Change")]
    )
    rows = []
    for e in entries:
        when = e.get("when")
        stamp = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(when))
            if isinstance(when, int | float)
            else str(when)
        )
        rows.append(
            html.Tr(
                [
                    html.Td(stamp),
                    html.Td(e.get("who", "")),
                    html.Td(e.get("action", ""), className="rel-audit-action"),
                    html.Td(f"{e.get('kind', '')} {e.get('name', '')}"),
                    html.Td(e.get("reason", "")),
                    html.Td(e.get("summary", "")),
                ]
            )
        )
    return html.Table(
        [html.Thead(head), html.Tbody(rows)], className="rel-table", id="rel-audit-table"
    )


def register_callbacks(app) -> None:
    @app.callback(
        Output("rel-service", "options"),
        Output("rel-service", "value"),
        Output("rel-banner", "children", allow_duplicate=True),
        Input("rel-namespace", "value"),
        State("rel-service", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def list_services(namespace, current):
        svc = services()
        try:
            body = routes_list(svc, namespace or "", security.current_identity(svc.settings))
        except Exception as exc:
            return [], None, error_banner(exc)
        names = [s["service"] for s in body["services"] if len(s.get("versions") or []) >= 2]
        if not names:
            return [], None, info_banner(f"No service in {namespace} has two or more versions.")
        return names, current if current in names else names[0], None

    @app.callback(
        Output("rel-split", "children"),
        Output("rel-figures", "children"),
        Output("rel-weight-inputs", "children"),
        Output("rel-stable", "options"),
        Output("rel-stable", "value"),
        Output("rel-canary", "options"),
        Output("rel-canary", "value"),
        Output("rel-audit", "children"),
        Output("rel-why-not", "children"),
        *[
            Output(f"rel-btn-{k}", "disabled")
            for k in (*BUTTONS, "weights", "match", "mirror", "policy")
        ],
        Input("rel-service", "value"),
        Input("rel-revision", "data"),
        State("rel-namespace", "value"),
        State("rel-stable", "value"),
        State("rel-canary", "value"),
    )
    def show(service, _rev, namespace, stable, canary):
        n_buttons = len(BUTTONS) + 4
        if not service:
            return [], [], [], [], None, [], None, [], "", *([True] * n_buttons)
        svc = services()
        try:
            detail = route_detail(svc, namespace, service, security.current_identity(svc.settings))
        except Exception as exc:
            return error_banner(exc), [], [], [], None, [], None, [], "", *([True] * n_buttons)
        weights = {v: int(detail["weights"].get(v, 0)) for v in detail["versions"]}
        try:
            params = parse_metrics_params(
                {"namespace": namespace, "service": service, "window": "5m"}
            )
            summary = metrics_view(svc, params).get("summary", {})
        except Exception:  # live figures are a courtesy; the split still shows without them
            summary = {}
        versions = list(weights)
        stable = (
            stable
            if stable in versions
            else max(versions, key=lambda v: (weights[v], -versions.index(v)))
        )
        others = [v for v in versions if v != stable]
        canary = canary if canary in others else (others[-1] if others else stable)
        inputs = [
            html.Label(
                [
                    html.Span(v),
                    dcc.Input(
                        id={"type": "rel-w", "version": v},
                        type="number",
                        min=0,
                        max=100,
                        step=1,
                        value=w,
                    ),
                ],
                className="rel-weight",
            )
            for v, w in weights.items()
        ]
        try:
            audit = audit_list(svc, namespace, service, 20)["entries"]
        except Exception as exc:
            audit_view: Any = error_banner(exc)
        else:
            audit_view = audit_table(audit)
        writable = bool(detail.get("writable"))
        why = "" if writable else f"Changes are disabled: {detail.get('why_not')}"
        return (
            split_bar(weights),
            figures_table(weights, summary),
            inputs,
            versions,
            stable,
            versions,
            canary,
            audit_view,
            why,
            *([not writable] * n_buttons),
        )

    @app.callback(
        Output("rel-weight-sum", "children"),
        Input({"type": "rel-w", "version": ALL}, "value"),
    )
    def weight_sum(values):
        total = sum(v for v in values if isinstance(v, int | float))
        if not values:
            return ""
        ok = total == 100
        return html.Span(
            f"Sum: {total:g}" + ("" if ok else " — weights must add up to 100"),
            className="rel-sum-ok" if ok else "rel-sum-bad",
        )

    @app.callback(
        Output("rel-preview", "children"),
        Output("rel-pending", "data"),
        Output("rel-banner", "children", allow_duplicate=True),
        *[
            Input(f"rel-btn-{k}", "n_clicks")
            for k in (*BUTTONS, "weights", "match", "mirror", "policy")
        ],
        Input("rel-deep-action", "data"),
        State("rel-namespace", "value"),
        State("rel-service", "value"),
        State("rel-stable", "value"),
        State("rel-canary", "value"),
        State({"type": "rel-w", "version": ALL}, "value"),
        State({"type": "rel-w", "version": ALL}, "id"),
        State("rel-reason", "value"),
        State("rel-match-kind", "value"),
        State("rel-match-header", "value"),
        State("rel-match-type", "value"),
        State("rel-match-value", "value"),
        State("rel-mirror-percent", "value"),
        State({"type": "rel-pol", "section": ALL, "field": ALL}, "value"),
        State({"type": "rel-pol", "section": ALL, "field": ALL}, "id"),
        prevent_initial_call=True,
    )
    def preview(*args):
        (
            deep,
            namespace,
            service,
            stable,
            canary,
            wvalues,
            wids,
            reason,
            kind,
            header,
            mtype,
            mvalue,
            mirror,
            pvalues,
            pids,
        ) = args[-15:]
        trigger = ctx.triggered_id
        if trigger == "rel-deep-action":
            button = {"step": "step", "promote": "takeover", "rollback": "rollback"}.get(deep or "")
            if not button or not service or not stable:
                return no_update, no_update, no_update
        elif isinstance(trigger, str) and trigger.startswith("rel-btn-"):
            button = trigger.removeprefix("rel-btn-")
        else:
            return no_update, no_update, no_update
        versions = [i["version"] for i in wids]
        payload = action_payload(
            button,
            stable=stable,
            canary=canary,
            versions=versions,
            weights={i["version"]: v for i, v in zip(wids, wvalues, strict=True)},
            form={
                "kind": kind,
                "header": header,
                "match": mtype,
                "value": mvalue,
                "percentage": mirror,
                "policy": _policy_form(pvalues, pids),
            },
            reason=reason or "",
        )
        svc = services()
        try:
            identity = security.require_writer(svc.settings)
            body = change_route(svc, namespace, service, {**payload, "dry_run": True}, identity)
        except Exception as exc:
            return None, None, error_banner(exc)
        if not body.get("changed", True) or not body.get("diff"):
            return (
                None,
                None,
                info_banner(
                    f"Nothing to change: {body.get('summary', 'the split already is so')}."
                ),
            )
        pending = {**payload, "base": body.get("base"), "needs_confirm": bool(body.get("confirm"))}
        return _preview_panel(body), pending, None

    @app.callback(
        Output("rel-preview", "children", allow_duplicate=True),
        Output("rel-pending", "data", allow_duplicate=True),
        Output("rel-banner", "children", allow_duplicate=True),
        Output("rel-revision", "data"),
        Input("rel-confirm", "n_clicks"),
        Input("rel-cancel", "n_clicks"),
        State("rel-pending", "data"),
        State("rel-confirm-check", "value"),
        State("rel-namespace", "value"),
        State("rel-service", "value"),
        State("rel-revision", "data"),
        prevent_initial_call=True,
    )
    def confirm(n_ok, n_cancel, pending, checked, namespace, service, revision):
        if ctx.triggered_id == "rel-cancel":
            return None, None, None, no_update
        if not n_ok or not pending:
            return no_update, no_update, no_update, no_update
        if pending.get("needs_confirm") and not checked:
            return no_update, no_update, info_banner("Tick the confirmation box first."), no_update
        payload = {k: v for k, v in pending.items() if k != "needs_confirm"}
        svc = services()
        try:
            identity = security.require_writer(svc.settings)
            body = change_route(svc, namespace, service, {**payload, "dry_run": False}, identity)
        except Conflict as exc:
            banner = html.Div(
                [
                    error_banner(exc),
                    html.P("Their change:"),
                    diff_view(exc.diff or "(no diff available)"),
                ],
                id="rel-conflict",
            )
            return None, None, banner, (revision or 0) + 1
        except Exception as exc:
            return no_update, no_update, error_banner(exc), no_update
        done = info_banner(f"Applied: {body.get('summary', payload['action'])}.")
        return None, None, done, (revision or 0) + 1

    app.clientside_callback(
        """
        function(ns, service) {
            const p = new URLSearchParams();
            if (ns) { p.set('namespace', ns); }
            if (service) { p.set('service', service); }
            const url = window.location.pathname + '?' + p.toString();
            window.history.replaceState(window.history.state, '', url);
            return '';
        }
        """,
        Output("rel-why-not", "title"),
        Input("rel-namespace", "value"),
        Input("rel-service", "value"),
    )


def _preview_panel(body: dict[str, Any]) -> html.Div:
    confirm_text = body.get("confirm") or ""
    parts: list[Any] = [
        html.H3("Preview"),
        html.P(body.get("summary", ""), className="rel-summary", id="rel-preview-summary"),
        html.P(
            "The Kubernetes API accepted this change in a dry run; nothing is applied yet.",
            className="md-hint",
        ),
        diff_view(body.get("diff", "")),
    ]
    if confirm_text:
        parts.append(
            dcc.Checklist(
                id="rel-confirm-check",
                options=[{"label": " " + confirm_text, "value": "yes"}],
                value=[],
            )
        )
    else:
        parts.append(
            dcc.Checklist(id="rel-confirm-check", options=[], value=[], style={"display": "none"})
        )
    parts.append(
        html.Div(
            [
                html.Button(
                    "Confirm and apply", id="rel-confirm", className="md-button md-button-primary"
                ),
                html.Button("Cancel", id="rel-cancel", className="md-button"),
            ],
            className="rel-buttons",
        )
    )
    return html.Div(parts, className="md-card rel-preview", id="rel-preview-card")
