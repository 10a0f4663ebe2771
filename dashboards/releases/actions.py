"""The releases page's two steps of every change: preview (a server-side dry run and the diff, in
a dialog) and apply on Confirm, carrying the resourceVersions the preview was computed from.

Both go through views.routes.change_route with security.require_writer, so Dash's POSTs pass the
same identity and CSRF checks as the API, and the model refuses what the API refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html, no_update

from access import security
from dashboards.components.banner import error_banner, info_banner
from dashboards.components.release_view import conflict_dialog, preview_dialog, refusal_banner
from dashboards.releases.forms import BUTTONS, action_payload, policy_values, retire_target
from dashboards.releases.panels import weights_of
from mesh.errors import Conflict, Forbidden
from usecases.release_guard import AgainstVerdict
from views.routes import change_route, route_detail
from wiring.services import services

SKIP_PREVIEW: dict[str, Any] = {"dialog": no_update, "pending": no_update, "banner": no_update}


def pressed(trigger: Any, fired: Any, form: Mapping[str, Any]) -> tuple[str, dict] | None:
    """(button, form values) of what fired the preview, or None when it was no click: a deep
    link's request, a match route's remove button, or a card's button with the forms' values."""
    if trigger == "rel-deep-go":
        button = fired.get("button") if isinstance(fired, dict) else None
        return (button, {}) if button in BUTTONS else None
    if isinstance(trigger, dict) and trigger.get("type") == "rel-rm-match":
        return "remove_match", {"index": trigger.get("index")}
    if isinstance(trigger, str) and trigger.startswith("rel-btn-"):
        button = trigger.removeprefix("rel-btn-")
        values = {
            "kind": form["match_kind"],
            "name": form["match_name"],
            "match": form["match_type"],
            "value": form["match_value"],
            "version": form["mirror_version"] if button == "mirror" else form["match_version"],
            "percentage": form["mirror_percent"],
            "policy": policy_values(form["policy_values"], form["policy_ids"]),
        }
        return button, values
    return None


def preview(
    trigger: Any, fired: Any, namespace: str, service: str | None, form: Mapping[str, Any]
) -> dict[str, Any]:
    """The preview dialog and the pending change it would apply, or a banner saying why not."""
    if not fired or not service:
        return SKIP_PREVIEW  # a button appearing (n_clicks None) is not a click
    what = pressed(trigger, fired, form)
    if what is None:
        return SKIP_PREVIEW
    button, values = what
    svc = services()
    stable, canary = form["stable"], form["canary"]
    if button == "retire":  # the role without traffic, as the button's label says
        try:
            detail = route_detail(svc, namespace, service)
        except Exception as exc:
            return {"dialog": None, "pending": None, "banner": error_banner(exc)}
        values = {"version": retire_target(weights_of(detail), stable, canary)}
    ids = form["weight_ids"]
    payload = action_payload(
        button,
        stable=stable,
        canary=canary,
        versions=[i["version"] for i in ids],
        weights={i["version"]: v for i, v in zip(ids, form["weight_values"], strict=True)},
        form=values,
    )
    try:
        identity = security.require_writer(svc.settings)
        body = change_route(svc, namespace, service, {**payload, "dry_run": True}, identity)
    except Exception as exc:
        return {"dialog": None, "pending": None, "banner": refusal_banner(exc)}
    if not body.get("changed", True) or not body.get("diff"):
        text = f"Nothing to change: {body.get('summary', '')}."
        return {"dialog": None, "pending": None, "banner": info_banner(text)}
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
    return {"dialog": preview_dialog(body, ""), "pending": pending, "banner": None}


def _applied(what: str, audit: Mapping[str, Any]) -> html.Div:
    if audit.get("recorded", True):
        return info_banner(f"Applied: {what}. Recorded in the audit history.")
    return html.Div(
        [html.Strong(f"Applied: {what}. "), html.Span(audit.get("message", ""))],
        className="md-banner md-banner-warning",
        role="alert",
        id="rel-audit-pending",
    )


def confirm(
    pending: Mapping[str, Any],
    reason: str | None,
    checked: Any,
    namespace: str,
    service: str,
    revision: int | None,
) -> dict[str, Any]:
    """Apply the previewed change; a verdict turned, a conflict or a refusal since the preview
    closes the dialog and says so, and the page re-reads (revision + 1)."""
    nothing = {"dialog": no_update, "pending": no_update, "revision": no_update}
    if pending.get("needs_confirm") and not checked:
        return {**nothing, "banner": info_banner("Tick the confirmation box first.")}
    if pending.get("needs_override") and not (reason or "").strip():
        text = "Going against the verdict needs a reason: it is recorded in the audit log."
        return {**nothing, "banner": info_banner(text)}
    payload = {k: v for k, v in pending.items() if k not in ("needs_confirm", "needs_override")}
    payload["reason"] = reason or ""
    if pending.get("needs_override"):
        payload["override"] = True
    svc = services()
    after = (revision or 0) + 1
    try:
        identity = security.require_writer(svc.settings)
        body = change_route(svc, namespace, service, {**payload, "dry_run": False}, identity)
    except AgainstVerdict as exc:  # the verdict turned since the preview
        return {"dialog": None, "pending": None, "banner": refusal_banner(exc), "revision": after}
    except Conflict as exc:
        dialog = conflict_dialog(str(exc), exc.diff or "")
        return {"dialog": dialog, "pending": None, "banner": None, "revision": after}
    except Forbidden as exc:
        return {"dialog": None, "pending": None, "banner": error_banner(exc), "revision": after}
    except Exception as exc:
        return {**nothing, "banner": refusal_banner(exc)}
    what = body.get("summary") or payload["action"]
    done = _applied(what, body.get("audit") or {})
    return {"dialog": None, "pending": None, "banner": done, "revision": after}
