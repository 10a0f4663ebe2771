"""The releases page's callbacks: each translates the page's values into one call of panels or
actions and returns its named outputs (a dict keyed like `output=`)."""

from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, html, no_update

from dashboards.kit import UrlParam, register_url_sync
from dashboards.releases import actions, panels
from dashboards.releases.forms import BUTTONS, FORM_BUTTONS, weight_sum
from dashboards.releases.rollout_panel import register_rollout_callbacks

ALL_BUTTONS: tuple[str, ...] = (*BUTTONS, *FORM_BUTTONS)
POLICY = {"type": "rel-pol", "section": ALL, "field": ALL}
WEIGHT = {"type": "rel-w", "version": ALL}

CARDS = {
    "body_style": Output("rel-body", "style"),
    "title": Output("rel-title", "children"),
    "stable_options": Output("rel-stable", "options"),
    "stable": Output("rel-stable", "value"),
    "canary_options": Output("rel-canary", "options"),
    "canary": Output("rel-canary", "value"),
    "weight_inputs": Output("rel-weight-inputs", "children"),
    "matches": Output("rel-matches-box", "children"),
    "match_version_options": Output("rel-match-version", "options"),
    "match_version": Output("rel-match-version", "value"),
    "mirrors": Output("rel-mirror-box", "children"),
    "mirror_version_options": Output("rel-mirror-version", "options"),
    "mirror_version": Output("rel-mirror-version", "value"),
    "placeholders": Output(POLICY, "placeholder"),
    "why_not": Output("rel-why-not", "children"),
    "audit": Output("rel-audit", "children"),
    "deep_go": Output("rel-deep-go", "data"),
    "deep_action": Output("rel-deep-action", "data"),
    "form_disabled": {k: Output(f"rel-btn-{k}", "disabled") for k in FORM_BUTTONS},
}
# What the preview reads from the forms (actions.preview's `form`).
FORM = {
    "stable": State("rel-stable", "value"),
    "canary": State("rel-canary", "value"),
    "weight_values": State(WEIGHT, "value"),
    "weight_ids": State(WEIGHT, "id"),
    "match_kind": State("rel-match-kind", "value"),
    "match_name": State("rel-match-name", "value"),
    "match_type": State("rel-match-type", "value"),
    "match_value": State("rel-match-value", "value"),
    "match_version": State("rel-match-version", "value"),
    "mirror_version": State("rel-mirror-version", "value"),
    "mirror_percent": State("rel-mirror-percent", "value"),
    "policy_values": State(POLICY, "value"),
    "policy_ids": State(POLICY, "id"),
}


def _dialog(first: bool) -> dict[str, Output]:
    """The preview dialog, the change it holds and the page's banner; the preview's callback
    is their first writer, the confirmation the duplicate one."""
    return {
        "dialog": Output("rel-preview", "children", allow_duplicate=not first),
        "pending": Output("rel-pending", "data", allow_duplicate=not first),
        "banner": Output("rel-banner", "children", allow_duplicate=True),
    }


def register_callbacks(app) -> None:
    register_rollout_callbacks(app)  # the guided rollout card
    _register_service(app)
    _register_live(app)
    _register_forms(app)
    _register_changes(app)
    register_url_sync(
        app,
        "rel-figures-note",
        [UrlParam("namespace", "rel-namespace"), UrlParam("service", "rel-service", "data")],
        sink_prop="title",
    )


def _register_service(app) -> None:
    """The service picker, then every card for the chosen service."""

    @app.callback(
        output={
            "services": Output("rel-services", "children"),
            "service": Output("rel-service", "data"),
            "banner": Output("rel-banner", "children", allow_duplicate=True),
        },
        inputs={
            "namespace": Input("rel-namespace", "value"),
            "_rev": Input("rel-revision", "data"),
            "current": State("rel-service", "data"),
        },
        prevent_initial_call="initial_duplicate",
    )
    def list_services(namespace, _rev, current):
        return panels.service_choice(namespace, current)

    @app.callback(
        output=CARDS,
        inputs={
            "service": Input("rel-service", "data"),
            "_rev": Input("rel-revision", "data"),
            "namespace": State("rel-namespace", "value"),
            "stable": State("rel-stable", "value"),
            "canary": State("rel-canary", "value"),
            "init": State("rel-roles-init", "data"),
            "deep": State("rel-deep-action", "data"),
        },
    )
    def show(service, _rev, namespace, stable, canary, init, deep):
        if ctx.triggered_id == "rel-revision":  # an apply: the roles follow the new split
            stable = canary = None
        else:
            init = init or {}
            stable, canary = stable or init.get("stable"), canary or init.get("canary")
        return panels.service_cards(namespace, service, stable, canary, deep)


def _register_live(app) -> None:
    """What refreshes: the split and its figures, the verdict, the buttons' labels."""
    pair = {
        "stable": Input("rel-stable", "value"),
        "canary": Input("rel-canary", "value"),
    }

    @app.callback(
        output={
            "split": Output("rel-split", "children"),
            "figures": Output("rel-figures", "children"),
            "note": Output("rel-figures-note", "children"),
        },
        inputs={
            "service": Input("rel-service", "data"),
            **pair,
            "_n": Input("rel-interval", "n_intervals"),
            "_rev": Input("rel-revision", "data"),
            "namespace": State("rel-namespace", "value"),
        },
    )
    def live(service, stable, canary, _n, _rev, namespace):
        return panels.live_figures(namespace, service, stable, canary)

    @app.callback(
        output={
            "review": Output("rel-review", "children"),
            "takeover_class": Output("rel-btn-takeover", "className"),
        },
        inputs={
            **pair,
            "_n": Input("rel-interval", "n_intervals"),
            "_rev": Input("rel-revision", "data"),
            "namespace": State("rel-namespace", "value"),
            "service": State("rel-service", "data"),
        },
    )
    def review(stable, canary, _n, _rev, namespace, service):
        return panels.review_panel(namespace, service, stable, canary)

    @app.callback(
        output={
            "label": {k: Output(f"rel-btn-{k}", "children") for k in BUTTONS},
            "disabled": {k: Output(f"rel-btn-{k}", "disabled") for k in BUTTONS},
            "title": {k: Output(f"rel-btn-{k}", "title") for k in BUTTONS},
        },
        inputs={
            **pair,
            "_rev": Input("rel-revision", "data"),
            "namespace": State("rel-namespace", "value"),
            "service": State("rel-service", "data"),
        },
    )
    def labels(stable, canary, _rev, namespace, service):
        return panels.button_texts(namespace, service, stable, canary)


def _register_forms(app) -> None:
    """Feedback while typing: the weights' sum, the header name a URI match does not need."""

    @app.callback(
        Output("rel-weight-sum", "children"),
        Input(WEIGHT, "value"),
        State(WEIGHT, "id"),
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


def _register_changes(app) -> None:
    """Preview on any button (or a deep link), then apply or cancel in the dialog."""

    @app.callback(
        output=_dialog(first=True),
        inputs={
            "_clicks": {k: Input(f"rel-btn-{k}", "n_clicks") for k in ALL_BUTTONS},
            "_remove": Input({"type": "rel-rm-match", "index": ALL}, "n_clicks"),
            "_deep": Input("rel-deep-go", "data"),
            "namespace": State("rel-namespace", "value"),
            "service": State("rel-service", "data"),
            "form": FORM,
        },
        prevent_initial_call=True,
    )
    def preview(_clicks, _remove, _deep, namespace, service, form):
        fired = ctx.triggered[0]["value"] if ctx.triggered else None
        return actions.preview(ctx.triggered_id, fired, namespace, service, form)

    @app.callback(
        output={**_dialog(first=False), "revision": Output("rel-revision", "data")},
        inputs={
            "n_ok": Input("rel-confirm", "n_clicks"),
            "n_cancel": Input("rel-cancel", "n_clicks"),
            "pending": State("rel-pending", "data"),
            "reason": State("rel-reason", "value"),
            "checked": State("rel-confirm-check", "value"),
            "namespace": State("rel-namespace", "value"),
            "service": State("rel-service", "data"),
            "revision": State("rel-revision", "data"),
        },
        prevent_initial_call=True,
    )
    def confirm(n_ok, n_cancel, pending, reason, checked, namespace, service, revision):
        skip = {"dialog": no_update, "pending": no_update, "banner": no_update}
        if ctx.triggered_id == "rel-cancel":
            closed = {"dialog": None, "pending": None, "banner": None, "revision": no_update}
            return closed if n_cancel else {**skip, "revision": no_update}
        if not n_ok or not pending:
            return {**skip, "revision": no_update}
        return actions.confirm(pending, reason, checked, namespace, service, revision)

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
