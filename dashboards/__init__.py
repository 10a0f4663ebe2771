"""Dash pages, one module (or a package, for a page with its own parts) per page. Each has
`layout(**query)` and `register_callbacks(app)`; `kit.py` holds what every page's control bar,
refresh and URL sync are made of, `components/` what several pages share."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    module: str
    path: str
    title: str
    nav: bool = True


PAGES: tuple[Page, ...] = (
    Page("dashboards.topology", "/", "Topology"),
    Page("dashboards.overview", "/overview", "Overview"),
    Page("dashboards.inventory", "/list", "Services"),
    Page("dashboards.service", "/service", "Service", nav=False),
    Page("dashboards.workload", "/workload", "Workload", nav=False),
    Page("dashboards.trace_search", "/traces", "Traces"),
    Page("dashboards.trace_view", "/traces/view", "Trace", nav=False),
    Page("dashboards.releases", "/releases", "Releases"),
    Page("dashboards.review", "/review", "Review"),
)
