"""Two meshdash processes, each with its own disk as two pods have, on one Kubernetes API server
(tests/kubeserver.py) and a real Prometheus: the audit trail they list is the cluster's.

A change through either is listed by both, in the same order, with the same fields; 20 changes
sent concurrently through the two lose no record; both replaced by a new process with an empty
disk, the whole history is still listed, and the weight-change markers still sit on the charts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from app import create_app
from collectors.audit_configmaps import shard_names, shard_of
from demo.bookinfo import bookinfo_spec
from demo.mesh import DemoMesh
from demo.openmetrics import write_series
from demo.series import mesh_series
from devtools.livesrv import serve
from devtools.promserver import PrometheusServer, require_prometheus
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    browser_context_args,
    browser_type_launch_args,
    shot,
)
from tests.browser.test_workload_markers import MARKERS
from tests.conftest import REPO, free_port
from tests.faultservers import kubeconfig
from tests.integration.test_kube_store import docs
from tests.kubeserver import FakeKube
from wiring.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.browser]

TOKENS = {"alice": "token-alice", "bob": "token-bob"}
BUSY = "bookinfo2"  # the namespace of the concurrent changes, so the charts' markers stay legible
DOWN = "bookinfo3"  # the namespace whose record meets an API server that drops the write


@dataclass
class App:
    url: str
    var: Path
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def audit(self, **params: str) -> list[dict]:
        r = requests.get(self.url + "/api/audit", params={"limit": "500", **params}, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()["entries"]

    def change(
        self, namespace: str, weights: dict[str, int], user: str = "alice"
    ) -> requests.Response:
        return requests.post(
            f"{self.url}/api/routes/{namespace}/reviews",
            json={"action": "set_weights", "weights": weights, "dry_run": False, "reason": "test"},
            headers={"Authorization": f"Bearer {TOKENS[user]}"},
            timeout=60,
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The API server with Bookinfo's routes in two namespaces, and a kubeconfig for it."""
    kube = FakeKube()
    kube.start()
    for namespace in ("bookinfo", BUSY, DOWN):
        for name in ("virtual-service-reviews-80-20.yaml", "destination-rule-all.yaml"):
            for d in docs(name):
                kube.add(d, namespace=namespace)
        for d in docs("bookinfo.yaml"):
            if d["kind"] == "Deployment":
                kube.add_deployment(d, namespace=namespace)
    config = tmp_path_factory.mktemp("kube") / "kubeconfig"
    kubeconfig(config, kube.url)
    yield kube, config
    kube.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A real Prometheus with Bookinfo's series from 20 minutes ago to 20 minutes ahead, so the
    changes this test makes now fall inside the charts."""
    require_prometheus()
    now = time.time()
    start, end = now - 1200, now + 1200
    mesh = DemoMesh(bookinfo_spec(), clock=lambda: end, history_start=start)
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"))
    om = server.workdir / "bookinfo.om"
    with open(om, "w", encoding="utf-8") as out:
        write_series(mesh_series(mesh.model, start, end, 15.0), out, tmpdir=str(server.workdir))
    server.load_openmetrics(om)
    om.unlink()
    server.start()
    yield server
    server.close()


def start_app(cluster, prometheus, var: Path) -> App:
    """`python app.py` in its own process with its own var/ directory, as one pod."""
    _, kubeconfig = cluster
    var.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHDASH_", "PROMETHEUS_"))}
    env.update(
        KUBECONFIG=str(kubeconfig),
        MESHDASH_AUDIT_LOG=str(var / "audit.jsonl"),
        MESHDASH_AUDIT_NAMESPACE="meshdash",
        MESHDASH_API_TOKENS=json.dumps(TOKENS),
        MESHDASH_LOG_LEVEL="WARNING",
    )
    log = var / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
             "--prometheus", prometheus.url, "--kube", "--enable-writes",
             "--namespace", "bookinfo"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    app = App(f"http://127.0.0.1:{port}", var, proc, log)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            app.stop()
            pytest.fail("meshdash did not start:\n" + log.read_text()[-3000:])
        try:
            if requests.get(app.url + "/healthz", timeout=2).status_code == 200:
                return app
        except requests.RequestException:
            time.sleep(0.2)


def apply(app: App, namespace: str, weights: dict[str, int], user: str = "alice") -> str:
    """Apply a change, re-sending it after a 409 as a person would after reading the diff."""
    for _ in range(60):
        r = app.change(namespace, weights, user)
        if r.status_code == 409:
            time.sleep(0.05)
            continue
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["applied"] is True and body["audit"] == {"recorded": True, "message": ""}
        return body["change_id"]
    raise AssertionError("still conflicting after 60 attempts")


def test_replicas_share_the_trail_and_a_new_process_lists_it_all(
    cluster,
    prometheus,
    tmp_path,
    page,
    shot,  # noqa: F811
):
    kube, _ = cluster
    a = start_app(cluster, prometheus, tmp_path / "pod-a" / "var")
    b = start_app(cluster, prometheus, tmp_path / "pod-b" / "var")
    try:
        # 1. A change through either is listed by both, in the same order, same fields.
        first = apply(a, "bookinfo", {"v1": 60, "v2": 40}, "alice")
        assert [e["change_id"] for e in b.audit(namespace="bookinfo")] == [first]
        second = apply(b, "bookinfo", {"v1": 30, "v2": 70}, "bob")
        listed = a.audit(namespace="bookinfo", service="reviews")
        assert [e["change_id"] for e in listed] == [second, first]
        assert listed == b.audit(namespace="bookinfo", service="reviews")
        assert [(e["who"], e["action"], [o["kind"] for o in e["objects"]]) for e in listed] == [
            ("bob", "set_weights", ["VirtualService"]),
            ("alice", "set_weights", ["VirtualService"]),
        ]
        # Each pod's own file holds only its own record: the second copy.
        for app, mine in ((a, first), (b, second)):
            lines = (app.var / "audit.jsonl").read_text().splitlines()
            assert [json.loads(x)["change_id"] for x in lines] == [mine]

        # 2. Twenty changes at once through the two processes: every applied one is listed.
        applied: list[str] = []
        lock = threading.Lock()

        def send(i: int) -> None:
            app = (a, b)[i % 2]
            cid = apply(app, BUSY, {"v1": 80 - i, "v2": 20 + i}, ("alice", "bob")[i % 2])
            with lock:
                applied.append(cid)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(1, 21)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(applied)) == 20
        busy = a.audit(namespace=BUSY)
        assert sorted(e["change_id"] for e in busy) == sorted(applied)
        assert busy == b.audit(namespace=BUSY)  # same order, same fields
        # The order is the order the VirtualService changed: resourceVersions only go up.
        rvs = [int(e["objects"][0]["resource_version"]) for e in reversed(busy)]
        assert rvs == sorted(rvs)
        everything = a.audit()
        assert len(everything) == 22 and everything == b.audit()
        # In the cluster itself, each record once (a flush may append several in one write,
        # so the number of writes says nothing).
        stored = [
            json.loads(line)["change_id"]
            for name in shard_names()
            if (cm := kube.configmap(name, "meshdash"))
            for line in cm["data"]["audit.jsonl"].splitlines()
        ]
        assert sorted(stored) == sorted(e["change_id"] for e in everything)
    finally:
        a.stop()
        b.stop()

    # 3. Both replaced by a new process with an empty disk: the full history is still there.
    c = start_app(cluster, prometheus, tmp_path / "pod-c" / "var")
    try:
        assert not (c.var / "audit.jsonl").exists()
        assert c.audit() == everything
        assert c.audit(namespace="bookinfo", service="reviews") == listed

        # ... and the markers still sit on the service's charts.
        # Past the last whole chart step after the last change (often already, once c is up).
        last_change = max(e["when"] for e in listed)
        page.wait_for_timeout(max(0.0, (last_change + 6 - time.time()) * 1000))
        # The charts draw markers inside their data's time range, which ends at the last step
        # Prometheus has scraped: reload (refresh is off) until both changes are inside it.
        url = c.url + "/service?namespace=bookinfo&service=reviews&window=10m&refresh=off"
        deadline = time.monotonic() + 45
        while True:
            page.goto(url)
            expect(page.locator("#mode-badge")).to_contain_text("LIVE")
            page.wait_for_function(
                "(id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
                " return gd && gd.data && gd.data.length > 0; }",
                arg="svc-rps-graph",
                timeout=30_000,
            )
            if (page.evaluate(MARKERS, "svc-rps-graph") or {}).get("lines") == 2:
                break
            assert time.monotonic() < deadline, page.evaluate(MARKERS, "svc-rps-graph")
            page.wait_for_timeout(2_000)
        for graph in ("svc-rps-graph", "svc-success-graph", "svc-latency-graph"):
            found = page.evaluate(MARKERS, graph)
            # Two changes seconds apart: two labels, or one merged label whose hover holds both
            # (presentation/markers.py never lets labels overprint).
            assert found["labels"] in (
                ["⇄ v1 60 · v2 40", "⇄ v1 30 · v2 70"],
                ["⇄ 2 changes, then v1 30 · v2 70"],
            ), graph
            hovers = " ".join(found["hovers"])
            assert "bob" in hovers and "alice" in hovers, graph
            panels = 3 if graph == "svc-latency-graph" else 1  # latency: a panel per quantile
            assert found["lines"] == 2 * panels and found["drawn"] >= 2, graph
        assert "Traceback" not in page.content()
        shot("service-reviews-markers-after-restart")
        page.set_viewport_size({"width": 1024, "height": 768})
        page.wait_for_timeout(500)
        shot("service-reviews-markers-after-restart-1024")
        page.goto(c.url + "/releases?namespace=bookinfo&service=reviews")
        table = page.locator("#rel-audit-table")
        expect(table).to_contain_text("bob", timeout=30_000)
        expect(table).to_contain_text("alice")
        table.scroll_into_view_if_needed()
        shot("releases-audit-after-restart-1024")
    finally:
        c.stop()


def test_a_change_whose_record_cannot_be_shared_says_so_and_is_retried(
    cluster,
    prometheus,
    tmp_path,
    page,
    shot,  # noqa: F811
    monkeypatch,
):
    """The API server drops the audit write: the page says the change is applied but not yet
    recorded; once the API server takes writes again the record reaches the cluster."""
    kube, kubeconfig = cluster
    down = threading.Event()
    down.set()

    def drop(req) -> None:
        if down.is_set() and "/configmaps" in req.path:
            raise ConnectionAbortedError("the API server dropped the connection")

    kube.before_write = drop
    # The client reads $KUBECONFIG when it is imported: point its default at the test's file.
    monkeypatch.setattr(
        "kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig)
    )
    settings = Settings(
        prometheus_url=prometheus.url,
        kube_enabled=True,
        write_enabled=True,
        trusted_proxy=True,
        default_namespaces=(DOWN,),
        audit_log=tmp_path / "var" / "audit.jsonl",
    )
    live = serve(create_app(settings))
    try:
        page.set_extra_http_headers({"X-Forwarded-User": "carol"})
        page.goto(live.url + f"/releases?namespace={DOWN}&service=reviews")
        expect(page.locator("#rel-bar")).to_contain_text("v1 80%", timeout=30_000)
        page.locator("#rel-btn-even").click()
        dialog = page.locator("#rel-preview-card")
        expect(dialog.locator("#rel-diff")).to_be_visible()
        dialog.locator("#rel-confirm").click()
        banner = page.locator("#rel-audit-pending")
        expect(banner).to_contain_text("Applied", timeout=30_000)
        expect(banner).to_contain_text("applied in the cluster")
        expect(banner).to_contain_text("could not be written to the shared audit trail")
        expect(banner).to_contain_text("retried")
        expect(page.locator("#rel-bar")).to_contain_text("v1 50%")
        assert "Traceback" not in page.content() and "None" not in banner.inner_text()
        shot("releases-audit-record-pending")
        page.set_viewport_size({"width": 1024, "height": 768})
        page.wait_for_timeout(300)
        shot("releases-audit-record-pending-1024")
        assert kube.configmap(shard_of(DOWN), "meshdash") is None  # not in the cluster yet
        [local] = (tmp_path / "var" / "audit.jsonl").read_text().splitlines()
        down.clear()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stored = kube.configmap(shard_of(DOWN), "meshdash")
            if stored:
                break
            time.sleep(0.2)
        assert stored, "the pending record never reached the cluster"
        assert stored["data"]["audit.jsonl"].splitlines() == [local]
        assert json.loads(local)["who"] == "carol"
    finally:
        kube.before_write = None
        live.stop()
