"""The README's first command on a fresh machine: requirements.txt alone must serve every page.

Builds a virtualenv with requirements.txt only (tests/firstrun.py), imports every runtime
module from it, starts `python app.py` from it in demo mode and opens every page, over HTTP and
in Chromium. A runtime package missing from requirements.txt fails here, naming the module.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import free_port
from tests.firstrun import (
    API_PATHS,
    FirstRunError,
    RunningApp,
    check_imports,
    missing_modules,
    page_paths,
    runtime_env,
    runtime_modules,
    start_demo,
)

NAV = "nav.md-nav"


@pytest.fixture(scope="module")
def env():
    return runtime_env()


@pytest.fixture(scope="module")
def fresh_app(env, tmp_path_factory) -> RunningApp:
    app = start_demo(env, free_port(), tmp_path_factory.mktemp("firstrun"))
    yield app
    app.stop()


def test_runtime_modules_cover_every_package():
    names = runtime_modules()
    for expected in ("app", "wsgi", "demo.traffic", "dashboards.releases", "collectors.kube"):
        assert expected in names
    assert not [n for n in names if n.split(".")[0] in {"tests", "bench"}]


def test_missing_module_is_named():
    text = "File \"demo/traffic.py\", line 26\nModuleNotFoundError: No module named 'numpy'\n"
    assert missing_modules(text) == ["numpy"]


def test_every_runtime_module_imports_from_requirements_alone(env):
    check_imports(env)


def test_every_page_and_the_graph_api_answer_200(fresh_app):
    bad = []
    for path in [*page_paths(fresh_app), *API_PATHS]:
        answer = requests.get(fresh_app.url + path, timeout=60)
        if answer.status_code != 200:
            bad.append(f"{path}: {answer.status_code}")
        fresh_app.alive()
    assert bad == [], f"pages that do not answer 200 from requirements.txt alone: {bad}"
    graph = requests.get(fresh_app.url + API_PATHS[0], timeout=60).json()
    assert graph["nodes"] and graph["edges"], "the demo graph is empty"


@pytest.mark.browser
def test_every_page_renders_in_chromium(fresh_app, page):
    """Each page's callbacks all answer (no 4xx/5xx from the app), with no script error."""
    seen: dict[str, list[str]] = {}
    current = [""]

    def on_response(response) -> None:
        if response.status >= 400 and response.url.startswith(fresh_app.url):
            seen.setdefault(current[0], []).append(f"{response.status} {response.url}")

    page.on("response", on_response)
    page.on("pageerror", lambda e: seen.setdefault(current[0], []).append(f"script: {e}"))
    for path in page_paths(fresh_app):
        current[0] = path
        page.goto(fresh_app.url + path, wait_until="networkidle", timeout=60_000)
        page.wait_for_selector(NAV, timeout=30_000)
        text = page.inner_text("body")
        fresh_app.alive()
        for leak in ("Traceback", "Error loading layout", "Callback error"):
            if leak in text:
                seen.setdefault(path, []).append(f"shows {leak!r}")
    assert seen == {}, f"pages that fail in Chromium from requirements.txt alone: {seen}"


def test_first_run_error_names_module(tmp_path):
    """A process that dies on an import is reported with the missing module's name."""
    import subprocess
    import sys

    log = tmp_path / "app.log"
    log.write_text("ModuleNotFoundError: No module named 'numpy'\n")
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    dead.wait()
    with pytest.raises(FirstRunError, match=r"requirements\.txt lacks numpy"):
        RunningApp("http://127.0.0.1:1", dead, log).alive()


@pytest.mark.browser
def test_readme_picture_script_draws_the_current_demo(tmp_path, browser_type_launch_args):
    """`make screenshot` works: it serves the demo, selects ratings-v1 and writes a PNG.

    Run as its own process, as `make screenshot` does: Playwright's sync API cannot start
    inside the event loop pytest-playwright keeps for the other browser tests."""
    import subprocess
    import sys

    from tests.firstrun import REPO

    out = tmp_path / "topology.png"
    done = subprocess.run(
        [sys.executable, "docs/demo_screenshot.py", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.stat().st_size > 20_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
