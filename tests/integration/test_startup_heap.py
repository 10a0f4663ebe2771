"""The served process freezes its start-up heap once its app is built (ops/heap.py), so the
garbage collector's full passes during a graph refresh scan only what the refresh made."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO
from tests.gunicorn_run import clean_env

PROBE = """
import gc
import wsgi  # what each gunicorn worker imports
frozen = gc.get_freeze_count()
assert wsgi.server is not None
print(frozen, len(gc.get_objects()))
"""


def test_the_wsgi_entry_point_freezes_the_built_app_s_heap():
    env = {**clean_env(), "MESHDASH_DEMO": "true"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, still_tracked = map(int, done.stdout.split()[-2:])
    # The app, its layouts and libraries: frozen; what the collector still scans is what
    # came after (almost nothing yet).
    assert frozen > 50_000
    assert still_tracked < frozen / 10
