"""Guided rollouts across real OS processes: `python app.py` processes on one in-test Kubernetes
API server (tests/kubeserver.py) and a real Prometheus that scrapes live traffic.

The verdict reads the window before *now*, so backfilled past data cannot serve: Prometheus
scrapes, every second, a loopback exporter serving the simulator's Istio series (demo/series.py)
for the canary pair at the current time, its traffic split following the VirtualService's
weights as the API server holds them, as sidecars would after a weight change.

What is checked, with the processes' own background drivers (MESHDASH_ROLLOUT_TICK_S=1):
- two processes: exactly one holds the Lease and makes every write (each write's TCP connection
  is traced back to the process that opened it, through /proc);
- that process killed with SIGKILL in the middle of a step's bake and a new process started: the
  new one takes the Lease once it has expired and resumes from the stored step; the weights
  written are exactly 10, 50, 100, none repeated and none skipped;
- a manual weight edit (a PUT to the API server, as another person's kubectl) pauses a running
  rollout, the API says so, and the driver never overwrites the edit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from collectors.rollout_store import object_name
from demo.openmetrics import write_series
from demo.series import CounterSeries, HistogramSeries, mesh_series
from demo.spec import Call, ErrorModel, LatencyModel, MeshSpec, Workload
from demo.state import TrafficState
from demo.traffic import TrafficModel
from devtools.promserver import PrometheusServer, require_prometheus
from tests.conftest import REPO, free_port
from tests.faultservers import kubeconfig
from tests.integration.test_rollout_kube import _objects, canary_weight
from tests.kubeserver import FakeKube, Request

pytestmark = pytest.mark.integration

LIVE = "rollout-live"  # promoted across a kill
EDITED = "rollout-edited"  # paused by a manual edit
TOKEN = "token-alice"
LEASE_S = 12  # MESHDASH_ROLLOUT_LEASE_S for these processes: a kill is taken over within 12 s
VS = "/apis/networking.istio.io/v1/namespaces/{ns}/virtualservices/api"
PLAN = {
    "canary": "v2",
    "baseline": "v1",
    "steps": [10, 50, 100],
    "bake_s": 10,
    "min_requests": 20,
    "max_hold_s": 600,
    "on_failure": "pause",
    "reason": "guided rollout across processes",
}


# -- the live exporter -------------------------------------------------------------------------


def _model(namespace: str, t0: float) -> tuple[TrafficModel, TrafficState]:
    def version(v: str) -> Workload:
        return Workload(namespace, f"api-{v}", "api", v, "api", latency=LatencyModel(100.0, 0.5))

    spec = MeshSpec(
        (Workload(namespace, "loadgen", "loadgen", "v1"), version("v1"), version("v2")),
        (
            # No errors: with 0.1 % a single 5xx among the canary's ~40 requests of one bake
            # (about one run in 25) made it significantly worse than the baseline, and the
            # verdict rightly rolled back; this test is about who drives, not the verdict.
            Call(namespace, "loadgen", namespace, "api", rps=40.0, errors=ErrorModel(http_5xx=0.0)),
        ),
        splits=((namespace, "api", (("v1", 100), ("v2", 0))),),
    )
    state = TrafficState(spec)
    return TrafficModel(spec, state, history_start=t0), state


class Exporter:
    """GET /metrics: the Istio series of `namespace`'s loadgen -> api at the current second,
    OpenMetrics with the sample's timestamp; the split follows the VirtualService in `kube`."""

    def __init__(self, kube: FakeKube, namespace: str) -> None:
        self.t0 = float(int(time.time()))
        self.kube, self.namespace = kube, namespace
        self.model, self.state = _model(namespace, self.t0)
        self.weights = {"v1": 100, "v2": 0}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def _follow_route(self, now: float) -> None:
        vs = self.kube.objects.get(
            ("networking.istio.io", "virtualservices", self.namespace, "api")
        )
        if vs is None:
            return
        route = vs["spec"]["http"][0]["route"]
        weights = {d["destination"]["subset"]: int(d.get("weight", 0)) for d in route}
        if weights != self.weights:
            self.state.set_split(self.namespace, "api", weights, at=now)
            self.weights = weights

    def text(self) -> str:
        import io

        with self.lock:
            now = time.time()
            self._follow_route(now)
            end = self.t0 + max(1, int(now - self.t0))
            last: list[CounterSeries | HistogramSeries] = []
            for s in mesh_series(self.model, self.t0, end, 1.0):
                if isinstance(s, HistogramSeries):
                    last.append(
                        HistogramSeries(
                            s.family, s.labels, s.times[-1:], s.buckets[-1:], s.sums[-1:]
                        )
                    )
                else:
                    last.append(CounterSeries(s.family, s.labels, s.times[-1:], s.values[-1:]))
        buf = io.StringIO()
        write_series(last, buf)
        return buf.getvalue()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                data = exporter.text().encode()
                self.send_response(200)
                self.send_header(
                    "Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- which process made a request ---------------------------------------------------------------


def _socket_inode(client_port: int, server_port: int) -> str | None:
    """The inode of the loopback TCP socket from `client_port` to `server_port` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == client_port and int(remote.split(":")[1], 16) == (
            server_port
        ):
            return inode
    return None


def _pid_holding(inode: str, pids: list[int]) -> int | None:
    wanted = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == wanted:
                    return pid
            except OSError:
                continue
    return None


@dataclass
class Tracer:
    """Records, for each VirtualService write the API server takes, the process that sent it."""

    kube: FakeKube
    pids: list[int]
    writes: list[tuple[str, int | None, str]]  # (namespace, pid, dry run?)

    def __call__(self, req: Request) -> None:
        if "/virtualservices/" not in req.path or req.peer is None:
            return
        inode = _socket_inode(req.peer[1], int(self.kube.url.rsplit(":", 1)[1]))
        pid = _pid_holding(inode, list(self.pids)) if inode else None
        namespace = req.path.split("/namespaces/")[1].split("/")[0]
        self.writes.append((namespace, pid, "dry" if "dryRun" in req.query else "real"))


# -- the processes ------------------------------------------------------------------------------


@dataclass
class App:
    url: str
    proc: subprocess.Popen
    log: Path

    @property
    def holder(self) -> str:
        return f"{socket.gethostname()}-{self.proc.pid}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def rollout(self, namespace: str) -> dict:
        r = requests.get(f"{self.url}/api/rollouts/{namespace}/api", timeout=30)
        assert r.status_code == 200, r.text
        return r.json()


def launch(kubeconfig: Path, prometheus: PrometheusServer, var: Path) -> App:
    var.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHDASH_", "PROMETHEUS_"))}
    env.update(
        KUBECONFIG=str(kubeconfig),
        MESHDASH_AUDIT_LOG=str(var / "audit.jsonl"),
        MESHDASH_AUDIT_NAMESPACE="meshdash",
        MESHDASH_API_TOKENS=json.dumps({"alice": TOKEN}),
        MESHDASH_ROLLOUT_TICK_S="1",
        MESHDASH_ROLLOUT_LEASE_S=str(LEASE_S),  # shorter than the default 30 s, to keep it quick
        MESHDASH_LOG_LEVEL="WARNING",
    )
    log = var / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
             "--prometheus", prometheus.url, "--kube", "--enable-writes", "--namespace", LIVE],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return App(f"http://127.0.0.1:{port}", proc, log)


def ready(app: App) -> App:
    deadline = time.monotonic() + 90
    while True:
        if app.proc.poll() is not None or time.monotonic() > deadline:
            app.stop()
            pytest.fail("meshdash did not start:\n" + app.log.read_text()[-3000:])
        try:
            if requests.get(app.url + "/healthz", timeout=2).status_code == 200:
                return app
        except requests.RequestException:
            time.sleep(0.2)


def wait_for(what: str, check: Callable[[], object], timeout: float, tell: Callable[[], str]):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    pytest.fail(f"waited {timeout:.0f} s for {what}; {tell()}")


@pytest.fixture
def cluster(tmp_path):
    kube = FakeKube()
    kube.start()
    for namespace in (LIVE, EDITED):
        for obj in _objects(namespace):
            kube.add(obj, namespace=namespace)
    config = tmp_path / "kubeconfig"
    kubeconfig(config, kube.url)
    yield kube, config
    kube.stop()


@pytest.fixture
def live_prometheus(cluster, tmp_path):
    require_prometheus()
    kube, _ = cluster
    exporter = Exporter(kube, LIVE)
    server = PrometheusServer(
        tmp_path / "prometheus",
        scrape_configs=[
            {
                "job_name": "sidecars",
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [exporter.target]}],
            }
        ],
    )
    server.start()
    yield server
    server.close()
    exporter.stop()


def weights_written(kube: FakeKube, namespace: str) -> list[int]:
    """The canary weight of every VirtualService replace applied (dry runs excluded)."""
    return [
        canary_weight(r.body)
        for r in kube.writes("PUT")
        if r.path == VS.format(ns=namespace) and "dryRun" not in r.query
    ]


def start(app: App, namespace: str, plan: dict) -> dict:
    r = requests.post(
        f"{app.url}/api/rollouts/{namespace}/api",
        json=plan,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return r.json()


def edit_weights(kube: FakeKube, namespace: str, canary: int) -> None:
    """Another person's weight edit: GET and PUT the VirtualService over HTTP, as kubectl does."""
    url = kube.url + VS.format(ns=namespace)
    vs = requests.get(url, timeout=10).json()
    vs["spec"]["http"][0]["route"] = [
        {"destination": {"host": "api", "subset": "v1"}, "weight": 100 - canary},
        {"destination": {"host": "api", "subset": "v2"}, "weight": canary},
    ]
    r = requests.put(url, params={"fieldManager": "kubectl-edit"}, json=vs, timeout=10)
    assert r.status_code == 200, r.text


def lease(kube: FakeKube, namespace: str) -> dict:
    with kube.lock:
        return json.loads(json.dumps(kube.leases.get((namespace, object_name("api"))) or {}))


def test_one_driver_survives_a_kill_and_a_manual_edit_pauses(cluster, live_prometheus, tmp_path):
    kube, kubeconfig = cluster
    traced: list[tuple[str, int | None, str]] = []
    a = launch(kubeconfig, live_prometheus, tmp_path / "pod-a")
    b = launch(kubeconfig, live_prometheus, tmp_path / "pod-b")
    apps = [a, b]
    tracer = Tracer(kube, [a.proc.pid, b.proc.pid], traced)
    kube.before_write = tracer
    try:
        ready(a), ready(b)

        def tell() -> str:
            return (
                f"weights written {weights_written(kube, LIVE)}, lease {lease(kube, LIVE)}, "
                f"rollout {a.rollout(LIVE) if a.proc.poll() is None else '(a is dead)'}"
            )

        # (a) Two processes; the rollout started through a's API. One holds the lease, drives.
        started = start(a, LIVE, PLAN)
        assert started["state"] == "running" and started["step"] == 1, started
        assert weights_written(kube, LIVE) == [10]
        holder = lease(kube, LIVE)["spec"]["holderIdentity"]
        driver = next((app for app in apps if app.holder == holder), None)
        assert driver is not None, f"lease held by {holder}, not by a nor b"
        other = b if driver is a else a

        # (c) Meanwhile a second rollout, paused by a person's manual edit.
        start(b, EDITED, {**PLAN, "bake_s": 300})
        assert weights_written(kube, EDITED) == [10]
        edit_weights(kube, EDITED, 30)
        paused = wait_for(
            "the manual edit to pause the rollout",
            lambda: (body := other.rollout(EDITED))["state"] == "paused" and body,
            15,
            lambda: f"rollout {other.rollout(EDITED)}",
        )
        assert "someone else" in paused["why"], paused
        assert weights_written(kube, EDITED) == [10, 30]  # the edit stands, never overwritten

        # The verdict over the live series promotes step 1: the driver writes 50.
        wait_for("step 2 (50 %) to be written", lambda: 50 in weights_written(kube, LIVE), 60, tell)
        body = driver.rollout(LIVE)
        assert body["step"] == 2 and body["history"][-1]["verdict"] in ("promote", "continue")
        real = [(ns, pid) for ns, pid, kind in traced if ns == LIVE and kind == "real"]
        assert real == [(LIVE, driver.proc.pid)] * 2, traced
        assert lease(kube, LIVE)["spec"]["holderIdentity"] == driver.holder
        assert not lease(kube, LIVE)["spec"].get("leaseTransitions")

        # (b) Killed mid-bake of step 2; the other process stopped; a new one started.
        time.sleep(3)
        assert driver.rollout(LIVE)["step"] == 2  # still baking
        driver.proc.send_signal(signal.SIGKILL)
        driver.proc.wait(10)
        killed_at = time.monotonic()
        other.stop()
        c = launch(kubeconfig, live_prometheus, tmp_path / "pod-c")
        apps.append(c)
        tracer.pids.append(c.proc.pid)
        ready(c)
        assert c.rollout(LIVE)["step"] == 2  # read from the cluster, not from memory
        wait_for(
            "the new process to finish the rollout",
            lambda: c.rollout(LIVE)["state"] == "promoted",
            LEASE_S + 40,
            lambda: f"{tell()}\n{c.log.read_text()[-2000:]}",
        )
        assert time.monotonic() - killed_at >= LEASE_S - 5  # it waited for the lease to expire
        assert weights_written(kube, LIVE) == [10, 50, 100]  # nothing repeated, nothing skipped
        real = [pid for ns, pid, kind in traced if ns == LIVE and kind == "real"]
        assert real == [driver.proc.pid, driver.proc.pid, c.proc.pid], traced
        taken = lease(kube, LIVE)["spec"]
        assert taken["holderIdentity"] == c.holder and taken["leaseTransitions"] == 1, taken
        history = c.rollout(LIVE)["history"]
        assert [h["weights"]["v2"] for h in history] == [10, 50, 100], history
        entries = requests.get(
            c.url + "/api/audit", params={"namespace": LIVE, "limit": "50"}, timeout=30
        ).json()["entries"]
        assert [e["who"] for e in entries] == ["alice (by rollout)"] * 3, entries
        steps = [(e["rollout"]["step"], e["rollout"]["started_by"]) for e in entries]
        assert steps == [(3, "alice"), (2, "alice"), (1, "alice")], entries  # marked as steps
        assert c.rollout(EDITED)["state"] == "paused"  # the paused one stays paused
    finally:
        kube.before_write = None
        for app in apps:
            app.stop()
