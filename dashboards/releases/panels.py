"""What the releases page shows for the chosen service, as named outputs of its callbacks.

Each function takes the page's values and returns a dict keyed like the callback's `output=`
dict, so a callback is one call and the order of 18 outputs is never counted by hand. The rules
live below: the routes view (views.routes) says what the split is and who may change it, the
roles come from mesh.releases.roles, the verdict from views.review.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dash import dcc, html, no_update

from access import security
from dashboards.components.banner import error_banner, info_banner
from dashboards.components.canary_panel import verdict_panel
from dashboards.components.release_view import (
    audit_table,
    figures_table,
    latest_figures,
    match_routes,
    mirror_state,
    route_api_tag,
    service_list,
    split_bar,
)
from dashboards.releases.forms import (
    BUTTONS,
    DEEP_ACTIONS,
    FORM_BUTTONS,
    action_payload,
    button_label,
    current_policy,
    retire_target,
    review_link,
)
from dashboards.releases.layout import policy_hint
from mesh.errors import MeshdashError
from mesh.releases.eligibility import releasable_services
from mesh.releases.roles import default_roles, mirror_targets, split_weights
from mesh.routing.policy import POLICY_FIELDS
from presentation.charts import version_colors
from views.canary import parse_canary_params
from views.history import metrics_view, parse_metrics_params
from views.release_actions import button_states
from views.review import ReviewParams, release_roles, verdict_view
from views.routes import audit_list, route_detail, routes_list
from wiring.services import services

FIGURES_WINDOW = "1m"  # short, so the figures follow a shift within a refresh or two
AUDIT_ROWS = 30
POLICY_IDS: list[dict[str, str]] = [
    {"type": "rel-pol", "section": section, "field": key}
    for section, fields in POLICY_FIELDS.items()
    for key in fields
]
POLICY_KINDS: list[str] = [
    k for fields in POLICY_FIELDS.values() for (_p, k, _l) in fields.values()
]


def detail_of(namespace: str, service: str) -> dict[str, Any]:
    """The service's routes as the person asking sees them (writable, owner, why not)."""
    svc = services()
    return route_detail(svc, namespace, service, security.current_identity(svc.settings))


def weights_of(detail: Mapping[str, Any]) -> dict[str, int]:
    return split_weights(detail["weights"], detail["versions"])


def takeover_class(verdict: str | None) -> str:
    """Take over is the primary button only when the evidence says promote."""
    return "md-button md-button-primary" if verdict == "promote" else "md-button"


# --- the service picker ----------------------------------------------------------------------


def service_choice(namespace: str | None, current: str | None) -> dict[str, Any]:
    """The releasable services (two or more versions) and the one shown."""
    svc = services()
    try:
        body = routes_list(svc, namespace or "", security.current_identity(svc.settings))
    except Exception as exc:
        return {"services": None, "service": None, "banner": error_banner(exc)}
    several = releasable_services(body["services"])
    names = [s["service"] for s in several]
    if not names:
        empty = html.P(
            f"No service in {body['namespace']} has two or more versions. Deploy a second "
            "version (a Deployment with another `version` label) to release it here.",
            className="md-hint",
            id="rel-empty",
        )
        return {"services": empty, "service": None, "banner": None}
    chosen = current if current in names else names[0]
    banner: Any = no_update
    if current and current not in names:
        banner = info_banner(
            f"{current} has fewer than two versions in {body['namespace']}; showing {chosen}."
        )
    return {
        "services": service_list(several, body["namespace"], chosen),
        "service": chosen if chosen != current else no_update,
        "banner": banner,
    }


# --- the cards of one service ----------------------------------------------------------------


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


def weight_inputs(weights: dict[str, int]) -> list[html.Label]:
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


def placeholders(policy: dict[str, Any] | None) -> list[str]:
    now = current_policy(policy)
    return [
        f"now {now[(i['section'], i['field'])]}"
        if (i["section"], i["field"]) in now
        else f"not set · {policy_hint(k)}"
        for i, k in zip(POLICY_IDS, POLICY_KINDS, strict=True)
    ]


def _blank(why_not: Any) -> dict[str, Any]:
    """No service (or its routes unreadable): the cards hidden, every form button off."""
    return {
        "body_style": {"display": "none"},
        "title": "",
        "stable_options": [],
        "stable": None,
        "canary_options": [],
        "canary": None,
        "weight_inputs": [],
        "matches": None,
        "match_version_options": [],
        "match_version": None,
        "mirrors": None,
        "mirror_version_options": [],
        "mirror_version": None,
        "placeholders": placeholders(None),
        "why_not": why_not,
        "audit": None,
        "deep_go": no_update,
        "deep_action": no_update,
        "form_disabled": dict.fromkeys(FORM_BUTTONS, True),
    }


def _roles(
    namespace: str, service: str, weights: dict[str, int], stable: str | None, canary: str | None
) -> tuple[str | None, str | None]:
    """The chosen roles while still valid, else the release in progress, else the busiest."""
    try:
        _, live_stable, live_canary = release_roles(services(), namespace, service)
    except MeshdashError:
        live_stable = live_canary = None
    return default_roles(weights, stable or live_stable, canary or live_canary)


def _audit(namespace: str, service: str) -> Any:
    try:
        return audit_table(audit_list(services(), namespace, service, AUDIT_ROWS)["entries"])
    except Exception as exc:
        return error_banner(exc)


def service_cards(
    namespace: str,
    service: str | None,
    stable: str | None,
    canary: str | None,
    deep: str | None,
) -> dict[str, Any]:
    """Every card's content for `service`; `stable`/`canary` are the wished roles (None after
    an apply, so the roles follow the new split)."""
    if not service:
        return _blank(None)
    try:
        detail = detail_of(namespace, service)
    except Exception as exc:
        return _blank(error_banner(exc))
    weights = weights_of(detail)
    stable, canary = _roles(namespace, service, weights, stable, canary)
    versions = list(weights)
    writable = bool(detail.get("writable"))
    idle = mirror_targets(weights)
    disabled = dict.fromkeys(FORM_BUTTONS, not writable)
    if not detail.get("mirrors"):
        disabled["mirror-stop"] = True
    if detail.get("api") == "HTTPRoute":  # a traffic policy lives in a DestinationRule
        disabled["policy"] = True
    return {
        "body_style": {"display": "flex"},
        "title": [
            "Traffic split · ",
            html.Span(f"{detail['namespace']}/{service}", className="rel-mono"),
            " ",
            route_api_tag(detail),
        ],
        "stable_options": versions,
        "stable": stable,
        "canary_options": versions,
        "canary": canary,
        "weight_inputs": weight_inputs(weights),
        "matches": match_routes(detail.get("matches") or [], writable),
        "match_version_options": versions,
        "match_version": canary,
        "mirrors": mirror_state(detail.get("mirrors") or []),
        "mirror_version_options": idle,
        "mirror_version": canary if canary in idle else (idle[0] if idle else None),
        "placeholders": placeholders(detail.get("policy")),
        "why_not": write_note(detail),
        "audit": _audit(namespace, service),
        "deep_go": {"button": DEEP_ACTIONS[deep], "at": time.time()}
        if deep in DEEP_ACTIONS
        else None,
        "deep_action": "" if deep else no_update,
        "form_disabled": disabled,
    }


# --- live figures, the verdict and the buttons -----------------------------------------------


def live_figures(
    namespace: str, service: str | None, stable: str | None, canary: str | None
) -> dict[str, Any]:
    """The split bar and each version's figures over the last minute, with what they are."""
    if not service:
        return {"split": None, "figures": None, "note": ""}
    svc = services()
    try:
        detail = detail_of(namespace, service)
    except Exception as exc:
        return {"split": error_banner(exc), "figures": None, "note": ""}
    weights = weights_of(detail)
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
    return {"split": split_bar(weights, colours, bar_id="rel-bar"), "figures": table, "note": note}


def review_panel(
    namespace: str, service: str | None, stable: str | None, canary: str | None
) -> dict[str, Any]:
    """The canary's verdict for the chosen pair, before the next step (2 cached queries), with
    the way into the full review; take-over is primary when the verdict is promote. A failing
    backend is a banner with the link kept."""
    if not service:
        return {"review": None, "takeover_class": takeover_class(None)}
    href = review_link(namespace, service, stable, canary)
    if not stable or not canary or stable == canary:
        hint = html.P(
            ["Choose two different versions to compare. ", dcc.Link("Release review", href=href)],
            className="md-hint",
        )
        return {"review": hint, "takeover_class": takeover_class(None)}
    args = {"namespace": namespace, "service": service, "baseline": stable, "canary": canary}
    try:
        summary = verdict_view(services(), ReviewParams(parse_canary_params(args)))
    except Exception as exc:  # every failure is a banner, never a traceback
        panel = [error_banner(exc), dcc.Link("Open the release review", href=href)]
        return {"review": panel, "takeover_class": takeover_class(None)}
    return {
        "review": verdict_panel(summary, href, "rel-cv"),
        "takeover_class": takeover_class(summary["analysis"]["verdict"]),
    }


def button_texts(
    namespace: str, service: str | None, stable: str | None, canary: str | None
) -> dict[str, dict[str, Any]]:
    """Labels name the versions; a button that would change nothing, or that the model would
    refuse, is disabled with the reason as its tooltip."""

    def out(labels: dict, off: dict, titles: dict) -> dict[str, dict[str, Any]]:
        return {"label": labels, "disabled": off, "title": titles}

    plain = {k: button_label(k, stable, canary) for k in BUTTONS}
    if not service:
        return out(plain, dict.fromkeys(BUTTONS, True), dict.fromkeys(BUTTONS, ""))
    svc = services()
    try:
        detail = detail_of(namespace, service)
        retire = retire_target(weights_of(detail), stable, canary)
        payloads = {
            k: action_payload(k, stable=stable, canary=canary, form={"version": retire})
            for k in BUTTONS
        }
        why = button_states(svc, namespace, service, payloads)
    except MeshdashError as exc:
        text = str(getattr(exc, "message", None) or exc)
        return out(plain, dict.fromkeys(BUTTONS, True), dict.fromkeys(BUTTONS, text))
    if not detail.get("writable"):
        why = {k: detail.get("why_not") or "changes are disabled" for k in BUTTONS}
    return out(
        {k: button_label(k, stable, canary, retire) for k in BUTTONS},
        {k: bool(why[k]) for k in BUTTONS},
        {k: why[k] and f"Not available: {why[k]}" for k in BUTTONS},
    )
