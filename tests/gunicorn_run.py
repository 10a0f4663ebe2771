"""gunicorn as production runs it (gunicorn.conf.py, wsgi:server), started for one test module.

Shared by tests/integration/test_serving.py (probes, metrics and logs across two workers) and
test_hardening_gunicorn.py (the same server in front of hung backends).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO

STOP_GRACE_S = 3.0  # how long a stopping gunicorn may take before its workers are killed
LIVE_ENV = {"MESHDASH_PROMETHEUS_URL": "http://127.0.0.1:9"}  # nothing listens on port 9


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without meshdash's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESHDASH_", "PROMETHEUS_"))}
    env.update(extra)
    return env


@contextmanager
def running_gunicorn(env: dict[str, str], url: str, logs: Path) -> Iterator[subprocess.Popen]:
    """gunicorn with `env` (which sets MESHDASH_BIND to `url`'s address), once /healthz answers
    200; its stdout and stderr go to `logs`/stdout and `logs`/stderr. Stopped on exit."""
    err = (logs / "stderr").open("w")
    out = (logs / "stdout").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:server"],
        cwd=REPO, env=env, stdout=out, stderr=err,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start:\n" + (logs / "stderr").read_text())
            try:
                # Connections queue on the socket while workers import the app: a read timeout.
                if requests.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield proc
    finally:
        # SIGQUIT: gunicorn's quick shutdown. A worker still exits only once its threads do, and
        # threads a test left hanging on its stalled backends would hold it until gunicorn's
        # graceful_timeout (20 s) ends in SIGKILL; no test checks that wait, so the workers get
        # the SIGKILL after a short grace instead.
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            for worker in _children(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
            proc.wait(30)
        err.close()
        out.close()


def _children(pid: int) -> list[int]:
    """The processes `pid` started (gunicorn's workers), from /proc."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []
