"""meshdash: CLI, settings and the app factory. `python app.py` runs the Bookinfo demo."""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Sequence

import dash
from dash import dcc, html

import api
from collectors.http import display_url
from dashboards import PAGES
from dashboards.shell import header, register_shell
from ops.heap import freeze_startup_heap
from ops.logging_setup import configure_logging
from serving import guards
from serving.ops_endpoints import register_ops
from serving.prefetch import register_prefetch
from serving.rollout_ticker import start_rollout_driver
from wiring.services import Services, build_services
from wiring.settings import Settings

log = logging.getLogger("meshdash")
PREFETCH_KEY = "meshdash.prefetch"  # server.extensions: {page path: its Prefetches}


def create_app(settings: Settings | None = None, services: Services | None = None) -> dash.Dash:
    """Build the Dash app (and its Flask server) around one Services object."""
    settings = settings or Settings()
    services = services or build_services(settings)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        title="meshdash",
        update_title=None,
        suppress_callback_exceptions=True,
        assets_folder="assets",
    )
    guards.install(app.server, services.settings)  # body size, framing, client, no 500s
    api.register(app.server, services)
    register_ops(app.server, services)  # /healthz, /readyz, /metrics, request timing
    start_rollout_driver(services)  # guided rollouts: only where writes are enabled
    for page in PAGES:
        module = importlib.import_module(page.module)
        dash.register_page(page.module, path=page.path, name=page.title, layout=module.layout)
        module.register_callbacks(app)
        if hasattr(module, "prefetch"):  # its first answer, started as the page is requested
            prefetches = register_prefetch(app.server, page.path, module.prefetch)
            app.server.extensions.setdefault(PREFETCH_KEY, {})[page.path] = prefetches
    register_shell(app)  # the 404 page and the navigation's current-page mark
    app.layout = html.Div(
        [
            dcc.Location(id="shell-url", refresh=False),
            header(services),
            html.Main(dash.page_container, className="md-main"),
        ],
        className="md-app",
    )
    return app


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    """CLI flags override MESHDASH_* environment variables, which override defaults."""
    p = argparse.ArgumentParser(prog="meshdash", description=__doc__)
    p.add_argument("--prometheus", metavar="URL", help="Prometheus base URL (unset: demo)")
    p.add_argument(
        "--prometheus-cluster",
        metavar="CLUSTER=URL",
        action="append",
        help="one Prometheus per cluster instead of --prometheus (repeatable)",
    )
    p.add_argument("--jaeger", metavar="URL", help="Jaeger query base URL")
    p.add_argument("--kube", action="store_true", default=None, help="read routes from Kubernetes")
    p.add_argument("--kube-context", metavar="NAME", help="kubeconfig context")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8050)")
    p.add_argument("--namespace", action="append", help="default namespace(s) shown")
    p.add_argument("--enable-writes", action="store_true", default=None, help="allow route edits")
    p.add_argument(
        "--demo-ambient",
        action="store_true",
        default=None,
        help="demo: Bookinfo in Istio's ambient mode (waypoint-reported telemetry)",
    )
    for backend in ("prometheus", "jaeger"):
        _backend_flags(p, backend)
    a = p.parse_args(argv)
    given = {
        "prometheus_url": a.prometheus,
        "jaeger_url": a.jaeger,
        "kube_enabled": a.kube,
        "kube_context": a.kube_context,
        "host": a.host,
        "port": a.port,
        "default_namespaces": tuple(a.namespace) if a.namespace else None,
        "write_enabled": a.enable_writes,
        "demo_ambient": a.demo_ambient,
    }
    for backend in ("prometheus", "jaeger"):
        given.update(_backend_values(p, a, backend))
    if a.prometheus_cluster:
        clusters = {}
        for item in a.prometheus_cluster:
            name, sep, url = item.partition("=")
            if not sep or not name.strip() or not url.strip():
                p.error(f"--prometheus-cluster wants CLUSTER=URL, got {name.strip() or item!r}")
            clusters[name.strip()] = url.strip()
        given["prometheus_clusters"] = clusters
    return Settings(**{k: v for k, v in given.items() if v is not None})


_CONNECTION_FLAGS = (  # (flag suffix, setting suffix, metavar, help); secrets are env-only
    ("timeout", "timeout_s", "SECONDS", "request timeout"),
    ("bearer-token-file", "bearer_token_file", "PATH", "bearer token file, re-read on change"),
    ("basic-auth-user", "basic_auth_user", "USER", "basic auth user (password: env only)"),
    ("ca-file", "ca_file", "PATH", "CA bundle for its TLS certificate"),
    ("cert-file", "cert_file", "PATH", "client certificate (mTLS)"),
    ("key-file", "key_file", "PATH", "client certificate key (mTLS)"),
)


def _backend_flags(p: argparse.ArgumentParser, backend: str) -> None:
    """Connection flags per backend (docs/backends.md). Tokens and passwords have no flag:
    a command line is visible to every local user, so they come from the environment or a file."""
    for flag, _, metavar, text in _CONNECTION_FLAGS:
        kind = float if flag == "timeout" else str
        p.add_argument(f"--{backend}-{flag}", metavar=metavar, type=kind, help=f"{backend}: {text}")
    p.add_argument(
        f"--{backend}-header",
        metavar="NAME=VALUE",
        action="append",
        help=f"{backend}: extra request header, e.g. X-Scope-OrgID=tenant-a (repeatable)",
    )
    p.add_argument(
        f"--{backend}-insecure-skip-verify",
        action="store_true",
        default=None,
        help=f"{backend}: do not verify its TLS certificate (logs a warning)",
    )


def _backend_values(p: argparse.ArgumentParser, a: argparse.Namespace, backend: str) -> dict:
    attr = backend.replace("-", "_")
    values = {
        f"{backend}_{setting}": getattr(a, f"{attr}_{flag.replace('-', '_')}")
        for flag, setting, _, _ in _CONNECTION_FLAGS
    }
    values[f"{backend}_insecure_skip_verify"] = getattr(a, f"{attr}_insecure_skip_verify")
    headers = getattr(a, f"{attr}_header")
    if headers:
        parsed = {}
        for item in headers:
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                p.error(f"--{backend}-header wants NAME=VALUE, got {name.strip() or item!r}")
            parsed[name.strip()] = value.strip()
        values[f"{backend}_headers"] = parsed
    return values


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_args(argv)
    configure_logging(settings.log_level)
    app = create_app(settings)
    freeze_startup_heap()  # ops/heap.py
    if settings.demo:
        mode = "demo (simulated Bookinfo)"
    elif settings.prometheus_clusters:
        mode = ", ".join(
            f"{name}={display_url(url)}"
            for name, url in sorted(settings.prometheus_clusters.items())
        )
    else:
        mode = display_url(settings.prometheus_url)
    log.info("meshdash on http://%s:%d/ - data: %s", settings.host, settings.port, mode)
    app.run(
        host=settings.host,
        port=settings.port,
        debug=False,
        request_handler=guards.DevRequestHandler,
    )


if __name__ == "__main__":
    main()
