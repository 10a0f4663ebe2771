"""Before/after snapshot of every Prometheus-backed /api/ answer, for refactorings (issue #18).

The app under test is a black box: its checkout's `app.py` is started as a process (cwd = the
checkout, `--prometheus URL`, a free loopback port) and spoken to over HTTP only, so the script
works unchanged whatever the checkout's module layout. Prometheus is one real server backfilled
with the integration scenarios (devtools/scenarios.py); every URL names the fixed `at` (the end
of the data, or a time inside it), so two runs of the same code give the same answers. Each
entry records the status code, the content type and the body (JSON parsed, text otherwise);
what changes between two runs of the SAME code is replaced by a stand-in (VOLATILE, each with
the reason), and floats compare within a relative 1e-9 (FLOAT_REL_TOL says why). Nothing is
skipped: a 500 is recorded like any other answer, and `take` prints the status counts and
every 5xx or 429 answer, so none goes unseen.

Usage (from a checkout that holds this file):

    python3 devtools/api_snapshot.py take --repo DIR --out FILE.json [--only GROUPS]
                                          [--prometheus URL]
    python3 devtools/api_snapshot.py compare A.json B.json
    python3 devtools/api_snapshot.py check --before DIR --after DIR
                                           [--before-out A.json] [--after-out B.json]

`take` starts its own Prometheus unless --prometheus names one already holding the scenarios.
`check` starts ONE Prometheus and takes both snapshots against it, then compares. `compare`
and `check` print each differing URL with a short JSON-path diff and the number of URLs
compared; they exit 1 when anything differs, 0 when all is equal. --only takes a comma list
of groups (graph, metrics, namespaces, list, canary, review, investigate, backends, bad).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

if __package__ in (None, ""):  # run as a script: make `devtools` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.ports import free_port
from devtools.promserver import PrometheusServer
from devtools.scenarios import SCENARIO_END, build_scenarios, write_scenarios

AT = int(SCENARIO_END)
BURST = AT - 45 * 60  # inside the timeline scenario's error burst (50 to 40 minutes before AT)
BEFORE_DATA = AT - 3 * 3600  # an hour before the first sample: no traffic at all
GROUPS = ("graph", "metrics", "namespaces", "list", "canary", "review", "investigate")
GROUPS += ("backends", "bad")
FORMAT = 1
APP_START_S = 60.0
REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of the snapshot: its group (for --only), method, path with query, JSON body."""

    group: str
    path: str
    method: str = "GET"
    body: Any = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Volatile:
    """Text that differs between two runs of the same code: replaced before comparing.

    `pattern` (a regular expression) is replaced by `stand_in` in the text bodies, and in the
    strings of the JSON bodies, of the URLs starting with `prefix`.
    """

    prefix: str
    pattern: str
    stand_in: str
    why: str


VOLATILE: tuple[Volatile, ...] = (
    Volatile(
        "/api/review/",
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "<uuid>",
        "the HTML report's charts come from plotly's to_html, which gives each chart's <div> a "
        "fresh uuid4 id on every render",
    ),
)

# Floats are equal within this relative tolerance. Prometheus 2.42 sums a `sum by` group in
# the order its engine holds the series, and the series of an `or` inside a range query come in
# Go map order: the same range query on the same data answers x or x + 1 ulp (seen on the TCP
# byte rates of /api/metrics, whose queries are `sum by (...) (a or b)`; 15 identical
# query_range calls gave 3 different answers). 1e-9 is far above that noise and far below any
# difference a reader could see. A figure the API rounds can still flip in its last decimal
# when the noise straddles a rounding boundary: rerun to tell that from a real change.
FLOAT_REL_TOL = 1e-9


def _q(path: str, **params: Any) -> str:
    """path?query, with list values repeated (namespace=a&namespace=b), in the given order."""
    pairs = [
        (k, v) for k, vs in params.items() for v in (vs if isinstance(vs, list | tuple) else [vs])
    ]
    return f"{path}?{urlencode(pairs)}" if pairs else path


def probes() -> list[Probe]:
    """Every request of the snapshot, in the order they are sent (caches see the same order)."""
    return [
        *_graph_probes(),
        *_metrics_probes(),
        *_namespaces_probes(),
        *_list_probes(),
        *_canary_probes(),
        *_review_probes(),
        *_investigate_probes(),
        *_backend_probes(),
        *_bad_probes(),
    ]


NAMESPACE_SETS: tuple[tuple[str, ...], ...] = (
    ("bookinfo",),
    ("shop",),
    ("shop", "payments", "data"),
    ("timeline",),
    ("bookinfo", "shop", "timeline", "legacy", "istio-system"),
)
VIEWS = ("workload", "app", "versioned-app", "service")


def _graph_probes() -> list[Probe]:
    out = [
        Probe("graph", _q("/api/graph", namespace=list(ns), graph=view, window="5m", at=AT))
        for ns in NAMESPACE_SETS
        for view in VIEWS
    ]
    extra = [
        {"namespace": "quiet", "window": "5m", "at": AT},  # no series at all
        {"namespace": "bookinfo", "window": "1m", "at": AT},
        {"namespace": "bookinfo", "window": "15m", "at": AT},
        {"namespace": "bookinfo", "window": "1h", "at": AT},
        {"namespace": "bookinfo", "window": "10m", "at": AT - 1800},
        {"namespace": "timeline", "window": "5m", "at": BURST},
        {"namespace": "timeline", "graph": "versioned-app", "window": "5m", "at": BURST},
        {"namespace": "timeline", "graph": "service", "window": "30m", "at": AT - 2400},
        # after the last sample: rates from a partial window, then from none
        {"namespace": ["shop", "payments"], "window": "5m", "at": AT + 120},
        {"namespace": "bookinfo", "window": "5m", "at": AT + 900},
        {"namespace": "bookinfo", "window": "5m", "at": BEFORE_DATA},
        # display parameters
        {"namespace": "bookinfo", "waypoints": "show", "at": AT},
        {"namespace": ["shop", "payments"], "waypoints": "show", "graph": "app", "at": AT},
        {"namespace": "shop", "waypoints": "hide", "at": AT},
        {"namespace": "shop", "cluster": "Kubernetes", "at": AT},
        {"namespace": "shop", "cluster": "elsewhere", "at": AT},
        {"namespace": ["data", "payments"], "graph": "service", "window": "2m", "at": AT},
        # the default window (5m) and namespace (the app's --namespace default: bookinfo)
        {"at": AT},
        {"namespace": ["timeline", "timeline", "outside"], "at": AT},
    ]
    return out + [Probe("graph", _q("/api/graph", **p)) for p in extra]


def _metrics_probes() -> list[Probe]:
    targets = [
        {"namespace": "timeline", "service": "reviews", "window": "30m", "at": AT},
        {"namespace": "timeline", "service": "reviews", "window": "1h", "at": AT},
        {"namespace": "timeline", "service": "reviews", "window": "1h", "step": "1m", "at": AT},
        {"namespace": "timeline", "service": "reviews", "window": "30m", "at": BURST + 600},
        {"namespace": "timeline", "service": "ratings", "window": "1h", "at": AT},
        {"namespace": "timeline", "service": "mysql", "window": "30m", "at": AT},
        {"namespace": "timeline", "workload": "reviews-v1", "window": "1h", "at": AT},
        {"namespace": "timeline", "workload": "reviews-v2", "window": "1h", "at": AT},
        {"namespace": "timeline", "workload": "loadgen-v1", "window": "30m", "at": AT},
        {"namespace": "bookinfo", "service": "reviews", "at": AT},
        {"namespace": "bookinfo", "service": "productpage", "window": "15m", "at": AT},
        {"namespace": "bookinfo", "service": "details", "window": "30m", "at": AT},
        {"namespace": "bookinfo", "workload": "productpage-v1", "window": "30m", "at": AT},
        {"namespace": "bookinfo", "workload": "reviews-v2", "window": "10m", "at": AT},
        {"namespace": "shop", "service": "frontend", "window": "30m", "at": AT},
        {"namespace": "shop", "service": "cartservice", "window": "30m", "at": AT},
        {"namespace": "payments", "service": "payments", "window": "1h", "at": AT},
        {"namespace": "data", "service": "mysql", "window": "30m", "at": AT},
        {"namespace": "quiet", "service": "nothing", "window": "30m", "at": AT},
        {"namespace": "bookinfo", "service": "reviews", "window": "30m", "at": BEFORE_DATA},
    ]
    return [Probe("metrics", _q("/api/metrics", **p)) for p in targets]


def _namespaces_probes() -> list[Probe]:
    whens = [{"at": AT}, {"window": "1h", "at": AT}, {"at": BURST}, {"at": BEFORE_DATA}]
    return [Probe("namespaces", _q("/api/namespaces", **w)) for w in whens]


def _list_probes() -> list[Probe]:
    sets = (("bookinfo",), ("shop", "payments"), ("timeline",))
    out = [
        Probe("list", _q("/api/list", kind=kind, namespace=list(ns), at=AT))
        for kind in ("service", "workload", "app")
        for ns in sets
    ]
    extra = [
        {"kind": "service", "namespace": ["bookinfo", "shop"], "sort": "rps", "order": "desc"},
        {"kind": "workload", "namespace": ["bookinfo", "shop"], "sort": "name"},
        {"kind": "workload", "namespace": ["bookinfo", "timeline"], "sort": "p95"},
        {"kind": "service", "namespace": ["shop", "payments"], "sort": "error_rate"},
        {"kind": "app", "namespace": ["bookinfo", "timeline"], "filter": "rev"},
        {"kind": "service", "namespace": "timeline", "window": "10m", "at": BURST},
        # no HTTP or gRPC requests: `data` has only TCP, `quiet` nothing (404 with suggestions)
        {"kind": "service", "namespace": ["shop", "data"]},
        {"kind": "workload", "namespace": "quiet"},
    ]
    out += [Probe("list", _q("/api/list", **({"at": AT} | p))) for p in extra]
    return out


def _canary_probes() -> list[Probe]:
    pairs = [
        ("payments", "payments", {"baseline": "v1", "canary": "v2", "window": "10m"}),
        ("payments", "payments", {"baseline": "v1", "canary": "v2", "window": "30m"}),
        ("payments", "payments", {"baseline": "v1", "canary": "v2", "min_requests": "100000"}),
        ("payments", "payments", {"baseline": "v1", "canary": "v2", "max_p99_ms": "50"}),
        ("bookinfo", "reviews", {"baseline": "v1", "canary": "v2", "window": "10m"}),
        ("timeline", "reviews", {"baseline": "v1", "canary": "v2", "window": "10m"}),
        ("timeline", "reviews", {"baseline": "v1", "canary": "v3", "window": "15m"}),
        ("timeline", "reviews", {"baseline": "v1", "canary": "v2", "at": BURST + 300}),
    ]
    return [
        Probe("canary", _q(f"/api/canary/{ns}/{svc}", **({"at": AT} | p))) for ns, svc, p in pairs
    ]


def _review_probes() -> list[Probe]:
    pay = {"baseline": "v1", "canary": "v2", "window": "10m", "at": AT}
    burst = {"baseline": "v1", "canary": "v2", "at": BURST + 300, "before": BURST - 900}
    out = [
        Probe("review", _q("/api/review/payments/payments", **pay)),
        Probe("review", _q("/api/review/payments/payments", **(pay | {"before": AT - 1800}))),
        Probe("review", _q("/api/review/bookinfo/reviews", **pay)),
        Probe("review", _q("/api/review/timeline/reviews", **pay)),
        Probe("review", _q("/api/review/timeline/reviews", **burst)),
        Probe("review", _q("/api/review/payments/payments/report.md", **pay)),
        Probe("review", _q("/api/review/timeline/reviews/report.html", **burst)),
    ]
    return out


def _investigate_probes() -> list[Probe]:
    cases = [
        {"namespace": "shop", "window": "5m", "at": AT},
        {"namespace": ["shop", "payments", "istio-system"], "window": "5m", "at": AT},
        {"namespace": "shop", "node": "shop/frontend-v1", "at": AT},
        {"namespace": "shop", "graph": "app", "at": AT},
        {"namespace": "timeline", "window": "5m", "at": BURST},
        {"namespace": "timeline", "graph": "versioned-app", "at": BURST},
        {"namespace": "bookinfo", "at": AT},
        {"namespace": "quiet", "at": AT},
    ]
    return [Probe("investigate", _q("/api/investigate", **c)) for c in cases]


def _backend_probes() -> list[Probe]:
    """What the endpoints without Jaeger or Kubernetes answer (no --jaeger, no --kube)."""
    gets = [
        _q("/api/traces", namespace="bookinfo", service="reviews"),
        _q("/api/traces", namespace="bookinfo", service="reviews", error="true", limit=5),
        "/api/traces/0123456789abcdef",
        "/api/routes",
        _q("/api/routes", namespace="bookinfo"),
        "/api/routes/bookinfo/reviews",
        "/api/audit",
        "/api/rollouts",
        "/api/rollouts/bookinfo/reviews",
    ]
    out = [Probe("backends", path) for path in gets]
    shift = {"action": "step", "baseline": "v1", "canary": "v2", "dry_run": True}
    out += [
        Probe("backends", "/api/routes/bookinfo/reviews", "POST", shift),
        Probe("backends", "/api/rollouts/bookinfo/reviews", "POST", {"canary": "v2"}),
        Probe("backends", "/api/rollouts/bookinfo/reviews/pause", "POST"),
    ]
    return out


def _bad_probes() -> list[Probe]:
    """Refused requests: their status and JSON (the error and the field) must stay the same."""
    paths = [
        _q("/api/graph", namespace="Bad_NS!", at=AT),
        _q("/api/graph", namespace="bookinfo", window="abc", at=AT),
        _q("/api/graph", namespace="bookinfo", window="0s", at=AT),
        _q("/api/graph", namespace="bookinfo", window=["5m", "10m"], at=AT),
        _q("/api/graph", namespace="bookinfo", at="yesterday"),
        _q("/api/graph", namespace="bookinfo", at="-5"),
        _q("/api/graph", namespace="bookinfo", graph="bogus", at=AT),
        _q("/api/graph", namespace="bookinfo", waypoints="maybe", at=AT),
        _q("/api/graph", namespace=[f"ns{i}" for i in range(101)], at=AT),
        _q("/api/metrics", service="reviews", at=AT),
        _q("/api/metrics", namespace="timeline", at=AT),
        _q("/api/metrics", namespace="timeline", app="reviews", at=AT),
        _q("/api/metrics", namespace="timeline", service="reviews", workload="reviews-v1"),
        _q("/api/metrics", namespace="timeline", service="re views", at=AT),
        _q("/api/metrics", namespace="timeline", service="reviews", step="1s", window="2h"),
        _q("/api/metrics", namespace="timeline", service="reviews", window="x", at=AT),
        _q("/api/namespaces", at="soon"),
        _q("/api/list", kind="service", at=AT),
        _q("/api/list", kind="pods", namespace="bookinfo", at=AT),
        _q("/api/list", kind="service", namespace="bookinfo", sort="size", at=AT),
        _q("/api/list", kind="service", namespace="bookinfo", filter="x" * 101, at=AT),
        _q("/api/list", kind="app", namespace="bokinfo", at=AT),
        _q("/api/canary/payments/payments", baseline="v1", at=AT),
        _q("/api/canary/payments/payments", canary="v2", at=AT),
        _q("/api/canary/payments/payments", baseline="v1", canary="v1", at=AT),
        _q("/api/canary/payments/payments", baseline="v1", canary="v9", at=AT),
        _q("/api/canary/payments/payments", baseline="v1", canary='v2"}', at=AT),
        _q("/api/canary/payments/payments", baseline="v1", canary="v2", min_success_rate="x"),
        _q("/api/canary/payments/payments", baseline="v1", canary="v2", window="10x"),
        _q("/api/canary/Pay!/payments", baseline="v1", canary="v2", at=AT),
        _q("/api/review/payments/payments", baseline="v1", canary="v2", at=AT, before=AT + 60),
        _q("/api/review/payments/payments/report.txt", baseline="v1", canary="v2", at=AT),
        _q("/api/investigate", namespace="shop", node="not a node!", at=AT),
        _q("/api/investigate", namespace="shop", window="-1m", at=AT),
        _q("/api/traces", service="reviews"),
        _q("/api/traces", namespace="bookinfo", service="reviews", limit="0"),
        "/api/traces/not-hex!",
        _q("/api/audit", limit="many"),
        "/api/no-such-thing",
        "/api/",
        "/api/graph/extra",
    ]
    return [Probe("bad", p) for p in paths]


# -- taking a snapshot ----------------------------------------------------------------------


def _app_env(audit_log: Path) -> dict[str, str]:
    """The caller's environment without any MESHDASH_* or PYTHONPATH setting (the checkout
    under test must import its own modules and run with its defaults), plus two settings that
    keep the answers independent of the machine: an empty audit log of its own (the review and
    canary windows read it) and no per-client query budget (the snapshot is one client sending
    ~150 uncached requests a minute; a 429 would stand in for the real answer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESHDASH_")}
    env.pop("PYTHONPATH", None)
    env["MESHDASH_AUDIT_LOG"] = str(audit_log)
    env["MESHDASH_CLIENT_UNCACHED_PER_MINUTE"] = "1000000"
    env["MESHDASH_LOG_LEVEL"] = "WARNING"
    return env


@contextlib.contextmanager
def running_app(repo: Path, prometheus_url: str) -> Iterator[str]:
    """`python3 app.py --prometheus URL` in the checkout, on a free port; yields its base URL."""
    work = Path(tempfile.mkdtemp(prefix="meshdash-snap-app-"))
    log_path = work / "app.log"
    port = free_port()
    cmd = [sys.executable, "app.py", "--prometheus", prometheus_url]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=repo,
            env=_app_env(work / "audit.jsonl"),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_up(proc, url, log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
    with contextlib.suppress(OSError):
        for f in work.iterdir():
            f.unlink()
        work.rmdir()


def _wait_up(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + APP_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited ({proc.returncode}):\n{_tail(log_path)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(
        f"the app did not answer /healthz in {APP_START_S:.0f} s:\n{_tail(log_path)}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def record(resp: requests.Response) -> dict[str, Any]:
    """Status, content type (and attachment name) and body: parsed JSON, else the text."""
    ctype = resp.headers.get("Content-Type", "")
    entry: dict[str, Any] = {"status": resp.status_code, "content_type": ctype}
    if "Content-Disposition" in resp.headers:
        entry["disposition"] = resp.headers["Content-Disposition"]
    try:
        entry["json"] = resp.json() if "json" in ctype else None
    except ValueError:
        entry["json"] = None
    if entry["json"] is None:
        del entry["json"]
        entry["text"] = resp.text
    return entry


def take_snapshot(repo: Path, prometheus_url: str, only: Sequence[str] = ()) -> dict[str, Any]:
    """Every probe (of the groups in `only`, or all) against the checkout's app, in order."""
    chosen = [p for p in probes() if not only or p.group in only]
    entries: dict[str, Any] = {}
    with running_app(repo, prometheus_url) as base, requests.Session() as http:
        for probe in chosen:
            kwargs: dict[str, Any] = {"timeout": REQUEST_TIMEOUT_S, "allow_redirects": False}
            if probe.body is not None:
                kwargs["json"] = probe.body
            try:
                answer = record(http.request(probe.method, base + probe.path, **kwargs))
            except requests.RequestException as exc:
                # No answer at all (a hang past the timeout, a crash): recorded as status 0
                # with the kind of failure (its message names the random port).
                answer = {"status": 0, "content_type": "", "text": type(exc).__name__}
            entries[probe.key] = {"group": probe.group, **answer}
    return {"format": FORMAT, "repo": str(repo), "commit": _commit(repo), "entries": entries}


def _commit(repo: Path) -> str:
    """HEAD, with `+dirty` when the worktree has changes (for the reader; never compared)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


@contextlib.contextmanager
def scenario_prometheus() -> Iterator[str]:
    """One real Prometheus backfilled with the integration scenarios; yields its URL."""
    with PrometheusServer() as server:
        om = write_scenarios(
            server.workdir / "scenarios.om", build_scenarios(), str(server.workdir)
        )
        server.load_openmetrics(om)
        om.unlink()
        server.start()
        yield server.url


def status_counts(snapshot: dict[str, Any]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for entry in snapshot["entries"].values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    return dict(sorted(counts.items()))


def describe(snapshot: dict[str, Any], label: str) -> str:
    """One line of status counts, then every 5xx, 429 and unanswered (0) URL: never hidden."""
    counts = ", ".join(f"{code}: {n}" for code, n in status_counts(snapshot).items())
    lines = [f"{label}: {len(snapshot['entries'])} URLs ({counts}) at {snapshot['commit']}"]
    for key, entry in snapshot["entries"].items():
        if entry["status"] >= 500 or entry["status"] in (0, 429):
            lines.append(f"  {entry['status']} {key}: {_short(entry)}")
    return "\n".join(lines)


def _short(entry: dict[str, Any]) -> str:
    body = entry.get("json", entry.get("text"))
    text = json.dumps(body) if not isinstance(body, str) else body
    return text[:200]


# -- comparing ------------------------------------------------------------------------------


def _scrub(value: Any, rules: Sequence[Volatile]) -> Any:
    """value with every volatile pattern replaced, in text and in every string of a JSON body."""
    if isinstance(value, str):
        for rule in rules:
            value = re.sub(rule.pattern, rule.stand_in, value)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, rules) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, rules) for v in value]
    return value


def stable(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as compared: without its group, the volatile text replaced."""
    url = key.split(" ", 1)[1]
    rules = [v for v in VOLATILE if url.startswith(v.prefix)]
    return {k: _scrub(v, rules) for k, v in entry.items() if k != "group"}


def json_diff(a: Any, b: Any, path: str = "$", limit: int = 8) -> list[str]:
    """Up to `limit` lines `path: a != b`, walking dicts by key and lists by index."""
    out: list[str] = []
    _walk(a, b, path, out, limit)
    return out


def _walk(a: Any, b: Any, path: str, out: list[str], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: only after = {_brief(b[k])}")
            elif k not in b:
                out.append(f"{path}.{k}: only before = {_brief(a[k])}")
            else:
                _walk(a[k], b[k], f"{path}.{k}", out, limit)
            if len(out) >= limit:
                return
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _walk(x, y, f"{path}[{i}]", out, limit)
            if len(out) >= limit:
                return
        return
    if isinstance(a, str) and isinstance(b, str) and a != b and "\n" in a + b:
        out.append(f"{path}: {_first_line_diff(a, b)}")
        return
    if type(a) is float and type(b) is float and math.isclose(a, b, rel_tol=FLOAT_REL_TOL):
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path}: {_brief(a)} != {_brief(b)}")


def _first_line_diff(a: str, b: str) -> str:
    """Where two texts first differ: the line, the column and 40 characters either side."""
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            col = next((j for j, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), None)
            col = min(len(x), len(y)) if col is None else col
            lo = max(0, col - 40)
            return f"line {i + 1} col {col + 1}: {x[lo : col + 40]!r} != {y[lo : col + 40]!r}"
    return f"{len(la)} lines != {len(lb)} lines"


def _brief(v: Any) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."


def compare(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, dict[str, list[str]]]:
    """(URLs compared, {key: diff lines} for those that differ), a URL in one snapshot only
    counting as a difference."""
    a, b = before["entries"], after["entries"]
    diffs: dict[str, list[str]] = {}
    for key in [*a, *(k for k in b if k not in a)]:
        if key not in b:
            diffs[key] = ["only in the before snapshot"]
        elif key not in a:
            diffs[key] = ["only in the after snapshot"]
        else:
            lines = json_diff(stable(key, a[key]), stable(key, b[key]))
            if lines:
                diffs[key] = lines
    return len(set(a) | set(b)), diffs


def report(compared: int, diffs: dict[str, list[str]]) -> str:
    lines = []
    for key, found in diffs.items():
        lines.append(key)
        lines += [f"    {line}" for line in found]
    verdict = "equal" if not diffs else f"{len(diffs)} differ"
    lines.append(f"{compared} URLs compared: {verdict}")
    return "\n".join(lines)


# -- CLI ------------------------------------------------------------------------------------


def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        snapshot = json.load(f)
    if snapshot.get("format") != FORMAT or "entries" not in snapshot:
        raise SystemExit(f"{path}: not an api_snapshot file (format {FORMAT})")
    return snapshot


def _save(snapshot: dict[str, Any], path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(snapshot, f, indent=1, sort_keys=False)
        f.write("\n")


def _only(text: str | None) -> tuple[str, ...]:
    chosen = tuple(g.strip() for g in (text or "").split(",") if g.strip())
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        raise SystemExit(f"--only: unknown group(s) {', '.join(unknown)}; groups: {GROUPS}")
    return chosen


def _repo(text: str) -> Path:
    repo = Path(text).resolve()
    if not (repo / "app.py").is_file():
        raise SystemExit(f"{repo}: no app.py (give the checkout under test)")
    return repo


def main(argv: Sequence[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(prog="api_snapshot", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("take", help="snapshot one checkout's /api/ answers")
    t.add_argument("--repo", default=str(here), help="the checkout under test (default: this)")
    t.add_argument("--out", required=True, help="the snapshot file to write")
    t.add_argument("--only", help=f"comma list of groups: {','.join(GROUPS)}")
    t.add_argument("--prometheus", help="a running Prometheus holding the scenarios")
    c = sub.add_parser("compare", help="compare two snapshot files")
    c.add_argument("before")
    c.add_argument("after")
    k = sub.add_parser("check", help="snapshot two checkouts on one Prometheus and compare")
    k.add_argument("--before", required=True, help="the checkout before the change")
    k.add_argument("--after", required=True, help="the checkout after the change")
    k.add_argument("--before-out", help="also write the before snapshot here")
    k.add_argument("--after-out", help="also write the after snapshot here")
    k.add_argument("--only", help=f"comma list of groups: {','.join(GROUPS)}")
    a = p.parse_args(argv)

    if a.command == "compare":
        compared, diffs = compare(_load(a.before), _load(a.after))
        print(report(compared, diffs))
        return 1 if diffs else 0
    only = _only(a.only)
    if a.command == "take":
        repo = _repo(a.repo)
        with contextlib.ExitStack() as stack:
            url = a.prometheus or stack.enter_context(scenario_prometheus())
            snapshot = take_snapshot(repo, url, only)
        _save(snapshot, a.out)
        print(describe(snapshot, a.out))
        return 0
    before_repo, after_repo = _repo(a.before), _repo(a.after)
    with scenario_prometheus() as url:
        before = take_snapshot(before_repo, url, only)
        print(describe(before, "before"))
        after = take_snapshot(after_repo, url, only)
        print(describe(after, "after"))
    if a.before_out:
        _save(before, a.before_out)
    if a.after_out:
        _save(after, a.after_out)
    compared, diffs = compare(before, after)
    print(report(compared, diffs))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
