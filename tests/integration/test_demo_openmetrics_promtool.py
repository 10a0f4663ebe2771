"""The demo's OpenMetrics text backfilled by the real promtool (a subprocess); the text's own
rules are in tests/unit/test_demo_openmetrics.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from demo.openmetrics import write_openmetrics
from tests.unit.test_demo_openmetrics import T, mixed_model


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package 'prometheus')"
)
def test_promtool_backfills_the_file(tmp_path):
    stats = write_openmetrics(mixed_model(), tmp_path / "demo.om", T - 600, T, 15)
    out = subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(stats.path),
            str(tmp_path / "db"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    blocks = [
        line.split() for line in out.stdout.splitlines() if re.match(r"^[0-9A-Z]{26}\s", line)
    ]
    assert blocks
    assert sum(int(b[4]) for b in blocks) == stats.samples
    assert max(int(b[6]) for b in blocks) == stats.series
