"""The production entry points: wsgi.py under a real gunicorn with two workers, and its config."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, free_port
from tests.gunicorn_run import LIVE_ENV, clean_env, running_gunicorn


def test_wsgi_exposes_the_flask_server():
    code = (
        "import wsgi, flask; assert isinstance(wsgi.server, flask.Flask);"
        "assert wsgi.application is wsgi.server;"
        "r = wsgi.server.test_client().get('/healthz'); print(r.status_code)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=clean_env(**LIVE_ENV),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "200"


@pytest.fixture(scope="module")
def gunicorn_server(tmp_path_factory):
    if shutil.which("gunicorn") is None and subprocess.call(
        [sys.executable, "-c", "import gunicorn"], stderr=subprocess.DEVNULL
    ):
        pytest.skip("gunicorn is not installed (requirements.txt)")
    port = free_port()
    logs = tmp_path_factory.mktemp("gunicorn")
    env = clean_env(
        **LIVE_ENV,
        MESHDASH_BIND=f"127.0.0.1:{port}",
        MESHDASH_WORKERS="2",
        MESHDASH_THREADS="2",
        TMPDIR=str(logs),
    )
    url = f"http://127.0.0.1:{port}"
    with running_gunicorn(env, url, logs):
        yield url, logs


def healthz_count(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "meshdash_http_request_duration_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count") and sample.labels["route"] == "/healthz":
                    return sample.value
    return 0.0


def test_gunicorn_serves_probes_metrics_and_json_errors(gunicorn_server):
    url, _ = gunicorn_server
    time.sleep(2)  # let the second worker finish importing, so both take requests
    before = healthz_count(url)
    n = 20
    for _ in range(n):
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
    # Every worker's count in one scrape (multiprocess mode), whichever worker answers it.
    assert healthz_count(url) - before == n
    r = requests.get(url + "/api/graph?namespace=shop", timeout=30)
    assert r.status_code in (502, 504)
    assert r.json()["backend"] == "prometheus"
    ready = requests.get(url + "/readyz", timeout=10)
    assert "prometheus" in ready.json()["backends"]
    text = requests.get(url + "/metrics", timeout=5).text
    assert 'meshdash_backend_errors_total{backend="prometheus",call="graph_telemetry"' in text


def test_gunicorn_logs_are_json_lines(gunicorn_server):
    url, logs = gunicorn_server
    requests.get(url + "/healthz", timeout=5)
    time.sleep(0.5)
    for name in ("stderr", "stdout"):
        lines = [x for x in Path(logs / name).read_text().splitlines() if x.strip()]
        assert lines, name
        parsed = [json.loads(x) for x in lines]
        assert all({"time", "level", "logger", "message"} <= p.keys() for p in parsed)
    access = [json.loads(x) for x in (logs / "stdout").read_text().splitlines() if x.strip()]
    assert any(a.get("path") == "/healthz" and a.get("status") == 200 for a in access)
