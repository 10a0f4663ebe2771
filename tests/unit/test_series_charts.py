"""Chart helpers and per-chart CSV: gaps stay gaps, colours stay put, CSV is what is drawn."""

from __future__ import annotations

import csv
import io

import pytest

from dashboards.service import chart_csv
from presentation import charts, palette

T0 = 1_700_000_000


def view(**series) -> dict:
    """A minimal /api/metrics body over three 10 s steps."""
    base = {
        "rps": {},
        "success_rate": {},
        "p50_ms": {},
        "p95_ms": {},
        "p99_ms": {},
        "codes": {},
        "tcp_in_bps": {},
        "tcp_out_bps": {},
    }
    base.update(series)
    return {
        "namespace": "bookinfo",
        "service": "reviews",
        "target": "service",
        "window": "30s",
        "step": "10s",
        "start": T0,
        "end": T0 + 20,
        "versions": ["v1", "v2"],
        "series": base,
        "outbound": [],
    }


def test_lines_leave_gaps_where_there_is_no_data_never_zeros():
    times = [T0, T0 + 10, T0 + 20]
    fig = charts.version_lines(
        {"v1": [[T0, 1.5], [T0 + 20, 2.0]], "v2": []},
        times,
        charts.version_styles(["v1", "v2"]),
        title="t",
        y_title="rps",
        hover="%{y}",
        uirevision="r",
    )
    v1, v2 = fig.data
    assert v1.name == "v1" and list(v1.y) == [1.5, None, 2.0]
    assert list(v1.x) == [T0 * 1000, (T0 + 10) * 1000, (T0 + 20) * 1000]
    assert v1.connectgaps is False
    assert list(v2.y) == [None, None, None]


def test_version_colours_are_stable_and_never_health_colours():
    a = charts.version_colors(["v1", "v2", "v3"])
    b = charts.version_colors(["v2"])
    assert b["v2"] == a["v2"]  # the workload page of v2 draws it as the service page does
    assert len(set(a.values())) == 3
    many = charts.version_colors([f"r{i}" for i in range(8)])
    assert len(set(many.values())) == 8
    health = {c.lower() for c in palette.HEALTH_COLORS.values()}
    assert not {c.lower() for c in palette.VERSION_PALETTE} & health


def test_codes_are_stacked_per_version_panel_with_one_legend_entry_per_class():
    codes = {
        "2xx": {"v1": [[T0, 9.0]], "v2": [[T0, 1.0]]},
        "5xx": {"v2": [[T0, 1.0]]},
    }
    fig = charts.codes_chart(codes, [T0], ["v1", "v2"], uirevision="r")
    assert {(t.name, t.stackgroup) for t in fig.data} == {
        ("2xx", "stack-v1"),
        ("2xx", "stack-v2"),
        ("5xx", "stack-v2"),
    }
    assert sorted(t.name for t in fig.data if t.showlegend) == ["2xx", "5xx"]
    assert [a.text for a in fig.layout.annotations] == ["v1", "v2"]


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_of_each_chart_is_its_series_in_its_units():
    data = view(
        rps={"v1": [[T0, 1.5], [T0 + 10, 2.0]], "v2": [[T0 + 10, 0.5]]},
        success_rate={"v1": [[T0, 0.995]]},
        p50_ms={"v1": [[T0, 20.0]]},
        p95_ms={"v1": [[T0, 80.0]]},
        p99_ms={"v1": [[T0, 120.0]]},
        codes={"5xx": {"v2": [[T0, 0.25]]}},
    )
    name, text = chart_csv(data, "rps")
    assert name == f"bookinfo-reviews-rps-30s-{T0 + 20}.csv"
    assert _rows(text) == [
        ["time_utc", "unix_time", "v1 rps", "v2 rps"],
        ["2023-11-14T22:13:20Z", str(T0), "1.5", ""],
        ["2023-11-14T22:13:30Z", str(T0 + 10), "2", "0.5"],
    ]
    assert _rows(chart_csv(data, "success")[1])[1][2] == "99.5"  # percent, as drawn
    assert _rows(chart_csv(data, "latency")[1])[0][2:] == ["v1 p50 ms", "v1 p95 ms", "v1 p99 ms"]
    assert _rows(chart_csv(data, "codes")[1])[0] == ["time_utc", "unix_time", "v2 5xx rps"]
    with pytest.raises(ValueError):
        chart_csv(data, "nonsense")


def test_tcp_only_target_hides_request_charts_and_idle_window_says_so():
    from app import create_app
    from dashboards.service import SERVICE, page_outputs
    from wiring.services import Services
    from wiring.settings import Settings

    settings = Settings(prometheus_url="http://127.0.0.1:1")

    class Telemetry:
        name = "test"

    app = create_app(settings, Services(settings=settings, telemetry=Telemetry()))  # type: ignore[arg-type]
    tcp = view(tcp_in_bps={"v1": [[T0, 10.0]]}, tcp_out_bps={"v1": [[T0, 50.0]]})
    tcp.update(versions=["v1"], has_traffic=True, summary={}, rate_interval="1m", queries=6)
    tcp["source"] = "test"
    with app.server.app_context():
        out = page_outputs(SERVICE, tcp)
        idle = page_outputs(SERVICE, {**tcp, "has_traffic": False})
    assert [c for c in ("rps", "success", "latency", "codes", "tcp") if not out[f"hide_{c}"]] == [
        "tcp"
    ]
    assert "md-chart-wide" in out["tcp_class"]
    assert [t.name for t in out["fig_tcp"].data] == ["v1 in", "v1 out"]
    assert idle["charts_class"].endswith("md-hidden")
    assert "No traffic in this window." in str(idle["empty"])
