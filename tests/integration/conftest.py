"""One real Prometheus per test session, backfilled with the integration scenarios
(devtools/scenarios.py, which describes them)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devtools.promserver import PrometheusServer, require_prometheus
from devtools.scenarios import (  # noqa: F401  (tests import the constants from here)
    BOOKINFO_SPLIT,
    PAYMENTS_SPLIT,
    QUIET_NAMESPACE,
    SCENARIO_END,
    SCENARIO_START,
    SCENARIO_STEP,
    Scenarios,
    build_scenarios,
    write_scenarios,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here starts something (tests/unit/ starts nothing): `-m "not integration"`
    leaves the unit and browser tests."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def kube():
    """An empty in-test Kubernetes API server (tests/kubeserver.py) on a loopback port."""
    from tests.kubeserver import FakeKube

    server = FakeKube()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scenarios() -> Scenarios:
    return build_scenarios()


@pytest.fixture(scope="session")
def scenario_time() -> float:
    """The `at` to query: the end of the backfilled data."""
    return SCENARIO_END


@pytest.fixture(scope="session")
def quiet_namespace() -> str:
    return QUIET_NAMESPACE


@pytest.fixture(scope="session")
def prometheus(scenarios: Scenarios, tmp_path_factory: pytest.TempPathFactory):
    """A real Prometheus holding every scenario; skipped when Prometheus is not installed."""
    require_prometheus()
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    server = PrometheusServer(workdir)
    began = time.monotonic()
    om = write_scenarios(workdir / "scenarios.om", scenarios, tmpdir=str(workdir))
    server.load_openmetrics(om)
    om.unlink()
    server.start()
    server.startup_s = time.monotonic() - began  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def live_prom(prometheus, tmp_path_factory):
    """The whole app on a live loopback server over the session's Prometheus (the browser tests
    on real data)."""
    from app import create_app
    from devtools.livesrv import serve
    from wiring.settings import Settings

    settings = Settings(
        prometheus_url=prometheus.url,
        default_namespaces=("shop",),
        audit_log=tmp_path_factory.mktemp("audit") / "audit.jsonl",
    )
    live = serve(create_app(settings))
    yield live
    live.stop()
