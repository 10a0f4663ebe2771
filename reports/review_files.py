"""The release review as files to download: the Markdown report, or one self-contained HTML
file with the review's charts and plotly.js inlined. The review page's download buttons and
/api/review/NS/SERVICE/report.md|html answer these same documents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from reports.release_report import report_html, report_markdown
from reports.review_charts import review_figures


def report_filename(review: Mapping[str, Any], ext: str) -> str:
    stamp = dt.datetime.fromtimestamp(float(review["at"]), tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return (
        f"review-{review['namespace']}-{review['service']}-{review['canary']}-vs-"
        f"{review['baseline']}-{stamp}.{ext}"
    )


def report_document(review: Mapping[str, Any], kind: str) -> tuple[str, str, str]:
    """(filename, mimetype, text) of the Markdown ("md") or self-contained HTML ("html") report."""
    if kind == "md":
        return report_filename(review, "md"), "text/markdown", report_markdown(review)
    if kind != "html":
        raise ValueError(f"unknown report kind {kind!r}")
    config = {"displaylogo": False, "responsive": True}
    fragments = [
        (heading, pio.to_html(fig, include_plotlyjs=False, full_html=False, config=config))
        for _, heading, fig in review_figures(review)
    ]
    text = report_html(review, fragments, plotly_js=get_plotlyjs())
    return report_filename(review, "html"), "text/html", text
