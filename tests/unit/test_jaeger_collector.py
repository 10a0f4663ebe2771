"""JaegerCollector without a server: a refused connection, the fixture folder, the wire helpers.
Over real HTTP (Jaeger's own fixtures replayed, and the demo's endpoint):
tests/integration/test_jaeger_collector.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.jaeger import JaegerCollector, go_duration, rfc3339
from devtools.jaeger_server import parse_go_duration
from mesh.errors import (
    BackendUnavailable,
)
from tests.conftest import free_port, shared_path

# ---- failures become typed errors ---------------------------------------------------------------


def test_connection_refused():
    c = JaegerCollector(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable):
        c.services()


def test_wire_helpers():
    assert rfc3339(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z"
    assert go_duration(1500) == "1500us"
    assert parse_go_duration("1.5s") == 1_500_000
    assert parse_go_duration("1h30m") == 5_400_000_000
    assert parse_go_duration("250us") == parse_go_duration("250µs") == 250


# ---- the demo's endpoint, both flavours, same model ---------------------------------------------


def test_fixture_folder_is_where_the_brief_says():
    # tests locate ../shared relative to the repository, never an absolute path
    here = Path(__file__).resolve().parents[2]
    assert (
        shared_path("fixtures", "jaeger").resolve()
        == (here.parent / "shared" / "fixtures" / "jaeger").resolve()
    )
