"""Review page: is the canary at least as good as its baseline, and may it take all the traffic?

/review?namespace=NS&service=SVC&baseline=v1&canary=v2&window=10m[&before=UNIX][&at=UNIX]

The page is the canary panel (dashboards/components/canary_panel.py) with its controls, a
refresh so the verdict follows the traffic, and the report downloads (Markdown and one
self-contained HTML file), made from the review on screen so the file says what the page said.
In demo mode a small "Simulate" card makes the canary slow or failing in the simulator
(TrafficState.set_fault): there is no real workload to break, and the verdict should be seen
to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import Input, Output, State, ctx, dcc, html, no_update

from dashboards.components.banner import error_banner, failure_banners, info_banner
from dashboards.components.canary_panel import render
from dashboards.components.links import service_link
from dashboards.kit import (
    REFRESH,
    WINDOWS,
    UrlParam,
    control,
    control_bar,
    past_banner,
    refresh_control,
    refresh_now,
    refresh_timer,
    register_refresh,
    register_time,
    register_url_sync,
    time_control,
    url_window,
    window_control,
)
from mesh.errors import MeshdashError
from mesh.releases.roles import default_roles
from reports.review_files import report_document
from views.params import get_one
from views.release_choices import review_services, service_versions
from views.review import parse_review_params, release_roles, review_view
from wiring.services import services

SLOW_FACTOR = 10.0  # the demo's "slow" canary: ten times its usual server time
FAIL_RATE = 0.05  # the demo's "failing" canary: 5% extra 5xx
SECTION_LABELS: dict[str, str] = {
    "routing": "current split, weight markers and audit entries",
    "series": "success rate and p99 over time",
    "diff": "graph diff",
    "time_by_version": "where time goes by version",
}


def _safe(query: Mapping[str, Any], key: str) -> str | None:
    try:
        return get_one(query, key) or None
    except MeshdashError:
        return None


def layout(**query: Any) -> html.Div:
    svc = services()
    namespace = _safe(query, "namespace") or svc.settings.default_namespaces[0]
    service = _safe(query, "service")
    window = url_window(query, "10m")
    windows = WINDOWS if window in WINDOWS else (*WINDOWS, window)
    refresh = _safe(query, "refresh") or "15s"
    refresh = refresh if refresh in REFRESH else "15s"
    namespaces = sorted({*svc.settings.default_namespaces, namespace})
    at = _safe(query, "at")
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.H2("Release review"),
                            html.P(
                                "Canary against baseline: the verdict and why, the evidence "
                                "behind it, and the next step.",
                                className="md-hint",
                            ),
                        ]
                    ),
                    html.Div(
                        [
                            html.Button(
                                "Download report (HTML)",
                                id="rv-download-html",
                                className="md-button",
                                title="One self-contained file: opens without network",
                            ),
                            html.Button("Markdown", id="rv-download-md", className="md-button"),
                            html.A(
                                "Service metrics →",
                                id="rv-service-link",
                                href=service_link(namespace, service or "", window, at),
                                hidden=not service,
                                className="md-button md-link-button",
                            ),
                        ],
                        className="rv-downloads",
                    ),
                ],
                className="rv-head",
            ),
            control_bar(
                [
                    control(
                        "Namespace",
                        dcc.Dropdown(
                            id="rv-namespace", options=namespaces, value=namespace, clearable=False
                        ),
                    ),
                    control(
                        "Service",
                        dcc.Dropdown(
                            id="rv-service",
                            options=[service] if service else [],
                            value=service,
                            clearable=False,
                            placeholder="Choose a service",
                        ),
                    ),
                    control(
                        "Baseline (stable)",
                        dcc.Dropdown(id="rv-baseline", clearable=False, placeholder="version"),
                    ),
                    control(
                        "Canary (new)",
                        dcc.Dropdown(id="rv-canary", clearable=False, placeholder="version"),
                    ),
                    window_control("rv-window", windows, window, label="Analysis window"),
                    time_control("rv", at),
                    refresh_control("rv-refresh", REFRESH, refresh, at),
                    refresh_now("rv-refresh-now"),
                ]
            ),
            _simulate_card() if svc.mode == "demo" else html.Div(id="rv-simulate"),
            past_banner("rv", at),
            html.Div(id="rv-banner"),
            dcc.Loading(
                html.Div(id="rv-body"),
                id="rv-loading",
                type="dot",
                delay_show=600,
                overlay_style={"visibility": "visible", "opacity": 0.7},
            ),
            dcc.Store(id="rv-data"),
            dcc.Store(
                id="rv-init",
                data={
                    "baseline": _safe(query, "baseline"),
                    "canary": _safe(query, "canary"),
                    "before": _safe(query, "before"),
                    "at": at,
                },
            ),
            dcc.Store(id="rv-at", data=at),
            dcc.Store(id="rv-sim-done", data=0),
            dcc.Download(id="rv-download"),
            refresh_timer("rv-interval", REFRESH, refresh, at),
            html.Div(id="rv-url-sink", hidden=True),
        ],
        className="md-page md-page-review",
    )


def _simulate_card() -> html.Div:
    return html.Div(
        [
            html.Span("Simulate (demo only)", className="rv-sim-title"),
            html.Button("Make the canary slow", id="rv-sim-slow", className="md-button"),
            html.Button("Make it fail 5%", id="rv-sim-fail", className="md-button"),
            html.Button("Heal it", id="rv-sim-heal", className="md-button"),
            html.Span(id="rv-sim-status", className="rv-sim-status"),
        ],
        className="rv-simulate",
        id="rv-simulate",
    )


# --- data ----------------------------------------------------------------------------------


def service_options(namespace: str) -> list[str]:
    return review_services(services(), namespace)


def versions_of(namespace: str, service: str) -> tuple[list[str], dict[str, int]]:
    return service_versions(services(), namespace, service)


def workload_of(namespace: str, service: str, version: str) -> str | None:
    """The simulated workload serving `version` of `service`, or None (outside the demo)."""
    demo = services().demo
    return None if demo is None else demo.workload_of(namespace, service, version)


def fault_text(namespace: str, service: str, version: str) -> str:
    demo = services().demo
    workload = workload_of(namespace, service, version)
    if demo is None or workload is None:
        return f"no simulated workload for {service} {version}"
    fault = demo.fault(namespace, workload)
    parts = []
    if fault.latency_factor != 1.0:
        parts.append(f"{fault.latency_factor:g}× slower")
    if fault.error_rate:
        parts.append(f"{fault.error_rate * 100:g}% extra 5xx")
    return f"{workload}: " + (" and ".join(parts) if parts else "healthy")


# --- callbacks -----------------------------------------------------------------------------


def register_callbacks(app) -> None:
    _register_choices(app)
    _register_review(app)
    _register_simulate(app)
    _register_url(app)


def _register_choices(app) -> None:
    """The service, then its two versions: as asked, else the release in progress."""

    @app.callback(
        Output("rv-service", "options"),
        Output("rv-service", "value"),
        Input("rv-namespace", "value"),
        State("rv-service", "value"),
    )
    def choose_service(namespace, current):
        names = service_options(namespace) if namespace else []
        options = sorted({*names, *([current] if current else [])})
        if current in options:
            return options, current
        return options, (names[0] if names else None)

    @app.callback(
        Output("rv-baseline", "options"),
        Output("rv-baseline", "value"),
        Output("rv-canary", "options"),
        Output("rv-canary", "value"),
        Input("rv-namespace", "value"),
        Input("rv-service", "value"),
        State("rv-baseline", "value"),
        State("rv-canary", "value"),
        State("rv-init", "data"),
    )
    def choose_versions(namespace, service, baseline, canary, init):
        if not namespace or not service:
            return [], None, [], None
        init = init or {}
        try:
            versions, weights = versions_of(namespace, service)
        except MeshdashError:
            versions, weights = [], {}
        try:  # the pair being released now: the canary is where the split moves traffic
            _, live_base, live_canary = release_roles(services(), namespace, service)
        except MeshdashError:
            live_base = live_canary = None
        wanted = [v for v in (baseline, canary, init.get("baseline"), init.get("canary")) if v]
        versions = list(dict.fromkeys([*versions, *wanted]))
        weights = {v: weights.get(v, 0) for v in versions}
        # What the person chose (or the URL asked) is kept as given, even when the view will
        # refuse it: a review never silently compares other versions than the ones asked for.
        stable = baseline or init.get("baseline")
        new = canary or init.get("canary")
        if stable and new:
            return versions, stable, versions, new
        fallback = default_roles(weights, stable or live_base, new or live_canary)
        return versions, stable or fallback[0], versions, new or fallback[1]


def _register_review(app) -> None:
    """Load the review on every change and refresh, draw it, download it as a report."""

    @app.callback(
        Output("rv-data", "data"),
        Output("rv-banner", "children"),
        Input("rv-namespace", "value"),
        Input("rv-service", "value"),
        Input("rv-baseline", "value"),
        Input("rv-canary", "value"),
        Input("rv-window", "value"),
        Input("rv-interval", "n_intervals"),
        Input("rv-refresh-now", "n_clicks"),
        Input("rv-sim-done", "data"),
        State("rv-init", "data"),
    )
    def load(namespace, service, baseline, canary, window, _n, _clicks, _sim, init):
        if not service:
            return None, info_banner("Choose a service with two versions to review.")
        if not baseline or not canary:
            return None, info_banner(f"{service} needs two versions to compare.")
        args = {
            "namespace": namespace,
            "service": service,
            "baseline": baseline,
            "canary": canary,
            "window": window,
        }
        for key in ("before", "at"):
            if (init or {}).get(key):
                args[key] = init[key]
        try:
            data = review_view(services(), parse_review_params(args))
            return data, failure_banners(data["failures"], SECTION_LABELS) or None
        except Exception as exc:  # every failure is a banner, never a traceback
            keep = no_update if ctx.triggered_id == "rv-interval" else None
            return keep, error_banner(exc)

    @app.callback(Output("rv-body", "children"), Input("rv-data", "data"))
    def draw(data):
        if not data:
            return []
        try:
            return render(data)
        except Exception as exc:
            return error_banner(exc)

    register_refresh(app, "rv-interval", "rv-refresh", REFRESH, at_store="rv-at")
    register_time(app, "rv")

    @app.callback(
        Output("rv-service-link", "href"),
        Output("rv-service-link", "hidden"),
        Input("rv-namespace", "value"),
        Input("rv-service", "value"),
        Input("rv-window", "value"),
        State("rv-at", "data"),
    )
    def service_page(namespace, service, window, at):
        """The reviewed service's own page, at the same window and time."""
        return service_link(namespace, service or "", window, at), not service

    @app.callback(
        Output("rv-download", "data"),
        Input("rv-download-md", "n_clicks"),
        Input("rv-download-html", "n_clicks"),
        State("rv-data", "data"),
        prevent_initial_call=True,
    )
    def download(_md, _html, data):
        if not data or not ctx.triggered or not ctx.triggered[0]["value"]:
            return no_update
        kind = "md" if ctx.triggered_id == "rv-download-md" else "html"
        filename, mimetype, text = report_document(data, kind)
        return {"content": text, "filename": filename, "type": mimetype, "base64": False}


def _register_simulate(app) -> None:
    """The demo's fault switches."""

    # The demo's fault controls: their buttons exist only in demo mode, so live apps never fire it.
    @app.callback(
        Output("rv-sim-status", "children"),
        Output("rv-sim-done", "data"),
        Input("rv-sim-slow", "n_clicks"),
        Input("rv-sim-fail", "n_clicks"),
        Input("rv-sim-heal", "n_clicks"),
        Input("rv-canary", "value"),
        State("rv-namespace", "value"),
        State("rv-service", "value"),
        State("rv-sim-done", "data"),
    )
    def simulate(_slow, _fail, _heal, canary, namespace, service, done):
        demo = services().demo
        if demo is None or not service or not canary:
            return "", no_update
        trigger = ctx.triggered_id
        w = workload_of(namespace, service, canary)
        if trigger in ("rv-sim-slow", "rv-sim-fail", "rv-sim-heal") and w is not None:
            current = demo.fault(namespace, w)
            if trigger == "rv-sim-slow":
                demo.set_fault(namespace, w, SLOW_FACTOR, current.error_rate)
            elif trigger == "rv-sim-fail":
                demo.set_fault(namespace, w, current.latency_factor, FAIL_RATE)
            else:
                demo.set_fault(namespace, w, 1.0, 0.0)
            return fault_text(namespace, service, canary), (done or 0) + 1
        return fault_text(namespace, service, canary), no_update


def _register_url(app) -> None:
    """The page's state in the address bar."""

    register_url_sync(
        app,
        "rv-url-sink",
        [
            UrlParam("namespace", "rv-namespace"),
            UrlParam("service", "rv-service"),
            UrlParam("baseline", "rv-baseline"),
            UrlParam("canary", "rv-canary"),
            UrlParam("window", "rv-window"),
            UrlParam("refresh", "rv-refresh"),
            UrlParam("before", "rv-init", "data", field="before", state=True),
            UrlParam("at", "rv-init", "data", field="at", state=True),
        ],
    )
