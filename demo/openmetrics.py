"""OpenMetrics text of the demo's series, for `promtool tsdb create-blocks-from openmetrics`.

That is how tests and benchmarks load a real Prometheus with known data. Each family is written
contiguously with its `# TYPE` line (counter families are named without `_total`, their samples
with it; the histogram's samples are _bucket/_count/_sum per timestamp), timestamps are in
seconds, and the text ends with `# EOF`. Families are streamed to temporary files and joined, so
memory stays bounded for a 4,000-edge mesh.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from demo.series import FAMILIES, CounterSeries, HistogramSeries, mesh_series
from demo.traffic import TrafficModel
from mesh.quantiles import ISTIO_BUCKETS_MS

HELP = {
    "istio_requests": "Requests, by reporter and response (Istio standard metric).",
    "istio_request_duration_milliseconds": "Request duration in milliseconds.",
    "istio_tcp_sent_bytes": "Bytes sent by the proxy in the response direction.",
    "istio_tcp_received_bytes": "Bytes received by the proxy in the request direction.",
    "istio_tcp_connections_opened": "TCP connections opened.",
    "istio_tcp_connections_closed": "TCP connections closed.",
}


def _le(bound: float) -> str:
    """Bounds as Envoy prints them: 0.5, 1, 5, ..., 3600000."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


LE_VALUES: tuple[str, ...] = (*(_le(b) for b in ISTIO_BUCKETS_MS), "+Inf")


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())


def _ts(times: np.ndarray) -> list[str]:
    return [str(int(t)) if float(t).is_integer() else repr(float(t)) for t in times.tolist()]


def _counter_lines(s: CounterSeries) -> str:
    prefix = f"{s.family}_total{{{_labels(s.labels)}}} "
    return "".join(
        f"{prefix}{v} {t}\n" for v, t in zip(s.values.tolist(), _ts(s.times), strict=True)
    )


def _histogram_lines(s: HistogramSeries) -> str:
    base = _labels(s.labels)
    prefixes = [f'{s.family}_bucket{{{base},le="{le}"}} ' for le in LE_VALUES]
    count_prefix = f"{s.family}_count{{{base}}} "
    sum_prefix = f"{s.family}_sum{{{base}}} "
    parts: list[str] = []
    rows = s.buckets.tolist()
    for row, total, t in zip(rows, s.sums.tolist(), _ts(s.times), strict=True):
        parts.extend(f"{p}{v} {t}\n" for p, v in zip(prefixes, row, strict=True))
        parts.append(f"{count_prefix}{row[-1]} {t}\n")
        parts.append(f"{sum_prefix}{_float(total)} {t}\n")
    return "".join(parts)


def _float(x: float) -> str:
    return repr(round(x, 6)) if math.isfinite(x) else ("+Inf" if x > 0 else "NaN")


@dataclass(frozen=True, slots=True)
class WriteStats:
    """What was written: for benchmark figures and sanity checks."""

    path: Path
    series: int
    samples: int
    bytes: int
    start: float
    end: float


class _Spool:
    """One OpenMetrics text in the making: each family goes to its own temporary file, so the
    families come out contiguous however the series arrive."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.files: dict[str, IO[str]] = {}
        self.series = 0
        self.samples = 0

    def add(self, s: CounterSeries | HistogramSeries) -> None:
        f = self.files.get(s.family)
        if f is None:
            f = self.files[s.family] = open(  # noqa: SIM115 (closed in close())
                self.tmp / s.family, "w", encoding="utf-8"
            )
        if isinstance(s, HistogramSeries):
            f.write(_histogram_lines(s))
            per_point = len(LE_VALUES) + 2
        else:
            f.write(_counter_lines(s))
            per_point = 1
        self.series += per_point
        self.samples += per_point * len(s.times)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def join(self, out: IO[str]) -> None:
        """The families in FAMILIES order, each under its # HELP and # TYPE, then # EOF."""
        for family, kind in FAMILIES.items():
            if family not in self.files:
                continue
            out.write(f"# HELP {family} {HELP.get(family, family)}\n# TYPE {family} {kind}\n")
            with open(self.tmp / family, encoding="utf-8") as f:
                shutil.copyfileobj(f, out, length=1 << 20)
        for family in self.files:
            if family not in FAMILIES:
                raise ValueError(f"unknown metric family {family}")
        out.write("# EOF\n")


def write_series(
    series: Iterable[CounterSeries | HistogramSeries], out: IO[str], tmpdir: str | None = None
) -> tuple[int, int]:
    """Write any series as OpenMetrics (families contiguous, `# EOF` last).

    Returns (series, samples) counted as Prometheus stores them (each bucket is a series).
    """
    with tempfile.TemporaryDirectory(dir=tmpdir, prefix="meshdash-om-") as tmp:
        spool = _Spool(Path(tmp))
        try:
            for s in series:
                spool.add(s)
        finally:
            spool.close()
        spool.join(out)
    return spool.series, spool.samples


def write_series_split(
    series: Iterable[CounterSeries | HistogramSeries],
    group_of: Callable[[dict[str, str]], str],
    directory: str | Path,
) -> list[tuple[Path, int, int]]:
    """Write the series as one OpenMetrics file per group (`group_of(labels)`), in one pass.

    For meshes too big for one promtool call: `promtool tsdb create-blocks-from openmetrics`
    holds every series of a call in memory, while each file becomes its own block and
    Prometheus (2.39+) reads and merges overlapping blocks. Returns (path, series, samples)
    per file, in the order the groups first appeared.
    """
    directory = Path(directory)
    with tempfile.TemporaryDirectory(dir=directory, prefix="meshdash-om-") as tmp:
        spools: dict[str, _Spool] = {}
        try:
            for s in series:
                group = group_of(s.labels)
                spool = spools.get(group)
                if spool is None:
                    if not group or "/" in group or group.startswith("."):
                        raise ValueError(f"group {group!r} cannot name a file")
                    (Path(tmp) / group).mkdir()
                    spool = spools[group] = _Spool(Path(tmp) / group)
                spool.add(s)
        finally:
            for spool in spools.values():
                spool.close()
        written = []
        for group, spool in spools.items():
            path = directory / f"{group}.om"
            with open(path, "w", encoding="utf-8") as out:
                spool.join(out)
            shutil.rmtree(spool.tmp)  # disk holds each group's text once, not twice
            written.append((path, spool.series, spool.samples))
    return written


def write_openmetrics(
    model: TrafficModel,
    path: str | Path,
    start: float,
    end: float,
    step: float = 15.0,
    *,
    full_labels: bool = True,
) -> WriteStats:
    """Write the mesh's series over [start, end] every `step` s to `path` (streamed)."""
    path = Path(path)
    with open(path, "w", encoding="utf-8") as out:
        n_series, n_samples = write_series(
            mesh_series(model, start, end, step, full=full_labels), out, tmpdir=str(path.parent)
        )
    return WriteStats(path, n_series, n_samples, path.stat().st_size, start, end)


def openmetrics_text(
    model: TrafficModel, start: float, end: float, step: float = 15.0, *, full_labels: bool = True
) -> str:
    """The same text in memory, for small meshes and tests."""
    import io

    buf = io.StringIO()
    write_series(mesh_series(model, start, end, step, full=full_labels), buf)
    return buf.getvalue()
