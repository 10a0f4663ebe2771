"""The review's reports (Markdown and one self-contained HTML file), its API, and its sections
failing on their own."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from app import create_app
from dashboards.components.canary_panel import render
from reports.release_report import report_html, report_markdown
from reports.review_files import report_document
from tests.review_demo import WITHOUT_V3, Clock, demo_services, shift
from views.review import parse_review_params, review_view

NS = "bookinfo"
T0 = 1_790_000_000.0
QUERY = {"namespace": NS, "service": "reviews", "baseline": "v1", "canary": "v3", "window": "10m"}
INJECTION = "<script>alert('x')</script> | pipes"


@pytest.fixture(scope="module")
def story():
    """v3 deployed at 0%, made slow, shifted to 50% with a reason; reviewed 5 minutes later."""
    clock = Clock(T0)
    svc = demo_services(clock=clock, reviews_split=WITHOUT_V3)
    svc.demo.state.set_fault(NS, "reviews-v3", latency_factor=10.0, at=T0 - 60)
    shift(svc, {"v1": 50, "v2": 0, "v3": 50}, reason=INJECTION)
    clock.now = T0 + 300
    return svc, review_view(svc, parse_review_params(QUERY))


def test_the_review_rolls_back_and_recommends_it(story):
    _, review = story
    assert review["analysis"]["verdict"] == "rollback"
    assert review["analysis"]["reasons"][0].startswith("latency gate failed: canary p99")
    assert review["action"] == {
        "action": "rollback",
        "label": "Roll back to v1",
        "href": "/releases?namespace=bookinfo&service=reviews&action=rollback&baseline=v1&canary=v3",
    }
    assert review["split"] == {"v1": 50, "v2": 0, "v3": 50}
    assert [m["when"] for m in review["markers"]] == [T0]
    assert review["series"]["versions"] == ["v1", "v3"]
    assert review["series"]["start"] <= T0 - 600 and review["series"]["end"] <= T0 + 300


def test_markdown_holds_verdict_figures_diff_time_and_audit(story):
    _, review = story
    md = report_markdown(review)
    assert md.startswith("# Release review: bookinfo/reviews v3 vs v1\n")
    assert "**Verdict: ROLL BACK** (`rollback`)" in md
    # Plain words first; the statistics in the appendix.
    assert "\nRoll back: v3 answers 1 request in 100 slower than " in md
    assert "- v3 answers 1 request in 100 slower than" in md
    appendix = md.index("## Appendix: statistics")
    assert md.index("| latency | ✘ fail | latency gate failed: canary p99") > appendix
    assert "Recommended action: **Roll back to v1**" in md
    assert re.search(r"\| p99 \| \d+ ms \| \d+ ms \|", md)
    assert "| latency | ✘ fail |" in md
    assert "| + appeared | reviews-v3 → ratings-v1 |" in md
    assert "## Where time goes by version" in md and "| reviews |" in md
    # Audit reason: a pipe cannot break the table, and nothing is lost.
    assert "\\| pipes" in md and "alice" in md
    assert "v1 90% / v2 10% → v1 50% / v3 50%" in md  # the weight change, in words
    body_lines = [line for line in md.splitlines() if line.startswith("|")]
    widths = {line.count(" | ") - line.count("\\| ") for line in body_lines if "---" not in line}
    assert widths <= {2, 3, 4, 5}  # no row gained a column


def test_html_is_self_contained_escaped_and_has_the_charts(story):
    _, review = story
    filename, mimetype, doc = report_document(review, "html")
    assert mimetype == "text/html"
    assert filename == "review-bookinfo-reviews-v3-vs-v1-20260921T141820Z.html"
    assert "data-verdict='rollback'" in doc and "ROLL BACK" in doc
    assert "<script>alert" not in doc and "&lt;script&gt;alert(&#x27;x&#x27;)" in doc
    # Nothing is fetched: no external script, stylesheet, image or font. (plotly.js itself,
    # inlined in the head, holds URLs in strings it only uses for map tiles and its logo link.)
    head, _, rest = doc.partition("<script type='text/javascript'>")
    markup = head + rest[rest.index("</script></head>") :]
    assert not re.search(r"<script[^>]+src=", markup)
    assert not re.search(r"<link[^>]+href=", markup)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", markup)
    assert "@import" not in markup and "url(" not in markup
    assert "https://" not in markup
    # plotly.js is inline, once, and each chart is a plot call.
    assert doc.count("Plotly.newPlot(") == 4
    assert len(doc) > 3_000_000 and doc.count("<script type='text/javascript'>") == 1
    for heading in (
        "Latency distribution",
        "Success rate over time",
        "Latency over time: p50, p95, p99",
    ):
        assert f"<h2>{heading}</h2>" in doc


def test_html_report_alone_without_charts_or_sections():
    review = {
        "namespace": NS,
        "service": "reviews",
        "baseline": "v1",
        "canary": "v2",
        "window": "10m",
        "at": T0,
        "time": "2026-09-21T14:13:20Z",
        "analysis": {
            "verdict": "insufficient_traffic",
            "reasons": ["traffic gate: not enough traffic yet: canary v2 served 20 requests"],
            "baseline": _figures(),
            "canary": _figures(),
            "tests": {"errors": {}, "latency": None},
            "gates": [],
            "config": {"min_success_rate": 0.99, "max_p99_ms": 500.0},
        },
        "series": {"error": "prometheus: timed out"},
        "diff": {"note": "No recorded change gave v2 weight"},
        "time_by_version": {"error": "tracing is not configured"},
    }
    doc = report_html(review)
    assert "NOT ENOUGH TRAFFIC YET" in doc and "<script" not in doc
    assert "tracing is not configured" in doc and "No recorded change gave v2 weight" in doc
    md = report_markdown(review)
    assert "Not available: prometheus: timed out" in md and "No recorded change" in md
    panel = render(review)  # the page's panel draws the same degraded review
    assert "rv-panel" in panel.className


def _figures() -> dict:
    return {
        "requests": 20.0,
        "errors": 0.0,
        "client_errors": 0.0,
        "success_rate": 1.0,
        "p50_ms": 10.0,
        "p95_ms": 20.0,
        "p99_ms": 30.0,
        "buckets": [{"le": "25", "count": 20.0}],
    }


def test_sections_fail_alone_and_the_verdict_stays(story):
    svc, _ = story
    blind = replace(svc, traces=None, routes=None)
    review = review_view(blind, parse_review_params(QUERY))
    assert review["analysis"]["verdict"] == "rollback"
    assert "no trace backend is configured" in review["time_by_version"]["error"]
    assert "routing is not configured" in review["routing_error"]
    assert review["markers"] == [] and review["start"] is None
    assert "before=" in review["diff"]["note"]
    explicit = review_view(blind, parse_review_params({**QUERY, "before": str(T0)}))
    assert explicit["start"]["source"] == "before"
    assert any(e["label"] == "reviews-v3 → ratings-v1" for e in explicit["diff"]["elements"])


@pytest.fixture(scope="module")
def client(story):
    svc, _ = story
    return create_app(svc.settings, svc).server.test_client()


def test_api_review_and_its_reports(client):
    body = client.get("/api/review/bookinfo/reviews?baseline=v1&canary=v3&window=10m").get_json()
    assert body["analysis"]["verdict"] == "rollback" and body["diff"]["elements"]
    md = client.get("/api/review/bookinfo/reviews/report.md?baseline=v1&canary=v3")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert md.headers["Content-Disposition"] == (
        'attachment; filename="review-bookinfo-reviews-v3-vs-v1-20260921T141820Z.md"'
    )
    assert "**Verdict: ROLL BACK**" in md.get_data(as_text=True)
    page = client.get("/api/review/bookinfo/reviews/report.html?baseline=v1&canary=v3")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "data-verdict='rollback'" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "status", "field"),
    [
        ("/api/review/bookinfo/reviews?baseline=v1", 400, "canary"),
        ("/api/review/bookinfo/reviews?baseline=v1&canary=v1", 400, "canary"),
        ("/api/review/bookinfo/reviews?baseline=v1&canary=v3&before=yesterday", 400, "before"),
        (
            "/api/review/bookinfo/reviews?baseline=v1&canary=v3&at=1790000000&before=1790000100",
            400,
            "before",
        ),
        ("/api/review/bookinfo/re%22views/report.md?baseline=v1&canary=v3", 400, "service"),
        ("/api/review/bookinfo/reviews/report.pdf?baseline=v1&canary=v3", 404, None),
    ],
)
def test_api_refuses_bad_input_as_json(client, url, status, field):
    r = client.get(url)
    assert r.status_code == status and r.is_json
    assert r.get_json().get("field") == field
