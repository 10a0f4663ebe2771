"""What a real Prometheus says it received, from its own request counter on /metrics.

The `queries` an answer reports must be what the server counted, so tests compare the two
instead of trusting a constant.
"""

from __future__ import annotations

from typing import Any

import requests

INSTANT = "/api/v1/query"
RANGE = "/api/v1/query_range"


def queries_received(url: str, handler: str = INSTANT) -> int:
    """Requests this Prometheus has answered on `handler` (prometheus_http_requests_total)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and f'handler="{handler}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def endpoint_urls(source: Any) -> list[str]:
    """The Prometheus URLs a graph source asks: one collector's, or every cluster's."""
    collectors = getattr(source, "collectors", None)
    return [c.url for c in collectors.values()] if collectors else [source.url]
