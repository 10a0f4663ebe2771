"""The releases page's pieces: split bars, per-version figures, diffs, the preview dialog, history.

Pure: JSON from views/routes.py and views/history.py in, Dash components out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashboards.components.banner import error_banner
from dashboards.components.links import page_link
from mesh.errors import BadRequest, Conflict
from mesh.releases.audit import iso_time
from presentation import numbers as fmt
from presentation.charts import version_colors
from presentation.palette import HEALTH_COLORS, VERDICT_COLORS
from reports.release_report import VERDICT_LABELS

SEGMENT_LABEL_MIN = 8  # a segment narrower than this many percent carries no text


def split_bar(
    weights: Mapping[str, int],
    colours: Mapping[str, str] | None = None,
    *,
    bar_id: str | None = None,
    small: bool = False,
    label_min: int = SEGMENT_LABEL_MIN,
) -> html.Div:
    """The split as one stacked bar (no segment for 0 %) with a legend naming every version."""
    colours = colours or version_colors(list(weights))
    segments = [
        html.Div(
            f"{v} {w}%" if w >= label_min and not small else "",
            className="rel-seg",
            title=f"{v}: {w}%",
            style={"width": f"{w}%", "background": colours[v]},
        )
        for v, w in weights.items()
        if w > 0
    ]
    bar_props: dict[str, Any] = {"className": "rel-bar rel-bar-small" if small else "rel-bar"}
    if bar_id:
        bar_props["id"] = bar_id
    legend = [
        html.Span(
            [html.I(style={"background": colours[v]}), f"{v} {w}%"],
            className="rel-legend-item" + (" rel-legend-off" if w == 0 else ""),
        )
        for v, w in weights.items()
    ]
    return html.Div([html.Div(segments, **bar_props), html.Div(legend, className="rel-legend")])


API_NAMES = {"VirtualService": "Istio VirtualService", "HTTPRoute": "Gateway API HTTPRoute"}


def route_api_tag(detail: Mapping[str, Any]) -> html.Span | None:
    """Which API routes the service, named with its object, e.g. "Gateway API HTTPRoute reviews";
    None when nothing routes it yet."""
    api = detail.get("api")
    if api == "both":
        text = (
            f"VirtualService {detail.get('virtual_service')} and "
            f"HTTPRoute {detail.get('http_route')}: refused"
        )
        return html.Span(text, className="rel-tag rel-tag-owner", id="rel-api")
    if api not in API_NAMES:
        return None
    name = detail.get("http_route") if api == "HTTPRoute" else detail.get("virtual_service")
    return html.Span(f"{API_NAMES[api]} {name}", className="rel-tag rel-api", id="rel-api")


def service_list(
    services: Sequence[Mapping[str, Any]], namespace: str, selected: str | None
) -> html.Div:
    """The services with two or more versions, each a link with its split at a glance."""
    items = []
    for s in services:
        name = s["service"]
        weights = {v: int(s.get("weights", {}).get(v, 0)) for v in s.get("versions", [])}
        tags = []
        if s.get("owner"):
            tags.append(html.Span(f"managed by {s['owner']}", className="rel-tag rel-tag-owner"))
        if s.get("problem"):
            tags.append(html.Span("split not editable", className="rel-tag"))
        if s.get("api") == "HTTPRoute":
            tags.append(html.Span("Gateway API", className="rel-tag rel-api"))
        items.append(
            dcc.Link(
                [
                    html.Div([html.Strong(name), *tags], className="rel-svc-head"),
                    split_bar(weights, small=True),
                ],
                href=page_link("/releases", namespace=namespace, service=name),
                className="rel-svc" + (" rel-svc-selected" if name == selected else ""),
                id={"type": "rel-svc", "service": name},
            )
        )
    return html.Div(items, className="rel-svc-list")


FIGURE_KEYS = ("rps", "success_rate", "p95_ms")


def latest_figures(metrics: Mapping[str, Any]) -> dict[str, dict[str, float | None]]:
    """Per version, the newest point of each series (each a rate over the rate interval), so a
    shift shows within a refresh; the window's summary stands in where a series has no point."""
    series = metrics.get("series") or {}
    summary = metrics.get("summary") or {}
    versions = set(summary) | {v for key in FIGURE_KEYS for v in series.get(key) or {}}
    out: dict[str, dict[str, float | None]] = {}
    for v in versions:
        figures: dict[str, float | None] = {}
        for key in FIGURE_KEYS:
            points = [p for p in (series.get(key) or {}).get(v) or [] if p[1] is not None]
            figures[key] = points[-1][1] if points else (summary.get(v) or {}).get(key)
        out[v] = figures
    return out


def figures_table(
    weights: Mapping[str, int],
    summary: Mapping[str, Any],
    *,
    stable: str | None,
    canary: str | None,
    subsets: Sequence[str],
    window: str,
    colours: Mapping[str, str],
) -> html.Table:
    """Weight beside the live figures that justify changing it, one row per version."""
    head = html.Tr(
        [
            html.Th(h)
            for h in (
                "Version",
                "Weight",
                "Request rate",
                "Success",
                "p95",
            )
        ]
    )
    rows = []
    for v, w in weights.items():
        f = summary.get(v) or {}
        role = "stable" if v == stable else "canary" if v == canary else ""
        name: list[Any] = [html.I(className="rel-swatch", style={"background": colours[v]}), v]
        if role:
            name.append(html.Span(role, className=f"rel-role rel-role-{role}"))
        if subsets and v not in subsets:
            name.append(html.Span("no subset", className="rel-tag", title="not routable"))
        success = f.get("success_rate")
        low = isinstance(success, float) and success < 0.99
        rows.append(
            html.Tr(
                [
                    html.Td(html.Span(name, className="rel-version")),
                    html.Td(f"{w}%", className="rel-num"),
                    html.Td(fmt.rps(f.get("rps")), className="rel-num"),
                    html.Td(
                        fmt.percent(success, 2), className="rel-num rel-bad" if low else "rel-num"
                    ),
                    html.Td(fmt.ms(f.get("p95_ms")), className="rel-num"),
                ],
                id={"type": "rel-row", "version": v},
            )
        )
    return html.Table(
        [html.Thead(head), html.Tbody(rows)], className="rel-table", id="rel-figures-table"
    )


def diff_view(diff: str, pre_id: str = "rel-diff") -> html.Pre:
    """A unified YAML diff with added lines green and removed lines red."""

    def line(text: str) -> html.Span:
        if text.startswith(("+++", "---")):
            cls = "rel-diff-file"
        elif text.startswith("@@"):
            cls = "rel-diff-hunk"
        elif text.startswith("+"):
            cls = "rel-add"
        elif text.startswith("-"):
            cls = "rel-del"
        else:
            cls = "rel-ctx"
        return html.Span(text + "\n", className=cls)

    return html.Pre([line(t) for t in diff.splitlines()], className="rel-diff", id=pre_id)


def _split_of(destinations: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in destinations:
        key = d.get("subset") or "(all)"
        out[key] = out.get(key, 0) + int(d.get("weight") or 0)
    return out


def _write_text(w: Mapping[str, Any]) -> str:
    rv = w.get("base_resource_version")
    return f"{w['op']} {w['kind']} {w['name']}" + (f" (resourceVersion {rv})" if rv else "")


def refusal_banner(exc: Exception) -> html.Div:
    """A refused click in a person's words: "Not changed: <why, with the value given>"; not
    "Invalid input", since the click itself was valid. Other failures keep their banner."""
    if isinstance(exc, BadRequest | Conflict) and not getattr(exc, "diff", ""):
        return html.Div(
            [html.Strong("Not changed: "), html.Span(getattr(exc, "message", None) or str(exc))],
            className="md-banner md-banner-warning",
            role="alert",
            id="rel-refusal",
        )
    return error_banner(exc)


def verdict_box(verdict: Mapping[str, Any], needs_override: bool) -> html.Div:
    """The canary's verdict at the moment of the preview, in the confirmation itself."""
    word = verdict.get("verdict", "")
    label = VERDICT_LABELS.get(word, "No verdict" if word == "unavailable" else word)
    head = f"Verdict on {verdict.get('canary', '')} against {verdict.get('baseline', '')}: {label}"
    parts: list[Any] = [
        html.Strong(head),
        html.P(verdict.get("headline", ""), className="rel-verdict-headline"),
    ]
    headline = verdict.get("headline") or ""
    reasons = [r for r in verdict.get("reasons") or [] if not headline.endswith(r)]
    if reasons:
        parts.append(html.Ul([html.Li(r) for r in reasons]))
    if needs_override:
        parts.append(
            html.P(
                "The evidence says not to promote. Applying anyway is an override: give your "
                "reason below; the verdict and the override are recorded in the audit log.",
                className="rel-small",
            )
        )
    return html.Div(
        parts,
        className=f"rel-verdict-box rel-verdict-box-{word}",
        id="rel-preview-verdict",
        style={"borderLeftColor": VERDICT_COLORS.get(word, HEALTH_COLORS["idle"])},
        **{"data-verdict": word},
    )


def _before_after(before: dict[str, int], after: dict[str, int]) -> html.Div:
    colours = version_colors(list(dict.fromkeys([*before, *after])))
    return html.Div(
        [
            html.Div(
                [
                    html.Span("Before", className="rel-ba-label"),
                    split_bar(before, colours, label_min=20),
                ]
            ),
            html.Div(
                [
                    html.Span("After", className="rel-ba-label"),
                    split_bar(after, colours, label_min=20),
                ]
            ),
        ],
        className="rel-before-after",
    )


def _reason_field(reason: str, override: bool) -> html.Label:
    """The reason recorded in the audit log; going against the verdict requires one."""
    return html.Label(
        [
            html.Span(
                "Reason for going against the verdict (required, recorded in the audit log)"
                if override
                else "Reason (recorded in the audit log)",
                className="md-control-label",
            ),
            dcc.Input(
                id="rel-reason",
                value=reason,
                placeholder="why go ahead anyway, e.g. the errors are a known test client"
                if override
                else "why this change, e.g. canary healthy for 30 minutes",
                maxLength=500,
                className="rel-reason",
            ),
        ],
        className="md-control",
    )


def preview_dialog(body: Mapping[str, Any], reason: str) -> html.Div:
    """The dry run's result: before/after split, the diff, a reason, and Confirm (ticked first for
    take-over and retire, as Argo Rollouts asks)."""
    before, after = _split_of(body.get("before") or []), _split_of(body.get("after") or [])
    targets = ", ".join(_write_text(w) for w in body.get("writes") or [])
    parts: list[Any] = [
        html.H3("Preview"),
        html.P(body.get("summary", ""), className="rel-summary", id="rel-preview-summary"),
        html.P(
            [
                "The Kubernetes API accepted this change in a dry run; ",
                html.Strong("nothing is applied yet"),
                f". Writes: {targets}." if targets else ".",
            ],
            className="md-hint",
        ),
    ]
    if before != after and (before or after):
        parts.append(_before_after(before, after))
    override = bool(body.get("override_needed"))
    if body.get("verdict"):
        parts.insert(1, verdict_box(body["verdict"], override))
    parts.append(diff_view(body.get("diff", "")))
    parts.append(_reason_field(reason, override))
    confirm_text = body.get("confirm") or ""
    if override:
        v = body["verdict"]
        word = VERDICT_LABELS.get(v.get("verdict", ""), v.get("verdict", ""))
        confirm_text = f"I am overriding the {word} verdict on {v.get('canary', '')}" + (
            f"; {body['confirm']}" if body.get("confirm") else ""
        )
        tick = " " + confirm_text
    else:
        tick = " Yes: " + confirm_text
    parts.append(
        dcc.Checklist(
            id="rel-confirm-check",
            # "override": the page also wants a reason before Confirm is enabled
            options=[{"label": tick, "value": "override" if override else "yes"}]
            if confirm_text
            else [],
            value=[],
            className="rel-confirm-check" if confirm_text else "rel-hidden",
        )
    )
    parts.append(
        html.Div(
            [
                html.Button(
                    "Override and apply" if override else "Confirm and apply",
                    id="rel-confirm",
                    className="md-button md-button-danger"
                    if override
                    else "md-button md-button-primary",
                    disabled=bool(confirm_text),
                ),
                html.Button("Cancel", id="rel-cancel", className="md-button"),
            ],
            className="rel-buttons",
        )
    )
    return _dialog(parts, "rel-preview-card")


def conflict_dialog(message: str, diff: str) -> html.Div:
    """A 409: the other person's change, and nothing of ours written."""
    return _dialog(
        [
            html.H3("Someone else changed this route"),
            html.Div(
                [html.Strong("Nothing was applied. "), html.Span(message)],
                className="md-banner md-banner-warning",
                role="alert",
            ),
            html.P(
                "Their change since the preview you confirmed (the page now shows the current "
                "split):",
                className="md-hint",
            ),
            diff_view(
                diff or "(the object was deleted or no difference is available)",
                "rel-their-diff",
            ),
            html.Div(
                [html.Button("Close", id="rel-cancel", className="md-button md-button-primary")],
                className="rel-buttons",
            ),
        ],
        "rel-conflict",
    )


def _dialog(children: list[Any], card_id: str) -> html.Div:
    return html.Div(
        html.Div(children, className="rel-dialog", id=card_id, role="dialog"),
        className="rel-overlay",
    )


def objects_text(entry: Mapping[str, Any]) -> str:
    """The objects one action wrote, e.g. "VirtualService reviews, DestinationRule reviews"."""
    return ", ".join(
        f"{o.get('kind', '')} {o.get('name', '')}".strip() for o in entry.get("objects") or []
    )


def verdict_note(entry: Mapping[str, Any]) -> str:
    """The verdict a take-over or step-up was made under, and whether it was overridden."""
    v = entry.get("verdict") or {}
    if not v:
        return ""
    word = VERDICT_LABELS.get(v.get("verdict", ""), v.get("verdict", ""))
    if entry.get("override"):
        return f"override of the {word} verdict on {v.get('canary', '')}"
    return f"verdict then: {word}"


def audit_table(entries: Sequence[Mapping[str, Any]]) -> html.Div | html.Table:
    """Applied changes, newest first: one row per action (views.routes.audit_list)."""
    if not entries:
        return html.P(
            "No change recorded for this service yet. Applied changes appear here with who made "
            "them, when and why.",
            className="md-hint",
            id="rel-audit-empty",
        )
    head = html.Tr(
        [html.Th(h) for h in ("When (UTC)", "Who", "Action", "Change", "Reason", "Objects")]
    )
    rows = []
    for c in entries:
        when = c.get("when")
        stamp = (
            iso_time(when).replace("T", " ").rstrip("Z")
            if isinstance(when, int | float)
            else str(when)
        )
        reason: list[Any] = [c.get("reason") or html.Span("no reason given", className="md-hint")]
        note = verdict_note(c)
        if note:
            cls = "rel-override" if c.get("override") else "md-hint"
            reason += [html.Br(), html.Small(note, className=cls)]
        rows.append(
            html.Tr(
                [
                    html.Td(stamp, className="rel-nowrap"),
                    html.Td(c.get("who", "")),
                    html.Td(c.get("action", ""), className="rel-audit-action"),
                    html.Td(c.get("summary", "")),
                    html.Td(reason),
                    html.Td(objects_text(c), className="rel-objects"),
                ]
            )
        )
    return html.Table(
        [html.Thead(head), html.Tbody(rows)], className="rel-table", id="rel-audit-table"
    )


def match_routes(matches: Sequence[Mapping[str, Any]], writable: bool) -> html.Div:
    """The request-content routes in front of the split, each with a Remove button."""
    if not matches:
        return html.P("No request-content route yet.", className="md-hint", id="rel-matches")
    items = []
    for m in matches:
        dests = m.get("destinations", [])
        to = ", ".join(
            (d.get("subset") or "(all)") + (f" {d['weight']}%" if len(dests) > 1 else "")
            for d in dests
        )
        items.append(
            html.Li(
                [
                    html.Code(" and ".join(m.get("conditions") or ["(any request)"])),
                    html.Span(f" → {to}"),
                    html.Button(
                        "Remove",
                        id={"type": "rel-rm-match", "index": m["index"]},
                        className="md-button rel-small-button",
                        disabled=not writable,
                    ),
                ]
            )
        )
    return html.Ul(items, className="rel-match-list", id="rel-matches")


def mirror_state(mirrors: Sequence[Mapping[str, Any]]) -> html.P:
    if not mirrors:
        return html.P("Not mirroring.", className="md-hint", id="rel-mirror-now")
    text = "; ".join(
        f"{m['percentage']:g}% of live traffic copied to {m['subset'] or m['host']}"
        for m in mirrors
    )
    return html.P(["Now: ", html.Strong(text)], id="rel-mirror-now")
