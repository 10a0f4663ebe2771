"""devtools/api_snapshot.py, the before/after check of issue #18: two snapshots of the same
code on the session's real Prometheus compare equal, and a changed answer is reported with its
URL and JSON path (so the comparer can fail)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import api_snapshot

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "devtools" / "api_snapshot.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_two_runs_of_the_same_code_compare_equal(prometheus, tmp_path):
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    for path in (one, two):
        done = run("take", "--out", str(path), "--only", "graph", "--prometheus", prometheus.url)
        assert done.returncode == 0, done.stderr + done.stdout
    snapshot = json.loads(one.read_text())
    graphs = {k: e for k, e in snapshot["entries"].items() if e["group"] == "graph"}
    assert len(graphs) == sum(1 for p in api_snapshot.probes() if p.group == "graph")
    # real answers from the scenarios, not errors: bookinfo's graph has its nodes
    first = graphs[next(iter(graphs))]
    assert first["status"] == 200 and first["json"]["nodes"], first
    assert {e["group"] for e in snapshot["entries"].values()} == {"graph"}

    done = run("compare", str(one), str(two))
    assert done.returncode == 0, done.stdout
    assert f"{len(snapshot['entries'])} URLs compared: equal" in done.stdout

    # a changed figure in one answer is a difference, named by URL and JSON path
    altered = copy.deepcopy(snapshot)
    key = next(iter(graphs))
    node = altered["entries"][key]["json"]["nodes"][0]
    node["rps"] = (node.get("rps") or 0.0) + 0.5
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(altered))
    done = run("compare", str(one), str(changed))
    assert done.returncode == 1, done.stdout
    assert key in done.stdout
    assert "$.json.nodes[0].rps" in done.stdout
    assert "1 differ" in done.stdout


def test_a_changed_status_or_a_missing_url_is_a_difference():
    entry = {"group": "bad", "status": 400, "content_type": "application/json"}
    entry["json"] = {"error": "window 'x' is not a duration", "field": "window"}
    before = {"format": 1, "entries": {"GET /api/graph?window=x": entry}}
    after = copy.deepcopy(before)
    after["entries"]["GET /api/graph?window=x"]["status"] = 500
    after["entries"]["GET /api/list"] = entry
    compared, diffs = api_snapshot.compare(before, after)
    assert compared == 2
    assert diffs["GET /api/graph?window=x"] == ["$.status: 400 != 500"]
    assert diffs["GET /api/list"] == ["only in the after snapshot"]


def test_floats_equal_within_prometheus_summation_noise_only():
    """Prometheus may sum a group in another order (1 ulp); a real change is still seen."""
    x = 1845442.2166666666
    assert api_snapshot.json_diff({"v": x}, {"v": 1845442.2166666668}) == []
    assert api_snapshot.json_diff({"v": x}, {"v": x * (1 + 1e-7)}) != []
    assert api_snapshot.json_diff({"v": 0}, {"v": 0.0}) != []  # 0 and 0.0 are other JSON


def test_plotly_chart_ids_are_the_only_volatile_text():
    html = '<div id="7a6223d6-152d-44eb-86b0-9ccf6a9999a8" class="plotly-graph-div">'
    other = html.replace("7a6223d6", "177ec332")
    key = "GET /api/review/timeline/reviews/report.html?baseline=v1&canary=v2"
    a = {"status": 200, "content_type": "text/html", "text": html}
    b = {"status": 200, "content_type": "text/html", "text": other}
    assert api_snapshot.stable(key, a) == api_snapshot.stable(key, b)
    # the same change is a difference where no volatile rule applies
    assert api_snapshot.stable("GET /api/graph", a) != api_snapshot.stable("GET /api/graph", b)
