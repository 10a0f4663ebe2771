"""List page: the services, workloads or apps of chosen namespaces with their health, worst
first; sortable by any column, filterable, each row linking to its own page.

/list?namespace=NS[&namespace=NS2]&kind=service|workload|app&window=5m&sort=health&order=asc
&filter=TEXT. The namespace picker offers the discovered namespaces (views.inventory).
"""

from __future__ import annotations

from typing import Any

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from dashboards.components.banner import error_banner
from dashboards.kit import (
    LIST_REFRESH_S,
    WINDOWS,
    UrlParam,
    control,
    control_bar,
    past_banner,
    register_time,
    register_url_sync,
    time_control,
    time_note,
    url_at,
    window_control,
)
from mesh.errors import MeshdashError, NamespaceNotFound
from mesh.inventory import KINDS, SORT_KEYS
from presentation import numbers as fmt
from presentation import palette
from views.inventory import discover_namespaces, list_view, page_link, parse_list_params
from views.params import get_list, get_one
from wiring.services import services

KIND_LABELS = {"service": "Services", "workload": "Workloads", "app": "Apps"}
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "Name"),
    ("namespace", "Namespace"),
    ("health", "Health"),
    ("rps", "Requests"),
    ("error_rate", "Errors"),
    ("p95", "p95"),
)
# A first click on a figure column shows the biggest first; names sort A to Z.
FIRST_ORDER = {"name": "asc", "namespace": "asc", "health": "asc"}


def _opt(query: dict[str, Any], key: str, allowed, default: str) -> str:
    try:
        value = get_one(query, key, default)
    except MeshdashError:
        return default
    return value if value in allowed else default


def _namespaces(query: dict[str, Any], defaults: tuple[str, ...]) -> list[str]:
    try:
        return get_list(query, "namespace") or list(defaults)
    except MeshdashError:
        return list(defaults)


def _options(chosen: list[str]) -> list[str]:
    """Discovered namespaces plus the chosen ones (a missing one stays visible, and is named in
    the banner); discovery failing leaves the chosen only: the table's banner says why."""
    try:
        found = discover_namespaces(services()).names
    except MeshdashError:
        found = ()
    return sorted({*found, *chosen})


def layout(**query: Any) -> html.Div:
    """/list?namespace=NS&kind=service&window=5m&sort=health&order=asc&filter="""
    svc = services()
    chosen = _namespaces(query, svc.settings.default_namespaces)
    state = {
        "sort": _opt(query, "sort", SORT_KEYS, "health"),
        "order": _opt(query, "order", ("asc", "desc"), "asc"),
    }
    try:
        text = get_one(query, "filter", "") or ""
    except MeshdashError:
        text = ""
    at = url_at(query)
    return html.Div(
        [
            html.H2("Services, workloads and apps, worst first", id="inv-title"),
            control_bar(
                [
                    control(
                        "Namespaces",
                        dcc.Dropdown(
                            id="inv-namespaces",
                            options=_options(chosen),
                            value=chosen,
                            multi=True,
                            clearable=False,
                            placeholder="Choose namespaces",
                        ),
                        wide=True,
                    ),
                    control(
                        "Show",
                        dcc.RadioItems(
                            id="inv-kind",
                            options=[{"label": KIND_LABELS[k], "value": k} for k in KINDS],
                            value=_opt(query, "kind", KINDS, "service"),
                            inline=True,
                            className="md-radio",
                        ),
                    ),
                    window_control("inv-window", WINDOWS, _opt(query, "window", WINDOWS, "5m")),
                    time_control("inv", at),
                    control(
                        "Filter",
                        dcc.Input(
                            id="inv-filter",
                            value=text[:100],
                            type="search",
                            debounce=0.3,
                            placeholder="e.g. reviews v2",
                            className="md-input",
                        ),
                    ),
                ]
            ),
            past_banner("inv", at),
            html.Div(id="inv-banner"),
            html.Div(
                [html.Span(time_note(at, LIST_REFRESH_S)), html.Span(id="inv-count")],
                className="md-hint",
            ),
            dcc.Loading(html.Div(id="inv-table"), type="dot", delay_show=400),
            dcc.Store(id="inv-sort", data=state),
            dcc.Interval(
                id="inv-interval", interval=LIST_REFRESH_S * 1000, disabled=at is not None
            ),
            dcc.Store(id="inv-at", data=at),
            html.Div(id="inv-url-sink", hidden=True),
        ],
        className="md-page md-page-list",
    )


def _header(key: str, label: str, sort: dict[str, str]) -> html.Th:
    active = sort["sort"] == key
    arrow = ("▲" if sort["order"] == "asc" else "▼") if active else ""
    return html.Th(
        html.Button(
            [label, html.Span(arrow, className="md-sort-arrow")],
            id={"type": "inv-sort-col", "col": key},
            className="md-sort" + (" md-sort-active" if active else ""),
            title=f"Sort by {label.lower()}",
        ),
        className="md-num" if key in ("rps", "error_rate", "p95") else None,
        **(
            {"aria-sort": "ascending" if sort["order"] == "asc" else "descending"} if active else {}
        ),
    )


def _row(r: dict[str, Any]) -> html.Tr:
    has_traffic = r["rps"] > 0
    outbound = None
    if not has_traffic and r["rps_out"] > 0:
        outbound = html.Span(f"sends {fmt.rps(r['rps_out'])}", className="md-hint")
    return html.Tr(
        [
            html.Td(html.A(r["name"], href=r["link"], className="md-inv-name")),
            html.Td(r["namespace"]),
            html.Td(
                html.Span(
                    palette.HEALTH_LABELS[r["health"]], className=f"md-chip md-chip-{r['health']}"
                )
            ),
            html.Td([fmt.rps(r["rps"]), " ", outbound], className="md-num"),
            html.Td(
                fmt.percent(r["error_rate"], 2) if has_traffic or r["rps_out"] > 0 else "–",
                className="md-num",
            ),
            html.Td(fmt.ms(r["p95_ms"]), className="md-num"),
            html.Td(", ".join(r["versions"]) or "–", className="md-inv-versions"),
        ],
        className=f"md-inv-row md-row-{r['health']}",
        **{"data-name": f"{r['namespace']}/{r['name']}"},
    )


def list_table(body: dict[str, Any], sort: dict[str, str]) -> html.Div:
    noun = KIND_LABELS[body["kind"]].lower()
    if not body["rows"]:
        where = ", ".join(body["namespaces"])
        text = (
            f"No {noun} match “{body['filter']}”."
            if body["total"]
            else f"No {noun} with traffic in {where} in the last {body['window']}."
        )
        return html.Div(text, className="md-empty md-card", id="inv-empty")
    head = html.Tr([*[_header(k, label, sort) for k, label in COLUMNS], html.Th("Versions")])
    return html.Div(
        html.Table(
            [html.Thead(head), html.Tbody([_row(r) for r in body["rows"]])],
            className="md-table",
            id="inv-rows",
        ),
        className="md-card md-table-card",
    )


def _not_found_banner(exc: NamespaceNotFound, kind: str, window: str) -> html.Div:
    links = [
        html.A(name, href=page_link("/list", namespace=name, kind=kind, window=window))
        for name in exc.suggestions
    ]
    hint = [html.Span(" Did you mean "), *_joined(links), html.Span("?")] if links else []
    names = ", ".join(exc.missing)
    title = f"Namespace{'s' if len(exc.missing) > 1 else ''} not found: "
    return html.Div(
        [html.Strong(title), html.Span(f"{names} ({exc.why})."), *hint],
        className="md-banner md-banner-warning md-banner-not-found",
        role="alert",
        id="inv-not-found",
    )


def _joined(items: list) -> list:
    out: list = []
    for i, item in enumerate(items):
        out.extend([", "] if i else [])
        out.append(item)
    return out


def register_callbacks(app) -> None:
    @app.callback(
        Output("inv-sort", "data"),
        Input({"type": "inv-sort-col", "col": ALL}, "n_clicks"),
        State("inv-sort", "data"),
        prevent_initial_call=True,
    )
    def resort(clicks, sort):
        col = ctx.triggered_id["col"] if ctx.triggered_id and any(clicks) else None
        if col is None:
            return no_update
        if sort["sort"] == col:
            return {"sort": col, "order": "desc" if sort["order"] == "asc" else "asc"}
        return {"sort": col, "order": FIRST_ORDER.get(col, "desc")}

    @app.callback(
        Output("inv-table", "children"),
        Output("inv-banner", "children"),
        Output("inv-count", "children"),
        Input("inv-namespaces", "value"),
        Input("inv-kind", "value"),
        Input("inv-window", "value"),
        Input("inv-filter", "value"),
        Input("inv-sort", "data"),
        Input("inv-interval", "n_intervals"),
        State("inv-at", "data"),
    )
    def refresh(namespaces, kind, window, text, sort, _n, at):
        args = {
            **({"at": at} if at else {}),
            "namespace": list(namespaces or []),
            "kind": kind,
            "window": window,
            "filter": text or "",
            **sort,
        }
        try:
            body = list_view(services(), parse_list_params(args))
        except NamespaceNotFound as e:
            return None, _not_found_banner(e, kind, window), None
        except MeshdashError as e:
            return None, error_banner(e), None
        noun = KIND_LABELS[body["kind"]].lower()
        shown, total = len(body["rows"]), body["total"]
        count = f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        quiet = [
            html.Span(f"No traffic in {', '.join(body['quiet'])} in the last {body['window']}.")
        ]
        return (
            list_table(body, sort),
            None,
            [f" · {count}", " · " if body["quiet"] else "", *(quiet if body["quiet"] else [])],
        )

    register_time(app, "inv")
    register_url_sync(
        app,
        "inv-url-sink",
        [
            UrlParam("namespace", "inv-namespaces", how="each"),
            UrlParam("kind", "inv-kind", how="always"),
            UrlParam("window", "inv-window", how="always"),
            UrlParam("sort", "inv-sort", "data", how="always", field="sort"),
            UrlParam("order", "inv-sort", "data", how="always", field="order"),
            UrlParam("filter", "inv-filter"),
            UrlParam("at", "inv-at", "data"),
        ],
    )
