"""A 50,000-span trace in a real browser: the app reads it from a Jaeger v1 endpoint through the
real JaegerCollector, and the waterfall draws only the rows in view, scrolls, collapses and
expands a subtree, and shows the critical path."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bench.trace_scale import JaegerAnswers, synthetic_trace
from devtools.livesrv import serve

pytestmark = pytest.mark.browser

SPANS = 50_000
MAX_DOM_ROWS = 120  # a 600 px viewport of 26 px rows plus the overscan above and below


@pytest.fixture(scope="session")
def big_trace_app():
    """One 50,000-span trace, generated and encoded once for the session, behind a Jaeger v1
    endpoint and the app."""
    from app import create_app
    from collectors.jaeger import JaegerCollector
    from wiring.services import Services
    from wiring.settings import Settings

    class NoTelemetry:
        name = "none"

    trace = synthetic_trace(SPANS)
    jaeger = make_server("127.0.0.1", 0, JaegerAnswers([trace]), threaded=True)
    threading.Thread(target=jaeger.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{jaeger.port}"
    settings = Settings(prometheus_url="http://127.0.0.1:1", jaeger_url=url)
    services = Services(
        settings=settings, telemetry=NoTelemetry(), traces=JaegerCollector(url, timeout_s=60)
    )
    live = serve(create_app(settings, services))
    yield live, trace
    live.stop()
    jaeger.shutdown()


def _info(page) -> str:
    return page.locator("#tv-rows-info").inner_text()


def _dom_rows(page) -> list[int]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#tv-waterfall .md-wf-row')].map(e => +e.dataset.row)"
    )


def test_a_50000_span_trace_opens_on_a_virtualised_waterfall(page, big_trace_app, shot):
    live, trace = big_trace_app
    page.goto(f"{live.url}/traces/view?trace={trace.trace_id}")
    waterfall = page.locator("#tv-waterfall")
    expect(waterfall.locator(".md-wf-row").first).to_be_visible(timeout=90_000)
    expect(page.locator("#tv-spans .md-stat-value")).to_have_text("50,000")
    expect(page.locator("#tv-summary-only")).to_have_count(0)

    # a large trace opens with deep subtrees off the critical path collapsed; only the rows in
    # view are in the DOM
    shown = int(_info(page).split(" of ")[0].replace(",", ""))
    assert 0 < shown < SPANS and _info(page).endswith("of 50,000 spans shown")
    assert 0 < len(_dom_rows(page)) <= MAX_DOM_ROWS

    # the critical path: the root row is on it, with its dark segments over the bars
    first = waterfall.locator(".md-wf-row").first
    assert "md-wf-crit" in (first.get_attribute("class") or "")
    assert waterfall.locator(".md-wf-cp").count() >= 2
    shot("trace-50k-1440")
    page.set_viewport_size({"width": 1024, "height": 768})
    expect(first).to_be_visible()
    shot("trace-50k-1024")
    page.set_viewport_size({"width": 1440, "height": 900})

    # everything expanded, still only a window of rows in the DOM; scrolling draws further rows
    page.click("#tv-expand-all")
    expect(page.locator("#tv-rows-info")).to_have_text("50,000 spans")
    before = _dom_rows(page)
    assert max(before) < 100 and len(before) <= MAX_DOM_ROWS
    page.evaluate(
        "() => { const v = document.getElementById('tv-viewport'); v.scrollTop = 26 * 20000; }"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#tv-waterfall .md-wf-row')].some(e => +e.dataset.row > 19000)"
    )
    middle = _dom_rows(page)
    assert min(middle) > 19_000 and len(middle) <= MAX_DOM_ROWS
    page.evaluate(
        "() => { const v = document.getElementById('tv-viewport'); v.scrollTop = v.scrollHeight; }"
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('#tv-waterfall .md-wf-row')].some(e => +e.dataset.row === 49999)"
    )
    assert len(_dom_rows(page)) <= MAX_DOM_ROWS
    shot("trace-50k-bottom")

    # collapse a subtree and expand it again: row 2, a call from the root's server span
    page.evaluate("() => { document.getElementById('tv-viewport').scrollTop = 0; }")
    row = waterfall.locator('.md-wf-row[data-row="2"]')
    expect(row).to_be_visible()
    size = page.evaluate(  # its descendants: the pre-order rows after it that are deeper
        """() => { const d = document.getElementById('tv-waterfall')._wf.data.depth;
                   let k = 3; while (k < d.length && d[k] > d[2]) k++; return k - 3; }"""
    )
    assert size > 0
    row.locator(".md-wf-toggle").click()
    expect(page.locator("#tv-rows-info")).to_have_text(f"{SPANS - size:,} of 50,000 spans shown")
    expect(row.locator(".md-wf-more")).to_be_visible()
    rows = _dom_rows(page)
    assert rows[:4] == [0, 1, 2, 3 + size]
    row.locator(".md-wf-toggle").click()
    expect(page.locator("#tv-rows-info")).to_have_text("50,000 spans")
    assert _dom_rows(page)[:4] == [0, 1, 2, 3]

    # a click on a span opens its detail from the server, with every tag of the span (the
    # collector keeps tags undecoded until read: the detail decodes all 20)
    row.click()
    expect(page.locator("#tv-span")).to_contain_text("Where it ran", timeout=60_000)
    expect(page.locator("#tv-span")).to_contain_text("Tags (20)")
    expect(page.locator("#tv-span .md-tv-tags")).to_contain_text("upstream_cluster")

    # the critical path alone: its spans and the spans above them, nothing else
    page.check("#tv-critical-only")
    expect(page.locator("#tv-rows-info")).to_contain_text("of 50,000 spans shown")
    off_path = page.evaluate(
        """() => [...document.querySelectorAll('#tv-waterfall .md-wf-row')]
                 .filter(e => !e.classList.contains('md-wf-crit')
                              && e.querySelector('.md-wf-leaf')).length"""
    )
    assert off_path == 0
    shot("trace-50k-critical")
