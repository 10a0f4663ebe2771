"""Browser tests: pytest-playwright driving Debian's chromium against a live demo app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devtools.livesrv import LiveApp, serve

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("MESHDASH_SHOTS", "/tmp/meshdash-shots"))

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test-deps installs it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": {"width": 1440, "height": 900},
        "accept_downloads": True,
    }


@pytest.fixture(scope="session")
def live_demo(tmp_path_factory) -> LiveApp:
    """The demo dashboard exactly as `python app.py` builds it, on a free port."""
    from app import create_app
    from wiring.settings import Settings

    audit = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    live = serve(create_app(Settings(audit_log=audit)))
    yield live
    live.stop()


@pytest.fixture
def shot(page):
    """Save a screenshot under MESHDASH_SHOTS for a human to look at."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take


def cy_click(page, selector_id: str, node_id: str) -> None:
    """Click a cytoscape node for real: find its on-screen position, then use the mouse."""
    box = page.evaluate(
        """([containerId, nodeId]) => {
            const root = document.getElementById(containerId);
            const holder = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            const cy = holder._cyreg.cy;
            const node = cy.getElementById(nodeId);
            if (node.empty()) { return null; }
            const pos = node.renderedPosition();
            const rect = holder.getBoundingClientRect();
            return {x: rect.left + pos.x, y: rect.top + pos.y};
        }""",
        [selector_id, node_id],
    )
    assert box is not None, f"node {node_id} is not in the graph"
    page.mouse.click(box["x"], box["y"])


def cy_node_ids(page, selector_id: str) -> list[str]:
    return page.evaluate(
        """(containerId) => {
            const root = document.getElementById(containerId);
            const holder = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
            return holder ? holder._cyreg.cy.nodes().map(n => n.id()) : [];
        }""",
        selector_id,
    )
