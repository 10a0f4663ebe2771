"""Backends that misbehave on demand, for the fault matrix: a proxy in front of a real one.

`FaultProxy(upstream_url, poison)` listens on a loopback port and, in mode "ok", forwards every
request to the upstream (a real Prometheus, the demo's Jaeger endpoint, the fake Kubernetes API
of tests/kubeserver.py) and returns its answer unchanged. Other modes break the answer the way
real deployments do:

- "500": HTTP 500 with an error body each backend's client can read (Prometheus's errorType,
  Jaeger's errors[].msg, a Kubernetes Status message).
- "garbage": 200, Content-Type application/json, an HTML page (a proxy's error page).
- "nan" / "inf": the upstream's answer with numbers the client must read replaced by NaN or
  +Inf (`poison`, one per backend: sample values, span durations, route weights).
- "partial": the upstream's answer cut in half, under a Content-Length announcing all of it.
- "warnings": Prometheus only: the answer flagged as a partial response ("warnings", as Thanos
  sends when a store is down).
- "hang": wait `hang_s` (past the client's timeout) before answering.
- "401": the credentials refused.

`stop()` closes the listening socket, so clients get "connection refused"; `start()` listens on
the same port again, so the app recovers without being told anything.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from devtools.promserver import PrometheusServer
from tests.kubeserver import FakeKube

Poison = Callable[[bytes, str], bytes]  # (upstream body, "NaN" or "+Inf") -> poisoned body

MODES: tuple[str, ...] = (
    "ok",
    "500",
    "garbage",
    "nan",
    "inf",
    "partial",
    "warnings",
    "hang",
    "401",
)
ERROR_BODY = json.dumps(
    {
        "status": "error",
        "errorType": "internal",
        "error": "injected fault",
        "kind": "Status",
        "message": "injected fault",
        "code": 500,
        "data": None,
        "errors": [{"code": 500, "msg": "injected fault"}],
    }
).encode()
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_FORWARDED = ("Content-Type", "Authorization", "Accept")


# --- poisons: one per backend, each replaces the numbers its client must read -------------------
def poison_prometheus(body: bytes, token: str) -> bytes:
    """Every sample value of a vector or matrix: [1767225600,"0.5"] -> [1767225600,"NaN"]."""
    value = b'"NaN"' if token == "NaN" else b'"+Inf"'
    return re.sub(rb'(\[-?[0-9.eE+]+,)"[^"]*"\]', rb"\1" + value + rb"]", body)


def poison_json_field(*fields: str) -> Poison:
    """A JSON number field (Jaeger span durations, route weights) as a bare NaN/Infinity token,
    which Python's json module reads (as does any lenient proxy's JSON)."""
    names = b"|".join(re.escape(f.encode()) for f in fields)
    pattern = re.compile(rb'("(?:' + names + rb')"\s*:\s*)-?[0-9.eE+]+')

    def poison(body: bytes, token: str) -> bytes:
        return pattern.sub(rb"\1" + (b"NaN" if token == "NaN" else b"Infinity"), body)

    return poison


poison_jaeger = poison_json_field("duration")
poison_kube = poison_json_field("weight")


def add_warnings(body: bytes) -> bytes:
    """A Prometheus (or Thanos) answer flagged as partial."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if isinstance(payload, dict):
        payload["warnings"] = ["partial response: store 10.0.0.7:10901 is unreachable"]
    return json.dumps(payload, separators=(",", ":")).encode()  # as Go encodes it


class FaultProxy:
    """See the module docstring. Set `mode` at any time; `requests_seen` counts what arrived."""

    def __init__(self, upstream: str, poison: Poison, *, hang_s: float = 3.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.poison = poison
        self.hang_s = hang_s
        self.mode = "ok"
        self.requests_seen = 0
        self._session = requests.Session()
        self._server: ThreadingHTTPServer | None = None
        self._open: set[socket.socket] = set()  # accepted connections, closed by stop()
        self._guard = threading.Lock()
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Listen (again, on the same port once chosen)."""
        if self._server is not None:
            return
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave as two writes: no 40 ms stall

            def setup(self) -> None:
                super().setup()
                with owner._guard:
                    owner._open.add(self.connection)

            def finish(self) -> None:
                with owner._guard:
                    owner._open.discard(self.connection)
                super().finish()

            def _serve(self) -> None:
                owner._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        """Close the listening socket and every open connection, as a backend that dies does:
        clients' pooled keep-alive connections see the close, and new ones are refused."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._guard:
            conns, self._open = list(self._open), set()
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.stop()
        self._session.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one request ----------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        self.requests_seen += 1
        length = int(h.headers.get("Content-Length") or 0)
        sent = h.rfile.read(length) if length else None
        mode = self.mode
        if mode == "hang":
            time.sleep(self.hang_s)
        if mode == "500":
            self._send(h, 500, ERROR_BODY)
            return
        if mode == "401":
            self._send(
                h, 401, b'{"status":"error","error":"unauthorized","message":"Unauthorized"}'
            )
            return
        if mode == "garbage":
            self._send(h, 200, GARBAGE)
            return
        headers = {k: h.headers[k] for k in _FORWARDED if h.headers.get(k)}
        try:
            up = self._session.request(
                h.command, self.upstream + h.path, data=sent, headers=headers, timeout=30
            )
        except requests.RequestException:
            self._send(h, 502, GARBAGE)
            return
        body, status = up.content, up.status_code
        if mode in ("nan", "inf"):
            body = self.poison(body, "NaN" if mode == "nan" else "+Inf")
        elif mode == "warnings":
            body = add_warnings(body)
        if mode == "partial":
            self._send(h, status, body[: len(body) // 2], announce=len(body))
            return
        self._send(h, status, body, content_type=up.headers.get("Content-Type"))

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        *,
        announce: int | None = None,
        content_type: str | None = None,
    ) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type or "application/json")
            h.send_header("Content-Length", str(len(body) if announce is None else announce))
            if announce is not None:
                h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except OSError:  # the client gave up (its timeout): nothing to answer
            pass
        if announce is not None:
            h.close_connection = True


# --- the real backends the proxies stand in front of ------------------------------------------------
END = 1767225600  # the backfilled Prometheus data ends here (2026-01-01T00:00:00Z)
NAMESPACE = "bookinfo"
REVIEWS_VS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "reviews"},
    "spec": {
        "hosts": ["reviews"],
        "http": [
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                    {"destination": {"host": "reviews", "subset": "v2"}, "weight": 50},
                ]
            }
        ],
    },
}
REVIEWS_DR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "reviews"},
    "spec": {
        "host": "reviews",
        "subsets": [{"name": v, "labels": {"version": v}} for v in ("v1", "v2")],
    },
}


def deployment(app: str, version: str) -> dict[str, Any]:
    labels = {"app": app, "version": version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{app}-{version}", "labels": labels},
        "spec": {"template": {"metadata": {"labels": labels}}},
    }


def kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig whose current context is `server` with a token (what KubeRouteStore reads)."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "faults",
                "clusters": [{"name": "faults", "cluster": {"server": server}}],
                "contexts": [{"name": "faults", "context": {"cluster": "faults", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "not-a-secret"}}],
            }
        ),
        encoding="utf-8",
    )
    return path


# load_kube_config reads this module constant (from KUBECONFIG, fixed at import time).
KUBECONFIG_CONSTANT = "kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION"


@dataclass
class Backends:
    """A real Prometheus holding 30 minutes of Bookinfo up to END, the demo's Jaeger endpoint
    (v1, as Istio's addon serves it; traces near now), and the fake Kubernetes API holding the
    reviews routes and two Deployments."""

    prometheus: PrometheusServer
    jaeger_url: str
    kube: FakeKube
    workdir: Path
    _stop_jaeger: Callable[[], None]

    def proxies(self, hang_s: float) -> dict[str, FaultProxy]:
        return {
            "prometheus": FaultProxy(self.prometheus.url, poison_prometheus, hang_s=hang_s),
            "jaeger": FaultProxy(self.jaeger_url, poison_jaeger, hang_s=hang_s),
            "kubernetes": FaultProxy(self.kube.url, poison_kube, hang_s=hang_s),
        }

    def close(self) -> None:
        self.kube.stop()
        self._stop_jaeger()
        self.prometheus.close()


def start_backends(workdir: Path) -> Backends:
    from demo.bookinfo import bookinfo_spec
    from demo.mesh import DemoMesh
    from demo.openmetrics import write_series
    from demo.series import mesh_series
    from devtools.jaeger_server import start_demo_jaeger

    mesh = DemoMesh(bookinfo_spec(), clock=lambda: float(END), history_start=END - 1800.0)
    prom = PrometheusServer(workdir / "prom")
    om = workdir / "bookinfo.om"
    with open(om, "w", encoding="utf-8") as out:
        write_series(mesh_series(mesh.model, END - 1800.0, float(END), 15.0), out)
    prom.load_openmetrics(om)
    om.unlink()
    prom.start()
    jaeger_url, stop_jaeger = start_demo_jaeger(DemoMesh.bookinfo(), flavour="v1")
    kube = FakeKube()
    kube.start()
    kube.add(REVIEWS_VS, NAMESPACE)
    kube.add(REVIEWS_DR, NAMESPACE)
    for v in ("v1", "v2"):
        kube.add_deployment(deployment("reviews", v), NAMESPACE)
    return Backends(prom, jaeger_url, kube, workdir, stop_jaeger)
