"""What the releases page's controls send: pure translation from form values to /api/routes actions.

The page never validates a change itself beyond showing the weights' sum: mesh.routing.plan refuses
an invalid action with the reason, so the page and the API refuse the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dashboards.components.links import page_link
from mesh.routing.policy import POLICY_FIELDS

# Button key -> label template; {stable} and {canary} are the versions chosen on the page.
BUTTONS: dict[str, str] = {
    "step": "+10% to {canary}",
    "even": "50/50 {stable} / {canary}",
    "takeover": "Take over all traffic ({canary})",
    "rollback": "Roll back to {stable}",
    "retire": "Retire {retire}",
    "bluegreen": "Blue-green switch to {canary}",
}
FORM_BUTTONS: tuple[str, ...] = ("weights", "match", "mirror", "mirror-stop", "policy")
# The review panel's deep links (?action=) and the button each one previews.
DEEP_ACTIONS: dict[str, str] = {"step": "step", "promote": "takeover", "rollback": "rollback"}
STEP = 10

POLICY_SECTIONS: dict[str, str] = {
    "connectionPool": "Connection pool",
    "outlierDetection": "Circuit breaker (outlier detection)",
}
POLICY_LABELS: dict[str, str] = {
    "maxConnections": "Max connections (TCP)",
    "http1MaxPendingRequests": "Max pending HTTP/1.1 requests",
    "maxRequestsPerConnection": "Max requests per connection",
    "consecutive5xxErrors": "Consecutive 5xx errors",
    "interval": "Analysis interval",
    "baseEjectionTime": "Base ejection time",
    "maxEjectionPercent": "Max ejection %",
}


def button_label(
    key: str, stable: str | None, canary: str | None, retire: str | None = None
) -> str:
    return BUTTONS[key].format(
        stable=stable or "stable", canary=canary or "canary", retire=retire or stable or "stable"
    )


def retire_target(weights: Mapping[str, int], stable: str | None, canary: str | None) -> str | None:
    """The version the Retire button removes: of the two roles, the one without traffic (after
    a take-over the old stable, after a roll back the canary); else the stable one, which the
    model refuses while it still has traffic."""
    for v in (stable, canary):
        if v and weights.get(v, 0) == 0:
            return v
    return stable


def action_payload(
    button: str,
    *,
    stable: str | None,
    canary: str | None,
    versions: Sequence[str] = (),
    weights: Mapping[str, Any] | None = None,
    form: Mapping[str, Any] | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """The /api/routes action body a page control stands for; mesh.routing.plan validates it."""
    form = form or {}
    if button == "step":
        body: dict[str, Any] = {
            "action": "step_canary",
            "canary": canary,
            "stable": stable,
            "step": STEP,
        }
    elif button == "even":
        body = {"action": "even_split", "versions": [v for v in (stable, canary) if v]}
    elif button == "takeover":
        body = {"action": "take_over", "canary": canary}
    elif button == "rollback":
        body = {"action": "rollback", "stable": stable}
    elif button == "retire":
        body = {"action": "retire", "version": form.get("version") or stable}
    elif button == "bluegreen":
        body = {"action": "blue_green", "target": canary}
    elif button == "weights":
        body = {"action": "set_weights", "weights": {v: whole(weights, v) for v in versions}}
    elif button == "match":
        kind = form.get("kind") or "header"
        body = {
            "action": "match_canary",
            "canary": form.get("version") or canary,
            "kind": kind,
            "match": form.get("match") or "exact",
            "value": form.get("value") or "",
        }
        if kind != "uri":
            body["name"] = (form.get("name") or "").strip()
    elif button == "remove_match":
        body = {"action": "remove_match", "index": form.get("index")}
    elif button == "mirror":
        body = {
            "action": "mirror",
            "version": form.get("version") or canary,
            "percentage": form.get("percentage"),
        }
    elif button == "mirror-stop":
        body = {"action": "mirror", "percentage": 0}
    elif button == "policy":
        body = {"action": "traffic_policy"}
        for section, values in (form.get("policy") or {}).items():
            given = {k: v for k, v in values.items() if v not in (None, "")}
            if given:
                body[section] = given
    else:
        raise ValueError(f"unknown control {button!r}")
    body["reason"] = reason or ""
    return body


def whole(weights: Mapping[str, Any] | None, version: str) -> Any:
    """A typed weight as an int when whole; anything else goes on for the model to refuse."""
    value = (weights or {}).get(version)
    if isinstance(value, bool):
        return value
    return int(value) if isinstance(value, int | float) and float(value).is_integer() else value


def weight_sum(values: Sequence[Any], names: Sequence[str] = ()) -> tuple[float, str]:
    """The sum of the typed weights and, when it cannot be applied, why (shown live, naming the
    version and the value typed)."""
    labels = list(names) + [f"weight {i + 1}" for i in range(len(names), len(values))]

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    total = float(sum(v for v in values if is_number(v)))
    empty = [n for n, v in zip(labels, values, strict=False) if not is_number(v)]
    if empty:
        return total, f"{', '.join(empty)}: enter a whole number from 0 to 100"
    wrong = [
        f"{n} {v:g}"
        for n, v in zip(labels, values, strict=False)
        if not float(v).is_integer() or not 0 <= v <= 100
    ]
    if wrong:
        return total, f"{', '.join(wrong)}: weights are whole numbers from 0 to 100"
    if total != 100:
        return total, f"weights must add up to 100 ({total - 100:+g})"
    return total, ""


def policy_values(values: Sequence[Any], ids: Sequence[Mapping[str, str]]) -> dict[str, dict]:
    """The filled traffic-policy fields, by section; whole numbers typed as text become ints."""
    out: dict[str, dict[str, Any]] = {}
    for i, v in zip(ids, values, strict=True):
        text = v.strip() if isinstance(v, str) else v
        if text in (None, ""):
            continue
        if isinstance(text, str) and re.fullmatch(r"-?\d+", text):
            text = int(text)
        out.setdefault(i["section"], {})[i["field"]] = text
    return out


def current_policy(policy: Mapping[str, Any] | None) -> dict[tuple[str, str], Any]:
    """(section, field) -> the value the DestinationRule has now, for the form's placeholders."""
    out: dict[tuple[str, str], Any] = {}
    for section, fields in POLICY_FIELDS.items():
        for key, (path, _kind, _low) in fields.items():
            node: Any = policy or {}
            for step in path:
                node = node.get(step) if isinstance(node, Mapping) else None
            if node is not None:
                out[(section, key)] = node
    return out


def review_link(namespace: str, service: str, baseline: str | None, canary: str | None) -> str:
    """The release review page for the pair: verdict, figures, graph diff, report."""
    return page_link(
        "/review", namespace=namespace, service=service, baseline=baseline, canary=canary
    )
