"""meshdash: CLI, settings and the app factory. `python app.py` runs the Bookinfo demo."""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Sequence

import dash
from dash import dcc, html

import api
from config import Settings
from dashboards import PAGES
from dashboards.shell import header
from ops import register_ops
from ops.logging_setup import configure_logging
from services import Services, build_services

log = logging.getLogger("meshdash")


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
    api.register(app.server, services)
    register_ops(app.server, services)  # /healthz, /readyz, /metrics, request timing
    for page in PAGES:
        module = importlib.import_module(page.module)
        dash.register_page(page.module, path=page.path, name=page.title, layout=module.layout)
        module.register_callbacks(app)
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
    p.add_argument("--jaeger", metavar="URL", help="Jaeger query base URL")
    p.add_argument("--kube", action="store_true", default=None, help="read routes from Kubernetes")
    p.add_argument("--kube-context", metavar="NAME", help="kubeconfig context")
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8050)")
    p.add_argument("--namespace", action="append", help="default namespace(s) shown")
    p.add_argument("--enable-writes", action="store_true", default=None, help="allow route edits")
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
    }
    return Settings(**{k: v for k, v in given.items() if v is not None})


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_args(argv)
    configure_logging(settings.log_level)
    app = create_app(settings)
    mode = "demo (simulated Bookinfo)" if settings.demo else settings.prometheus_url
    log.info("meshdash on http://%s:%d/ - data: %s", settings.host, settings.port, mode)
    app.run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
