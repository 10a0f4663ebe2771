"""Regenerate docs/topology-demo.png, the README's picture, from the current demo.

`make screenshot` runs it: the demo app on a free loopback port, Debian's Chromium through
Playwright (the browser tests' set-up), the topology with ratings-v1 selected, 1440x860. A
picture taken from the code as it is keeps the README honest when the pages change.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402 - after the path set-up
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from wiring.settings import Settings  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUT = REPO / "docs" / "topology-demo.png"
SELECTED = "bookinfo/ratings-v1"
WAIT_FOR = ["bookinfo/productpage-v1", "bookinfo/reviews-v2", SELECTED]

# The cytoscape instance behind the graph's container, as the browser tests find it.
_CY = """(containerId) => {
    const root = document.getElementById(containerId);
    if (!root) return null;
    const holder = [root, ...root.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);
    return holder || null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def take(out: Path = OUT, *, width: int = 1440, height: int = 860) -> Path:
    """Serve the demo, open the topology, select ratings-v1 and save the picture to `out`."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(audit_log=Path(tmp) / "audit.jsonl"))
        port = _free_port()
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(f"http://127.0.0.1:{port}/?namespace=bookinfo&window=5m&refresh=off")
                page.wait_for_function(
                    f"""(ids) => {{
                        const h = ({_CY})('topo-graph');
                        if (!h) return false;
                        const have = new Set(h._cyreg.cy.nodes().map(n => n.id()));
                        return ids.every(i => have.has(i));
                    }}""",
                    arg=WAIT_FOR,
                    timeout=30_000,
                )
                page.wait_for_timeout(500)  # the layout settles before the click
                box = page.evaluate(
                    f"""(nodeId) => {{
                        const h = ({_CY})('topo-graph');
                        const pos = h._cyreg.cy.getElementById(nodeId).renderedPosition();
                        const rect = h.getBoundingClientRect();
                        return {{x: rect.left + pos.x, y: rect.top + pos.y}};
                    }}""",
                    SELECTED,
                )
                page.mouse.click(box["x"], box["y"])
                page.wait_for_selector("#panel-title:has-text('ratings-v1')", timeout=10_000)
                page.wait_for_timeout(300)
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out))
                browser.close()
        finally:
            server.shutdown()
            thread.join(timeout=10)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    args = p.parse_args(argv)
    print(take(args.out))


if __name__ == "__main__":
    main()
