"""The overview and the lists: the pure roll-up (mesh/inventory.py), the Prometheus query text
(collectors/prometheus_inventory.py), and /api/namespaces and /api/list through the app factory,
with Kubernetes' namespace list from the in-test API server (tests/kubeserver.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from app import create_app
from collectors.prometheus_inventory import PrometheusInventory, buckets_query, requests_query
from mesh.errors import BackendTimeout
from mesh.health import HealthThresholds
from mesh.inventory import (
    BucketRow,
    InventoryQuery,
    InventoryTelemetry,
    Kind,
    RequestRow,
    counted_once,
    entities,
    filter_entities,
    namespace_summaries,
    nearest,
    sort_entities,
    unknown_namespaces,
    with_kubernetes,
)
from mesh.quantiles import ISTIO_BUCKETS_MS, histogram_quantile
from wiring.services import Services
from wiring.settings import Settings

AT = 1795881075.0


def row(reporter, src_ns, src_wl, dst_ns, dst_wl, rps, code="200", grpc="", **kw) -> RequestRow:
    app = dst_wl.rsplit("-", 1)[0] if dst_wl != "unknown" else "unknown"
    version = dst_wl.rsplit("-", 1)[-1] if dst_wl != "unknown" else "unknown"
    return RequestRow(
        reporter=reporter,
        source_namespace=src_ns,
        destination_service_namespace=dst_ns,
        response_code=code,
        grpc_status=grpc,
        rps=rps,
        source_workload=src_wl,
        source_app=src_wl.rsplit("-", 1)[0],
        source_version=src_wl.rsplit("-", 1)[-1] if "-" in src_wl else "",
        destination_service=kw.get("service", app),
        destination_namespace=dst_ns,
        destination_workload=dst_wl,
        destination_app=app,
        destination_version=version,
    )


def both(src_ns, src_wl, dst_ns, dst_wl, rps, **kw) -> list[RequestRow]:
    """One call as the two proxies report it."""
    return [row(r, src_ns, src_wl, dst_ns, dst_wl, rps, **kw) for r in ("source", "destination")]


# A mesh: the gateway enters shop; shop calls itself and payments; an unmeshed cron calls
# shop (destination reporter only); a request no workload answered (503, NR).
ROWS = (
    *both("istio-system", "gateway-latest", "shop", "frontend-v1", 10.0),
    *both("istio-system", "gateway-latest", "shop", "frontend-v1", 0.5, code="404"),
    *both("shop", "frontend-v1", "shop", "cart-v1", 9.0),
    *both("shop", "frontend-v1", "shop", "cart-v1", 1.0, grpc="14"),  # gRPC error under 200
    *both("shop", "frontend-v1", "payments", "payments-v1", 2.0),
    *both("shop", "frontend-v1", "payments", "payments-v2", 1.0, code="503"),
    row("destination", "unknown", "unknown", "shop", "frontend-v1", 2.0),
    row("source", "shop", "frontend-v1", "payments", "unknown", 0.25, code="503", service="pay"),
    *both("shop", "frontend-v1", "idle", "old-v1", 0.0),
)


def telemetry(kind: Kind | None, namespaces=(), buckets=()) -> InventoryTelemetry:
    return InventoryTelemetry(InventoryQuery(tuple(namespaces), kind, 300, AT), ROWS, buckets, 2)


def by_name(rows):
    return {f"{e.namespace}/{e.name}": e for e in rows}


def test_each_request_counts_once_from_the_reporter_of_its_namespace_rule():
    kept = counted_once(ROWS)
    assert sum(r.rps for r in kept) == pytest.approx(10 + 0.5 + 9 + 1 + 2 + 1 + 2 + 0.25)
    # Inside shop: the source report. Entering payments: the destination report. The unmeshed
    # caller: the destination report. The unanswered request: the source report.
    assert {(r.reporter, r.destination_workload) for r in kept if r.rps} == {
        ("destination", "frontend-v1"),
        ("source", "cart-v1"),
        ("destination", "payments-v1"),
        ("destination", "payments-v2"),
        ("source", "unknown"),
    }


def test_services_roll_up_with_health_error_rates_and_versions():
    rows = by_name(entities(telemetry(Kind.SERVICE), Kind.SERVICE))
    frontend = rows["shop/frontend"]
    assert frontend.rps_in == pytest.approx(12.5)
    assert frontend.error_rate_4xx == pytest.approx(0.5 / 12.5)
    assert frontend.health == "healthy"  # 4 % 4xx is under the 10 % degraded threshold
    cart = rows["shop/cart"]
    assert cart.error_rate == pytest.approx(0.1) and cart.health == "failure"
    payments = rows["payments/payments"]
    assert payments.versions == ("v1", "v2")
    assert payments.error_rate == pytest.approx(1 / 3) and payments.health == "failure"
    assert rows["payments/pay"].error_rate == 1.0  # reached no workload: all failed
    assert rows["idle/old"].health == "idle" and rows["idle/old"].rps_in == 0.0


def test_a_workload_that_only_sends_is_judged_on_what_it_sends():
    rows = by_name(entities(telemetry(Kind.WORKLOAD), Kind.WORKLOAD))
    gateway = rows["istio-system/gateway-latest"]
    assert gateway.rps_in == 0.0 and gateway.rps_out == pytest.approx(10.5)
    assert gateway.health == "healthy" and gateway.p95_ms is None
    frontend = rows["shop/frontend-v1"]
    assert frontend.rps_out == pytest.approx(13.25)
    assert frontend.health == "healthy"  # judged on inbound while it has some


def test_lists_keep_only_the_chosen_namespaces_and_sort_worst_first():
    rows = entities(telemetry(Kind.SERVICE, ["shop"]), Kind.SERVICE)
    assert [e.name for e in rows] == ["cart", "frontend"]
    everything = entities(telemetry(Kind.SERVICE), Kind.SERVICE)
    assert [e.health for e in everything] == ["failure", "failure", "failure", "healthy", "idle"]
    assert everything[0].name == "pay"  # the highest error rate first among failures


def test_sorting_by_a_column_and_missing_figures_last():
    rows = entities(telemetry(Kind.SERVICE), Kind.SERVICE)
    assert [e.name for e in sort_entities(rows, "rps", descending=True)][:2] == [
        "frontend",
        "cart",
    ]
    assert [e.name for e in sort_entities(rows, "name")] == sorted(e.name for e in rows)
    assert sort_entities(rows, "health", descending=True)[0].health == "idle"
    assert [e.p95_ms for e in sort_entities(rows, "p95")] == [None] * len(rows)


def test_filter_matches_every_word_in_name_namespace_health_or_version():
    rows = entities(telemetry(Kind.SERVICE), Kind.SERVICE)
    assert [e.name for e in filter_entities(rows, "payments v2")] == ["payments"]
    assert [e.name for e in filter_entities(rows, "IDLE")] == ["old"]
    assert filter_entities(rows, "   ") == rows
    assert filter_entities(rows, "nothing-like-it") == []


def test_p95_is_promql_histogram_quantile_of_the_summed_buckets():
    rates = [0.0, 1.0, 3.0, 5.0, 8.0, 9.0, 9.5, 10.0]
    bounds = (*ISTIO_BUCKETS_MS[: len(rates) - 1], math.inf)
    buckets = tuple(BucketRow("shop", "cart", le, r) for le, r in zip(bounds, rates, strict=True))
    cart = by_name(entities(telemetry(Kind.SERVICE, buckets=buckets), Kind.SERVICE))["shop/cart"]
    expected = histogram_quantile(0.95, list(zip(bounds, rates, strict=True)))
    assert cart.p95_ms == pytest.approx(expected) and 0 < cart.p95_ms < math.inf


def test_namespace_summary_counts_services_by_health_and_what_enters():
    rows = {s.namespace: s for s in namespace_summaries(telemetry(None))}
    shop = rows["shop"]
    assert shop.counts == {"failure": 1, "degraded": 0, "healthy": 1, "idle": 0}
    assert shop.rps_in == pytest.approx(12.5)  # from istio-system and the unmeshed caller
    assert shop.rps_served == pytest.approx(22.5)  # plus shop's own calls to cart
    assert shop.error_rate == pytest.approx(1.0 / 22.5)
    assert shop.rps_out == pytest.approx(3.25)
    gateway_ns = rows["istio-system"]
    assert gateway_ns.services == 0 and gateway_ns.rps_out == pytest.approx(10.5)
    assert gateway_ns.health == "healthy"  # nothing enters it: judged on what it sends
    assert gateway_ns.sent_error_rate == 0.0 and shop.sent_error_rate == pytest.approx(2.25 / 13.25)
    order = [s.namespace for s in namespace_summaries(telemetry(None))]
    assert order == ["payments", "shop", "istio-system", "idle"]  # worst first
    assert rows["idle"].health == "idle"


def test_thresholds_are_the_configured_ones():
    strict = HealthThresholds(error_degraded=0.0, error_failure=0.5)
    cart = by_name(entities(telemetry(Kind.SERVICE), Kind.SERVICE, strict))["shop/cart"]
    assert cart.health == "degraded"


def test_kubernetes_namespaces_join_the_overview_without_traffic():
    merged = with_kubernetes(namespace_summaries(telemetry(None)), ["shop", "empty"])
    rows = {s.namespace: s for s in merged}
    assert rows["empty"].has_traffic is False and rows["empty"].in_kubernetes is True
    assert rows["payments"].in_kubernetes is False and rows["shop"].in_kubernetes is True
    assert merged[-1].namespace == "empty"


def test_unknown_namespaces_and_the_nearest_names():
    assert unknown_namespaces(["shop", "shpo", "empty"], ["shop"], None) == ["shpo", "empty"]
    assert unknown_namespaces(["shpo", "empty"], ["shop"], ["empty"]) == ["shpo"]
    assert nearest("bookinf", ["bookinfo", "istio-system", "books"]) == ["bookinfo", "books"]
    assert nearest("zzz", ["bookinfo"]) == []


# ------------------------------------------------------------------------------ query text


@dataclass
class FakeEndpoint:
    """Answers like Prometheus with canned vectors, and records every query."""

    answers: list[list[dict]]
    sent: list[str] = field(default_factory=list)

    def query(self, text: str, at: float) -> list[dict]:
        self.sent.append(text)
        return self.answers[len(self.sent) - 1]


def test_list_costs_two_queries_with_escaped_namespaces_whatever_their_number():
    many = tuple(f"ns-{i:02d}" for i in range(40))
    for namespaces in (("shop",), many):
        endpoint = FakeEndpoint([[], []])
        PrometheusInventory(endpoint).inventory_telemetry(
            InventoryQuery(namespaces, Kind.WORKLOAD, 300, AT)
        )
        assert len(endpoint.sent) == 2
    q = InventoryQuery(("a.b",), Kind.SERVICE, 300, AT)  # never valid, but must stay literal
    assert 'destination_service_namespace=~"a\\\\.b"' in requests_query(q)
    assert 'reporter=~"destination|waypoint"' in buckets_query(q)  # sidecar, else waypoint


def test_overview_costs_one_query_over_every_namespace():
    endpoint = FakeEndpoint([[]])
    t = PrometheusInventory(endpoint).inventory_telemetry(InventoryQuery((), None, 300, AT))
    assert t.queries_sent == 1 and len(endpoint.sent) == 1
    assert "namespace=~" not in endpoint.sent[0] and "by (reporter," in endpoint.sent[0]


def test_answers_parse_into_rows_and_buckets():
    sample = {
        "metric": {
            "reporter": "source",
            "source_workload_namespace": "shop",
            "destination_service_namespace": "shop",
            "destination_service_name": "cart",
            "destination_workload": "cart-v1",
            "response_code": "200",
        },
        "value": [AT, "2.5"],
    }
    bucket = {
        "metric": {
            "destination_service_namespace": "shop",
            "destination_service_name": "cart",
            "le": "+Inf",
        },
        "value": [AT, "2.5"],
    }
    t = PrometheusInventory(FakeEndpoint([[sample], [bucket]])).inventory_telemetry(
        InventoryQuery(("shop",), Kind.SERVICE, 300, AT)
    )
    assert t.requests[0].rps == 2.5 and t.requests[0].grpc_status == ""
    assert t.buckets[0] == BucketRow("shop", "cart", math.inf, 2.5)


# ------------------------------------------------------------------------------ the API


@dataclass
class RowsSource:
    name: str = "test"
    calls: list[InventoryQuery] = field(default_factory=list)
    fail: Exception | None = None

    def inventory_telemetry(self, query: InventoryQuery) -> InventoryTelemetry:
        self.calls.append(query)
        if self.fail:
            raise self.fail
        rows = tuple(
            r
            for r in ROWS
            if not query.namespaces
            or {r.source_namespace, r.destination_service_namespace} & set(query.namespaces)
        )
        return InventoryTelemetry(query, rows, (), 1 if query.kind is None else 2)


def make_client(source, routes=None, kube=False):
    settings = Settings(
        prometheus_url="http://127.0.0.1:1", default_namespaces=("shop",), kube_enabled=kube
    )
    svc = Services(
        settings=settings, telemetry=source, inventory=source, routes=routes, clock=lambda: AT
    )
    return create_app(settings, svc).server.test_client()


def test_api_namespaces_answers_the_overview():
    source = RowsSource()
    body = make_client(source).get("/api/namespaces?window=10m").get_json()
    assert [n["namespace"] for n in body["namespaces"]] == [
        "payments",
        "shop",
        "istio-system",
        "idle",
    ]
    shop = body["namespaces"][1]
    assert shop["counts"]["failure"] == 1 and shop["rps_in"] == 12.5
    assert shop["links"]["list"] == "/list?namespace=shop&kind=service&window=10m"
    assert body["queries"] == 1 and body["kubernetes"] is False
    assert source.calls[0].window_s == 600 and source.calls[0].namespaces == ()


def test_api_list_rows_sorted_filtered_and_linked():
    client = make_client(RowsSource())
    body = client.get("/api/list?kind=service&namespace=shop&namespace=payments").get_json()
    assert [r["name"] for r in body["rows"]] == ["pay", "payments", "cart", "frontend"]
    assert body["rows"][2]["link"] == "/service?namespace=shop&service=cart&window=5m"
    body = client.get("/api/list?kind=workload&namespace=shop&sort=rps&order=desc").get_json()
    assert [r["name"] for r in body["rows"]] == ["frontend-v1", "cart-v1"]
    assert body["rows"][1]["link"].startswith("/workload?namespace=shop&workload=cart-v1")
    body = client.get("/api/list?kind=app&namespace=shop&filter=cart").get_json()
    assert [r["name"] for r in body["rows"]] == ["cart"] and body["total"] == 2
    assert "graph=app" in body["rows"][0]["link"]
    past = client.get(f"/api/list?kind=service&namespace=shop&at={AT - 3600:.0f}").get_json()
    assert past["rows"][0]["link"].endswith(f"&at={AT - 3600:.0f}")  # a look back stays back


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=pods&namespace=shop", "kind"),
        ("kind=service", "namespace"),
        ("kind=service&namespace=Shop!", "namespace"),
        ("kind=service&namespace=shop&sort=cost", "sort"),
        ("kind=service&namespace=shop&window=5y", "window"),
        ("kind=service&namespace=shop&filter=" + "x" * 101, "filter"),
    ],
)
def test_api_list_refuses_bad_input_before_asking_prometheus(query, field):
    source = RowsSource()
    r = make_client(source).get(f"/api/list?{query}")
    assert r.status_code == 400 and r.get_json()["field"] == field
    assert source.calls == []


def test_api_list_names_a_namespace_not_found_with_the_nearest_names():
    r = make_client(RowsSource()).get("/api/list?kind=service&namespace=shpo")
    assert r.status_code == 404
    body = r.get_json()
    assert body["field"] == "namespace" and body["suggestions"] == ["shop"]
    assert "'shpo' not found" in body["error"]
    assert "no HTTP or gRPC requests in the last 5m" in body["error"]


def test_api_backend_failure_is_a_504_naming_prometheus():
    r = make_client(RowsSource(fail=BackendTimeout("prometheus", "no answer in 10 s"))).get(
        "/api/namespaces"
    )
    assert r.status_code == 504 and r.get_json()["backend"] == "prometheus"


# ------------------------------------------------------------------------------ the pages


def test_pages_show_a_backend_failure_as_a_banner_in_plain_words():
    from tests.dashcalls import DashCalls, banners, text

    source = RowsSource(fail=BackendTimeout("prometheus", "no answer within 10 s"))
    dash = DashCalls(make_client(source))
    status, out, _ = dash.call("ov-table.children", {"ov-window.value": "5m"}, {"ov-at.data": None})
    assert status == 200
    assert banners(out) == ["Prometheus timed out: no answer within 10 s"]
    status, out, _ = dash.call(
        "inv-table.children",
        {
            "inv-namespaces.value": ["shop"],
            "inv-kind.value": "service",
            "inv-window.value": "5m",
            "inv-filter.value": "",
            "inv-sort.data": {"sort": "health", "order": "asc"},
        },
        {"inv-at.data": None},
    )
    assert banners(out) == ["Prometheus timed out: no answer within 10 s"]
    assert "None" not in text(out) and "Traceback" not in text(out)
