"""Run a REAL Prometheus (Debian's 2.42 `prometheus` + `promtool`) loaded with known data.

OpenMetrics text (from the simulator or written by hand) is turned into TSDB blocks with
`promtool tsdb create-blocks-from openmetrics`, then Prometheus is started on those blocks on a
free loopback port. Blocks present at startup are opened before /-/ready answers, and overlapping
blocks are allowed by default since 2.39, so backfilled data is queryable at once; a retention of
100 years keeps Prometheus from deleting "old" data. The server can be stopped and started again
on the same port and data (fault tests), and can carry an extra scrape config.

Usable from benchmarks too: pytest is imported only by `require_prometheus()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

PROMETHEUS = "prometheus"
PROMTOOL = "promtool"


def binaries_missing() -> list[str]:
    return [b for b in (PROMETHEUS, PROMTOOL) if shutil.which(b) is None]


def require_prometheus() -> None:
    """pytest.skip with the reason when the binaries are not installed."""
    missing = binaries_missing()
    if missing:
        import pytest

        pytest.skip(
            f"{' and '.join(missing)} not installed (Debian package 'prometheus' provides both)"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusError(RuntimeError):
    pass


class PrometheusServer:
    """One Prometheus process over its own data directory.

    Typical use: `srv = PrometheusServer(); srv.load_openmetrics(text); srv.start(); srv.url`.
    """

    def __init__(
        self,
        workdir: str | Path | None = None,
        *,
        scrape_configs: Iterable[Mapping[str, Any]] = (),
        extra_args: Iterable[str] = (),
        startup_timeout_s: float = 60.0,
    ) -> None:
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="meshdash-prom-"))
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self.scrape_configs = [dict(c) for c in scrape_configs]
        self.extra_args = list(extra_args)
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self.data_min_s: float | None = None
        self.data_max_s: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    # -- data -----------------------------------------------------------------------------
    def load_openmetrics(self, text_or_path: str | Path) -> None:
        """Backfill OpenMetrics text (a string, or a Path to a file) into the data directory.

        Load before start(); data loaded while running shows after a restart().
        """
        if isinstance(text_or_path, Path):
            source = text_or_path
        else:
            source = self.workdir / "input.om"
            source.write_text(text_or_path, encoding="utf-8")
        proc = subprocess.run(
            [
                PROMTOOL,
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                str(source),
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if source.parent == self.workdir and source.name == "input.om":
            source.unlink()
        if proc.returncode != 0:
            raise PrometheusError(f"promtool failed: {proc.stderr.strip() or proc.stdout.strip()}")
        self._note_blocks(proc.stdout)

    def _note_blocks(self, table: str) -> None:
        """promtool prints one line per block: ULID, min time (ms), max time (ms), ..."""
        for line in table.splitlines():
            parts = line.split()
            if len(parts) >= 3 and len(parts[0]) == 26 and parts[1].isdigit():
                lo, hi = int(parts[1]) / 1000.0, (int(parts[2]) - 1) / 1000.0
                self.data_min_s = lo if self.data_min_s is None else min(self.data_min_s, lo)
                self.data_max_s = hi if self.data_max_s is None else max(self.data_max_s, hi)

    # -- process --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise PrometheusError("Prometheus has not been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _write_config(self) -> None:
        config = {"global": {"scrape_interval": "15s", "evaluation_interval": "15s"}}
        if self.scrape_configs:
            config["scrape_configs"] = self.scrape_configs
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def start(self) -> None:
        """Start (again, on the same port once chosen) and wait until the data answers."""
        if self.running:
            return
        require = binaries_missing()
        if require:
            raise PrometheusError(f"not installed: {', '.join(require)}")
        self._write_config()
        if self.port is None:
            self.port = free_port()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        self._proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *self.extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env={**os.environ, "GOMAXPROCS": os.environ.get("GOMAXPROCS", "2")},
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        probe = 'count({__name__=~".+"})'
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise PrometheusError(f"Prometheus exited early:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                ready = requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
                if ready and (self.data_max_s is None or self.query(probe, self.data_max_s)):
                    return
            time.sleep(0.1)
        raise PrometheusError(
            f"Prometheus not ready in {self.startup_timeout_s}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate, wait, kill if needed; the port and data stay for a later start()."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop and remove the working directory if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- Prometheus's own metrics (benchmarks) -------------------------------------------
    def own_metric(self, name: str) -> float | None:
        """An unlabelled sample of Prometheus's own /metrics, or None when it is absent."""
        text = requests.get(f"{self.url}/metrics", timeout=30).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ", 1)[1])
        return None

    def wait_blocks_merged(self, blocks: int = 1, timeout_s: float = 1800.0) -> float:
        """Wait until at most `blocks` blocks are loaded and no compaction runs; seconds waited.

        Several backfills over the same hours give overlapping blocks. Prometheus 2.39+ answers
        over them at once, and merges them (vertical compaction) in its first compaction cycle,
        about a minute after start: a benchmark waits for that, so it measures queries on the
        one block a single backfill would have given, with no compaction running beside them.
        """
        began = time.monotonic()
        while True:
            loaded = self.own_metric("prometheus_tsdb_blocks_loaded")
            busy = self.own_metric("prometheus_tsdb_compaction_populating_block")
            if loaded is not None and loaded <= blocks and not busy:
                return time.monotonic() - began
            if time.monotonic() - began > timeout_s:
                raise PrometheusError(
                    f"blocks still loaded after {timeout_s:g} s: {loaded}\n{self.log_tail()}"
                )
            if not self.running:
                raise PrometheusError(f"Prometheus exited:\n{self.log_tail()}")
            time.sleep(2.0)

    # -- queries (for tests' expectations) ------------------------------------------------
    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query's result vector (list of {"metric": {...}, "value": [t, "v"]})."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        r = requests.get(f"{self.url}/api/v1/query", params=params, timeout=30)
        body = r.json()
        if body.get("status") != "success":
            raise PrometheusError(f"query failed: {body.get('error', r.text)}")
        return list(body["data"]["result"])

    def query_value(self, promql: str, at: float | None = None) -> float | None:
        """The single value of a query that returns one sample, or None when it returns none."""
        result = self.query(promql, at)
        if not result:
            return None
        if len(result) != 1:
            raise PrometheusError(f"expected one sample, got {len(result)} for {promql}")
        return float(result[0]["value"][1])
