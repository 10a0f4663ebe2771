"""The service page in a real browser, on the embedded demo: from the topology to the charts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import cy_click
from tests.browser.test_topology_page import wait_for_nodes

pytestmark = pytest.mark.browser

PLOT_DATA = """(id) => {
    const gd = document.querySelector('#' + id + ' .js-plotly-plot');
    return gd && gd.data ? gd.data.map(t => ({name: t.name, x: t.x, y: t.y})) : null;
}"""


def traces(page, graph_id: str) -> list[dict]:
    page.wait_for_function(
        "(id) => { const gd = document.querySelector('#' + id + ' .js-plotly-plot');"
        " return gd && gd.data && gd.data.length > 0; }",
        arg=graph_id,
        timeout=20000,
    )
    return page.evaluate(PLOT_DATA, graph_id)


def choose(page, dropdown_id: str, label: str) -> None:
    page.locator(f"#{dropdown_id}").click()
    page.get_by_text(label, exact=True).click()


def test_from_topology_to_reviews_one_line_per_version_and_csv_of_what_is_shown(
    page, live_demo, shot
):
    page.goto(live_demo.url + "/?namespace=bookinfo&graph=service&window=10m&refresh=off")
    wait_for_nodes(page, {"bookinfo/reviews", "bookinfo/ratings"})
    page.wait_for_timeout(300)  # let the layout settle before clicking
    cy_click(page, "topo-graph", "bookinfo/reviews")
    expect(page.locator("#panel-title")).to_have_text(re.compile("reviews"))
    page.locator("#panel-service-link").click()

    # The window came along, and a link leads back to the same topology view.
    expect(page).to_have_url(re.compile(r"/service\?namespace=bookinfo&service=reviews&window=10m"))
    expect(page.locator("#svc-back")).to_have_attribute(
        "href", re.compile(r"^/\?namespace=bookinfo&window=10m$")
    )
    choose(page, "svc-refresh", "Off")  # keep the data still while it is compared

    rps = traces(page, "svc-rps-graph")
    assert [t["name"] for t in rps] == ["v1", "v2", "v3"]
    assert [t["name"] for t in traces(page, "svc-success-graph")] == ["v1", "v2", "v3"]
    # Latency: a panel each for p50, p95 and p99, every version in each.
    assert [t["name"] for t in traces(page, "svc-latency-graph")] == ["v1", "v2", "v3"] * 3
    # The simulator's split (v1 80 / v2 10 / v3 10) is what the page reports.
    summary = page.locator("#svc-summary")
    expect(summary).to_contain_text("v1")
    chips = {
        page.locator(
            f"#svc-summary .md-version-chip:nth-of-type({i}) strong"
        ).inner_text(): page.locator(
            f"#svc-summary .md-version-chip:nth-of-type({i}) .md-version-share"
        ).inner_text()
        for i in (1, 2, 3)
    }
    assert chips == {
        "v1": "80% of requests over 10m",
        "v2": "10% of requests over 10m",
        "v3": "10% of requests over 10m",
    }
    shot("service-reviews")

    with page.expect_download() as info:
        page.locator("#svc-rps-card button", has_text="CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("bookinfo-reviews-rps-10m-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["time_utc", "unix_time", "v1 rps", "v2 rps", "v3 rps"]
    # Every plotted point is in the file, and the file holds nothing that is not plotted.
    rps = traces(page, "svc-rps-graph")
    shown = {
        t["name"]: {
            round(x / 1000): y for x, y in zip(t["x"], t["y"], strict=True) if y is not None
        }
        for t in rps
    }
    in_file = {name: {} for name in shown}
    for row in rows[1:]:
        for name, cell in zip(("v1", "v2", "v3"), row[2:], strict=True):
            if cell:
                in_file[name][int(row[1])] = float(cell)
    assert set(in_file) == set(shown)
    for name in shown:
        assert in_file[name].keys() == shown[name].keys()
        assert len(shown[name]) == 121  # 10 minutes every 5 s
        for t, y in shown[name].items():
            assert in_file[name][t] == pytest.approx(y, rel=1e-12)


def test_workload_page_and_no_traffic_and_bad_input(page, live_demo, shot):
    page.goto(
        live_demo.url + "/workload?namespace=bookinfo&workload=reviews-v2&window=1h&refresh=off"
    )
    assert [t["name"] for t in traces(page, "wl-rps-graph")] == ["v2"]
    expect(page.locator("#wl-outbound")).to_contain_text("ratings")
    shot("workload-reviews-v2")

    page.goto(live_demo.url + "/service?namespace=bookinfo&service=nosuch&window=5m&refresh=off")
    expect(page.locator("#svc-no-traffic")).to_contain_text("No traffic in this window")
    expect(page.locator("#svc-charts")).to_be_hidden()

    page.goto(live_demo.url + "/service?namespace=Bad_NS&service=reviews&refresh=off")
    banner = page.locator("#svc-banner .md-banner")
    expect(banner).to_contain_text("Invalid input")
    assert "Traceback" not in page.content()
