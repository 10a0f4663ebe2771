"""The releases page's canary panel: the verdict for the chosen pair under the split, through the
page's own callback (as the browser calls it), with the figures that decide it."""

from __future__ import annotations

import pytest

from app import create_app
from mesh.errors import BackendTimeout
from tests.dashcalls import DashCalls, _nodes, banners, text
from tests.unit.test_canary_api import NOW, RecordingSource
from wiring.services import Services
from wiring.settings import Settings


def panel(source: RecordingSource, stable: str | None = "v1", canary: str | None = "v2"):
    settings = Settings(prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",))
    svc = Services(settings=settings, telemetry=source, clock=lambda: NOW)
    dash = DashCalls(create_app(settings, svc).server.test_client())
    code, out, raw = dash.call(
        "rel-review.children",
        {"rel-stable.value": stable, "rel-canary.value": canary, "rel-interval.n_intervals": 0},
        {"rel-namespace.value": "shop", "rel-service.data": "cart"},
    )
    assert code == 200 and "Traceback" not in raw
    return out["rel-review"]["children"], raw


def hrefs(tree) -> list[str]:
    return [n["props"]["href"] for n in _nodes(tree) if "href" in n["props"]]


def test_five_percent_errors_shows_roll_back_with_the_success_gate_and_figures():
    tree, _ = panel(RecordingSource(canary_errors=100.0))
    shown = text(tree)
    assert "Roll back" in shown
    assert "success gate failed" in shown
    assert "95.00%" in shown and "2,000" in shown  # the canary's success rate and requests
    links = hrefs(tree)
    assert any("action=rollback" in h for h in links), links  # the action opens its preview
    assert any(h.startswith("/review?") for h in links), links  # the full review, one click


def test_equal_versions_promote():
    tree, _ = panel(RecordingSource())
    assert "Promote" in text(tree)


def test_backend_failure_is_a_banner_and_keeps_the_review_link():
    tree, _ = panel(RecordingSource(fail=BackendTimeout("prometheus", "no answer within 10 s")))
    assert banners(tree) == ["Prometheus timed out: no answer within 10 s"]
    assert any(h.startswith("/review?") for h in hrefs(tree))


@pytest.mark.parametrize(("stable", "canary"), [("v1", "v1"), (None, "v2")])
def test_no_pair_asks_for_two_versions_without_a_query(stable, canary):
    source = RecordingSource()
    tree, _ = panel(source, stable, canary)
    assert "Choose two different versions" in text(tree)
    assert source.calls == []
