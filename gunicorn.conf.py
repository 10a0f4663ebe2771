"""gunicorn settings for meshdash, from the environment (`make serve`, the container).

- MESHDASH_BIND (default MESHDASH_HOST:MESHDASH_PORT, i.e. 127.0.0.1:8050).
- MESHDASH_WORKERS: processes; default 2, or 1 in demo mode, whose simulated routes live in
  one process's memory (two workers would each keep their own).
- MESHDASH_THREADS: threads per worker (gthread), default 4. Cache hits are CPU work under one
  GIL, so more threads mostly add switching (bench/load.py: 4 threads served 670 requests/s, 16
  served 540); a cold view waits on the backend, and single flight makes identical ones share it.
- MESHDASH_MAX_REQUESTS: recycle a worker after this many requests (default 0: never).
- With several workers, prometheus_client's multiprocess mode aggregates every worker's
  meshdash_* series in one /metrics answer (PROMETHEUS_MULTIPROC_DIR, emptied at start).
- Logs: JSON lines, gunicorn's access log included (ops/logging_setup.py).
- Identity headers sent twice are marked in pre_request (access/security.py refuses them with a 400):
  WSGI joins repeats into one comma-separated value, which the app cannot tell from a list.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def _demo() -> bool:
    env = os.environ
    kube = env.get("MESHDASH_KUBE_ENABLED", "").lower() in ("1", "true", "yes", "on")
    return (
        not env.get("MESHDASH_PROMETHEUS_URL") and not env.get("MESHDASH_JAEGER_URL") and not kube
    )


_host = os.environ.get("MESHDASH_HOST", "127.0.0.1")
_port = os.environ.get("MESHDASH_PORT", "8050")
bind = os.environ.get("MESHDASH_BIND", f"{_host}:{_port}")
workers = int(os.environ.get("MESHDASH_WORKERS", "1" if _demo() else "2"))
worker_class = "gthread"
threads = int(os.environ.get("MESHDASH_THREADS", "4"))
# A request waiting on a hung backend holds its thread (up to the backend's deadline). Fewer
# such requests than threads may wait at once (503 past it), so /healthz, /readyz and cached
# pages always find a free thread in every worker (collectors/cache.py, BackendLimiter.waiting).
# (raw_env: gunicorn sets it in its own environment before the workers start.)
raw_env = (
    []
    if os.environ.get("MESHDASH_BACKEND_WAITERS")
    else [f"MESHDASH_BACKEND_WAITERS={max(1, threads - 1)}"]
)
timeout = int(os.environ.get("MESHDASH_WORKER_TIMEOUT_S", "60"))  # longer than any backend timeout
graceful_timeout = 20
keepalive = 5
# Recycling a worker after N requests (a guard against slow leaks) is off by default: each recycle
# drops that worker's in-process cache (one more query set) and, with one worker, stalls every
# request for the seconds a new worker takes to import the app. Under the load test (bench/load.py,
# ~700 requests/s) the former 5,000 recycled a worker every 7 s. Caches are bounded; set
# MESHDASH_MAX_REQUESTS (e.g. 200000) to recycle anyway.
max_requests = int(os.environ.get("MESHDASH_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# The heartbeat file must sit on a writable filesystem: the container's root is read-only.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
control_socket_disable = True  # gunicorn >= 24 puts one in $HOME, which the container lacks

# Before anything imports prometheus_client: it picks its value class once, at import.
if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(
        Path(os.environ.get("TMPDIR", tempfile.gettempdir())) / "meshdash-metrics"
    )


def _logconfig() -> dict:
    from ops.logging_setup import (
        GUNICORN_LOGCONFIG,  # imports ops.self_metrics: after the line above
    )

    return GUNICORN_LOGCONFIG


logconfig_dict = _logconfig()
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(D)sus'
loglevel = os.environ.get("MESHDASH_LOG_LEVEL", "info").lower()


def on_starting(server) -> None:
    """A fresh metrics directory per start: stale files of dead workers would count twice."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges (in-flight backend calls) from the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def pre_request(worker, req) -> None:
    """Mark identity headers the client sent more than once (security.REPEATED_HEADER); drop
    any marker the client sent itself."""
    from access.security import REPEATED_HEADER, repeated_identity_headers

    marker = REPEATED_HEADER.upper()
    req.headers = [(n, v) for n, v in req.headers if n.upper() != marker]
    repeated = repeated_identity_headers(n for n, _ in req.headers)
    if repeated:
        req.headers.append((marker, ",".join(repeated)))
