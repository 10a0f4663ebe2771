"""The demo's Istio series and their OpenMetrics text (what promtool backfills)."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np
import pytest

from demo.bookinfo import bookinfo_spec
from demo.openmetrics import openmetrics_text, write_series_split
from demo.series import CounterSeries, HistogramSeries, mesh_series
from demo.spec import Call, MeshSpec, Workload
from demo.state import TrafficState
from demo.traffic import TrafficModel

T = 1_767_225_600.0
SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z_]+="[^"]*",?)*)\} (\S+) (\d+)$')


def mixed_model(**kw) -> TrafficModel:
    """Bookinfo plus an unmeshed caller and a TCP edge."""
    base = bookinfo_spec(reviews_split={"v1": 50, "v2": 50})
    spec = MeshSpec(
        workloads=(
            *base.workloads,
            Workload("legacy", "cron", "cron", meshed=False),
            Workload("data", "mysql-v1", "mysql", service="mysql"),
        ),
        calls=(
            *base.calls,
            Call("legacy", "cron", "bookinfo", "productpage", rps=0.5),
            Call(
                "bookinfo",
                "details-v1",
                "data",
                "mysql",
                protocol="tcp",
                rps=1,
                sent_bps=10,
                received_bps=500,
            ),
        ),
        splits=base.splits,
    )
    return TrafficModel(spec, TrafficState(spec, clock=lambda: T), **kw)


def collect(model: TrafficModel, start: float, end: float, step: float = 15.0):
    return list(mesh_series(model, start, end, step))


def key(labels: dict[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


def test_counters_are_monotone_integers_and_histograms_consistent():
    series = collect(mixed_model(), T - 1800, T)
    requests = {
        key(s.labels): s
        for s in series
        if isinstance(s, CounterSeries) and s.family == "istio_requests"
    }
    histograms = [s for s in series if isinstance(s, HistogramSeries)]
    assert requests and histograms
    for s in series:
        values = s.buckets if isinstance(s, HistogramSeries) else s.values
        assert values.dtype == np.int64
        assert np.all(np.diff(values, axis=0) >= 0), "counters never go down"
        assert np.all(np.diff(s.times) == 15.0)
    for h in histograms:
        assert np.all(np.diff(h.buckets, axis=1) >= 0), "buckets are cumulative in le"
        same = requests[key(h.labels)]
        assert np.array_equal(h.buckets[:, -1], same.values), "+Inf bucket == requests_total"
        assert np.all(np.diff(h.sums) >= 0)


def test_reporters_follow_istio():
    series = collect(mixed_model(), T - 600, T)
    reporters = defaultdict(set)
    for s in series:
        reporters[s.labels["source_workload"]].add(s.labels["reporter"])
    assert reporters["unknown"] == {"destination"}
    assert reporters["productpage-v1"] == {"source", "destination"}
    unknown = [s for s in series if s.labels["source_workload"] == "unknown"]
    assert all(s.labels["connection_security_policy"] == "none" for s in unknown)
    meshed_dst = [
        s
        for s in series
        if s.labels["reporter"] == "destination" and s.labels["source_workload"] != "unknown"
    ]
    # Bookinfo's details-v1 takes its calls in plain text (demo/bookinfo.py); the rest is mTLS.
    plain = {
        s.labels["destination_workload"]
        for s in meshed_dst
        if s.labels["connection_security_policy"] == "none"
    }
    secure = {
        s.labels["destination_workload"]
        for s in meshed_dst
        if s.labels["connection_security_policy"] == "mutual_tls"
    }
    assert plain == {"details-v1"}
    assert {"productpage-v1", "reviews-v1", "ratings-v1"} <= secure
    assert plain | secure == {s.labels["destination_workload"] for s in meshed_dst}


def test_a_version_without_traffic_has_no_series_and_a_new_one_starts_at_its_first_request():
    model = mixed_model()
    assert not any(
        s.labels.get("destination_workload") == "reviews-v3" for s in collect(model, T - 600, T)
    )
    model.state.set_split("bookinfo", "reviews", {"v1": 50, "v2": 25, "v3": 25}, at=T - 300)
    v3 = [
        s
        for s in collect(model, T - 600, T)
        if s.labels.get("destination_workload") == "reviews-v3"
    ]
    assert v3 and all(s.times[0] == T - 285 for s in v3 if s.labels["response_code"] == "200")
    assert all(s.times[0] > T - 300 for s in v3)


def test_tcp_bytes_are_named_from_the_proxy_point_of_view():
    series = collect(mixed_model(noise=0.0), T - 600, T)
    tcp = {
        s.family: s
        for s in series
        if s.labels["request_protocol"] == "tcp" and s.labels["reporter"] == "source"
    }
    assert set(tcp) == {
        "istio_tcp_sent_bytes",
        "istio_tcp_received_bytes",
        "istio_tcp_connections_opened",
        "istio_tcp_connections_closed",
    }

    def rate(family: str) -> float:
        s = tcp[family]
        return float(s.values[-1] - s.values[-21]) / 300

    assert rate("istio_tcp_received_bytes") == pytest.approx(10, abs=0.01)  # client -> server
    assert rate("istio_tcp_sent_bytes") == pytest.approx(500, abs=0.01)  # server -> client
    assert rate("istio_tcp_connections_opened") == pytest.approx(1, abs=0.01)
    assert np.all(
        tcp["istio_tcp_connections_closed"].values <= tcp["istio_tcp_connections_opened"].values
    )


def test_openmetrics_text_is_well_formed():
    text = openmetrics_text(mixed_model(), T - 300, T, 30)
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("\n")
    types: dict[str, str] = {}
    order: list[str] = []
    last_ts: dict[str, int] = {}
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, "each family is declared once"
            types[family] = kind
            order.append(family)
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, line
        name, labels, value, ts = m.groups()
        family = order[-1]  # samples belong to the family declared last: families are contiguous
        kind = types[family]
        suffixes = ("_total",) if kind == "counter" else ("_bucket", "_count", "_sum")
        assert name in {family + s for s in suffixes}, (name, family)
        float(value)
        series_id = name + labels
        assert int(ts) > last_ts.get(series_id, 0), "samples of a series are in time order"
        last_ts[series_id] = int(ts)
        if name.endswith("_bucket"):
            assert re.search(r',le="(\+Inf|[0-9.]+)"$', labels)
    assert types == {
        "istio_requests": "counter",
        "istio_request_duration_milliseconds": "histogram",
        "istio_tcp_sent_bytes": "counter",
        "istio_tcp_received_bytes": "counter",
        "istio_tcp_connections_opened": "counter",
        "istio_tcp_connections_closed": "counter",
    }
    assert "_bucket{" in text and 'le="0.5"' in text and 'le="3600000"' in text


def test_split_files_hold_the_same_samples_once_each_well_formed(tmp_path):
    """The big benchmark backfills one file per namespace group: together they must say exactly
    what the single file says, each file on its own a valid OpenMetrics text."""
    model = mixed_model()
    whole = openmetrics_text(model, T - 300, T, 30)
    written = write_series_split(
        mesh_series(model, T - 300, T, 30),
        lambda labels: labels["source_workload_namespace"],
        tmp_path,
    )
    names = ["bookinfo.om", "istio-system.om", "unknown.om"]  # unknown: the unmeshed cron
    assert sorted(path.name for path, _, _ in written) == names
    samples: list[str] = []
    for path, n_series, n_samples in written:
        text = path.read_text(encoding="utf-8")
        assert text.endswith("# EOF\n") and text.count("# EOF") == 1
        declared = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")]
        assert len(declared) == len(set(declared)), "each family declared once per file"
        lines = [line for line in text.splitlines() if not line.startswith("#")]
        assert len(lines) == n_samples
        assert len({line.rsplit(" ", 2)[0] for line in lines}) == n_series
        samples += lines
    assert sorted(samples) == sorted(
        line for line in whole.splitlines() if not line.startswith("#")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == names, "no spool left behind"
