"""The production server's config: gunicorn.conf.py read with the environment (the server itself
runs in tests/integration/test_serving.py)."""

from __future__ import annotations

import os
import runpy

from tests.conftest import REPO
from tests.gunicorn_run import LIVE_ENV


def load_config(monkeypatch, **env: str) -> dict:
    # gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR itself: recorded here (set, then removed)
    # so the test's end restores the environment, and later tests' /metrics stay single-process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    for k in [k for k in os.environ if k.startswith(("MESHDASH_", "PROMETHEUS_MULTIPROC"))]:
        monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return runpy.run_path(str(REPO / "gunicorn.conf.py"))


def test_gunicorn_config_reads_the_environment(monkeypatch, tmp_path):
    conf = load_config(
        monkeypatch, MESHDASH_WORKERS="3", MESHDASH_PORT="9000", TMPDIR=str(tmp_path)
    )
    assert (conf["workers"], conf["bind"], conf["worker_class"]) == (3, "127.0.0.1:9000", "gthread")
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "meshdash-metrics")
    assert conf["logconfig_dict"]["formatters"]["json"]["()"] == "ops.logging_setup.JsonFormatter"


def test_demo_mode_defaults_to_one_worker_and_live_mode_to_two(monkeypatch):
    assert load_config(monkeypatch)["workers"] == 1  # the demo's routes live in one process
    assert load_config(monkeypatch, **LIVE_ENV)["workers"] == 2
    assert "PROMETHEUS_MULTIPROC_DIR" in os.environ
