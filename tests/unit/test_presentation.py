"""One set of number formatters and one palette for pages and reports (presentation/)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from presentation import numbers, palette
from reports import release_report as report

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 rps"),
        (0.004, "<0.01 rps"),
        (2.0, "2.00 rps"),
        (9.994, "9.99 rps"),
        (10.06, "10.1 rps"),
        (999.0, "999.0 rps"),
        (1234.0, "1.2k rps"),
    ],
)
def test_rps(value, text):
    assert numbers.rps(value) == text


@pytest.mark.parametrize(
    ("fraction", "digits", "text"),
    [
        (0.0, 1, "0.0%"),
        (0.00099, 1, "<0.1%"),  # below the last digit shown: never "0.0%" or a rounded "0.1%"
        (0.001, 1, "0.1%"),
        (0.000099, 2, "<0.01%"),
        (0.0001, 2, "0.01%"),
        (0.9995, 2, "99.95%"),
        (1.0, 2, "100.00%"),
    ],
)
def test_percent(fraction, digits, text):
    assert numbers.percent(fraction, digits) == text


@pytest.mark.parametrize(
    ("value", "text"), [(0.5, "0.50 ms"), (9.999, "10.00 ms"), (221.4, "221 ms"), (1500, "1.50 s")]
)
def test_ms(value, text):
    assert numbers.ms(value) == text


def test_count_bytes_and_p_value():
    assert numbers.count(2975.99) == "2,976"
    assert numbers.bytes_per_s(250_000) == "250.0 kB/s" and numbers.bytes_per_s(12) == "12 B/s"
    assert numbers.p_value(0.00001) == "p<0.0001" and numbers.p_value(0.04321) == "p=0.0432"


@pytest.mark.parametrize("missing", [None, math.nan, math.inf, -math.inf, "12", True])
def test_a_missing_figure_is_a_dash_never_a_zero(missing):
    for fmt in (numbers.rps, numbers.percent, numbers.ms, numbers.bytes_per_s, numbers.count):
        assert fmt(missing) == "–"
    assert numbers.p_value(missing) == "p n/a"


def test_the_page_stylesheet_holds_the_palette():
    """assets/meshdash.css cannot import Python: its :root variables must equal the palette."""
    css = (ASSETS / "meshdash.css").read_text()
    root = css[css.index(":root") : css.index("}", css.index(":root"))]
    found = dict(re.findall(r"(--md-[a-z]+):\s*(#[0-9a-fA-F]{6})", root))
    assert {k: v.lower() for k, v in found.items()} == palette.CSS_VARIABLES


def test_verdicts_and_gates_take_the_health_colours():
    h = palette.HEALTH_COLORS
    assert palette.VERDICT_COLORS["promote"] == h["healthy"]
    assert palette.VERDICT_COLORS["hold"] == h["degraded"]
    assert palette.VERDICT_COLORS["rollback"] == h["failure"]
    assert (
        palette.GATE_COLORS["fail"] == h["failure"] and palette.GATE_COLORS["pass"] == h["healthy"]
    )
    # Versions never look like a health state.
    assert not {c.lower() for c in palette.VERSION_PALETTE} & {c.lower() for c in h.values()}


def test_the_report_stylesheet_uses_the_palette_only():
    colours = set(re.findall(r"#[0-9a-fA-F]{3,6}\b", report._CSS))
    known = (
        set(palette.CSS_VARIABLES.values())
        | set(palette.GATE_COLORS.values())
        | {
            palette.RULE,
            "#fff",
        }
    )
    assert colours <= known
    assert f".fail{{color:{palette.HEALTH_COLORS['failure']}}}" in report._CSS


def test_report_cells_read_as_the_pages_write_them():
    """The graph diff's cells (report and review page alike) use the pages' rps and percent."""
    moved = {"metric": "rps", "before": 2.0, "after": 10.06, "ratio": 4.03, "significant": True}
    assert report.diff_cell(moved) == "2.00 rps → 10.1 rps (+403%)"
    gone = {"metric": "rps", "before": 2.0, "after": 0.0, "ratio": -1.0, "significant": True}
    assert report.diff_cell(gone) == "2.00 rps → 0 rps (-100%)"
    rare = {"metric": "error_rate", "before": None, "after": 0.00003, "significant": False}
    assert report.diff_cell(rare) == "<0.01%"  # some 5xx: never printed as 0.00%
    analysis = {
        side: {
            "requests": 12345.4,
            "success_rate": 0.99951,
            "errors": 6.0,
            "client_errors": 0.0,
            "p50_ms": 8.2467,
            "p95_ms": 22.81,
            "p99_ms": 1500.0,
        }
        for side in ("baseline", "canary")
    }
    rows = {label: base for label, base, _ in report.figure_rows(analysis)}
    assert rows == {
        "Requests": "12,345",
        "Success rate": "99.95%",
        "Server errors (5xx)": "6",
        "Client errors (4xx)": "0",
        "p50": "8.25 ms",
        "p95": "23 ms",
        "p99": "1.50 s",
    }
