"""PromQL text building: string literals, RE2 escaping, selectors, and the collector's queries."""

from __future__ import annotations

import ast
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors import promql
from collectors.prometheus import (
    PrometheusCollector,
    host_regex,
    latency_expression,
    latency_query,
    latency_rest,
    requests_query,
    small_query,
    tcp_query,
)
from mesh.graph.edge_keys import edge_labels
from mesh.telemetry_records import GraphQuery, GraphView


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("bookinfo", '"bookinfo"'),
        ('a"b', r'"a\"b"'),
        ("a\\b", r'"a\\b"'),
        ("line\nbreak", r'"line\nbreak"'),
        ("tab\tcr\r", r'"tab\tcr\r"'),
        ('"}) or vector(1) #', r'"\"}) or vector(1) #"'),
        ("", '""'),
        ("\x01", r'"\u0001"'),
    ],
)
def test_quote_escapes_exactly(value, literal):
    assert promql.quote(value) == literal


@pytest.mark.parametrize(
    "value", ['x"y', "back\\slash\\", "new\nline", '\\"', "ünïcødé", "\x00\x7f"]
)
def test_quote_round_trips_through_a_go_style_string_parser(value):
    # PromQL's double-quoted strings use Go escapes; JSON's are a subset that agrees on these.
    assert json.loads(promql.quote(value)) == value


@pytest.mark.parametrize(
    ("value", "impostor"),
    [
        ("a.b", "axb"),
        ("a+b", "aab"),
        ("(x)|y", "y"),
        ("[abc]", "a"),
        ("^start$", "start"),
        ("x*?", "xxx"),
        ("a{1,2}", "aa"),
        ("back\\slash", "back\\\\slash"),
        ("a-b_c", "a-b"),
    ],
)
def test_regex_escape_matches_only_the_literal(value, impostor):
    pattern = promql.regex_escape(value)
    assert re.fullmatch(pattern, value)
    assert not re.fullmatch(pattern, impostor)


def test_any_of_is_an_alternation_of_escaped_names_without_duplicates():
    pattern = promql.any_of(["shop", "a.b", "shop", "c|d"])
    assert pattern == r"shop|a\.b|c\|d"
    full = f"^(?:{pattern})$"  # PromQL anchors =~ at both ends like this
    assert re.match(full, "a.b")
    assert re.match(full, "c|d")
    assert not re.match(full, "axb")
    assert not re.match(full, "c")
    assert not re.match(full, "shopping")


def test_any_of_nothing_matches_nothing():
    full = f"^(?:{promql.any_of([])})$"
    for candidate in ("", "a", "unknown"):
        assert not re.match(full, candidate)


def test_selector_and_grouping():
    text = promql.selector(
        "istio_requests_total", [("reporter", "=", "source"), ("ns", "=~", "a|b")]
    )
    assert text == 'istio_requests_total{reporter="source",ns=~"a|b"}'
    assert promql.by(["le", "a", "le"]) == "by (le,a)"


@pytest.mark.parametrize(
    ("label", "op", "metric"),
    [
        ("bad-label", "=", "m"),
        ("ok", "==", "m"),
        ("ok", "=", "bad metric"),
        ('x"}', "=", "m"),
    ],
)
def test_selector_refuses_names_that_cannot_be_quoted(label, op, metric):
    with pytest.raises(ValueError):
        promql.selector(metric, [(label, op, "v")])


@pytest.mark.parametrize(
    ("seconds", "text"), [(60, "1m"), (300, "5m"), (90, "90s"), (3600, "1h"), (86400, "1d")]
)
def test_duration(seconds, text):
    assert promql.duration(seconds) == text


@pytest.mark.parametrize("seconds", [0, -5, 1.5])
def test_duration_refuses_non_positive_or_fractional(seconds):
    with pytest.raises(ValueError):
        promql.duration(seconds)


def _q(namespaces, view=GraphView.WORKLOAD, window_s=300):
    return GraphQuery(tuple(namespaces), view, window_s, 1_700_000_000.0)


@pytest.mark.parametrize("builder", [requests_query, latency_query, tcp_query])
def test_query_shape_does_not_grow_with_namespaces(builder):
    one = builder(_q(["bookinfo"]))
    many = builder(_q([f"ns-{i}" for i in range(40)]))
    # The same selectors, just a longer regex: no per-namespace query or selector.
    assert one.count("{") == many.count("{")
    assert one.count("rate(") == many.count("rate(")
    assert "ns-0|ns-1|ns-2" in many


def test_requests_query_reads_every_report_the_reporter_rules_need():
    text = requests_query(_q(["bookinfo", "shop"]))
    assert text.startswith("sum by (")
    assert text.count("sum by") == 1  # the workload view needs no workload-name fallback arm
    head = text.split(") (", 1)[0]
    for label in (
        *edge_labels(GraphView.WORKLOAD),
        "request_protocol",
        "response_code",
        "grpc_response_status",
        "response_flags",
        "reporter",  # the report is chosen per edge after the query (mesh/graph/reporters.py)
        "connection_security_policy",  # the destination's report gives the mTLS share
    ):
        assert label in head
    # Traffic starting inside, from the caller's report.
    assert '{reporter="source",source_workload_namespace=~"bookinfo|shop"}' in text
    # Requests from elsewhere that reached no pod of a selected host, from the caller's report.
    assert (
        'reporter="source",source_workload_namespace!~"bookinfo|shop",'
        'destination_workload="unknown",destination_service=~"[^.:]+\\\\.(bookinfo|shop)(\\\\.svc(\\\\.[^:]*)?)?(:[0-9]+)?"'
    ) in text
    # The destination side's report (a sidecar's, or an ambient waypoint's) of everything
    # touching the selection, in two disjoint parts.
    assert '{reporter=~"destination|waypoint",source_workload_namespace=~"bookinfo|shop"}' in text
    assert (
        'reporter=~"destination|waypoint",source_workload_namespace!~"bookinfo|shop",'
        'destination_service_namespace=~"bookinfo|shop"'
    ) in text
    assert text.count(" or ") == 3
    assert "[5m]" in text


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("reviews.bookinfo.svc.cluster.local", True),
        ("reviews.bookinfo", True),
        ("reviews.bookinfo:9080", True),
        ("reviews.shop.svc.cluster.local", True),
        ("reviews.bookinfo2.svc.cluster.local", False),
        ("reviews.other.svc.cluster.local", False),
        ("bookinfo.other.svc.cluster.local", False),
        ("reviews:9080", False),
        ("10.0.0.7:9080", False),
        ("reviews.bookinfo.svc", True),
        ("reviews.bookinfo.svc:9080", True),
        ("api.bookinfo.example.com", False),  # outside the cluster: no namespace
        ("api.shop.example.com:443", False),
    ],
)
def test_host_regex_finds_the_namespace_of_a_host(host, inside):
    pattern = re.compile(f"(?:{host_regex(['bookinfo', 'shop'])})")  # PromQL anchors =~
    assert bool(pattern.fullmatch(host)) is inside


@pytest.mark.parametrize("view", [GraphView.APP, GraphView.VERSIONED_APP, GraphView.SERVICE])
def test_app_views_group_unlabelled_workloads_by_their_name_in_their_own_arms(view):
    text = requests_query(_q(["bookinfo"], view))
    arms = text.strip("()").split(" or sum by ")
    assert len(arms) == 4  # (caller, callee) x (named, unnamed): disjoint series
    dst_name = (
        "destination_service_name"
        if view is GraphView.SERVICE
        else ("destination_canonical_service")
    )
    assert text.count('source_canonical_service!~"|unknown"') == 2 * 4
    assert text.count('source_canonical_service=~"|unknown"') == 2 * 4
    assert text.count(f'{dst_name}!~"|unknown"') == 2 * 4
    assert text.count(f'{dst_name}=~"|unknown"') == 2 * 4
    heads = [set(arm.split(") (", 1)[0].split("(", 1)[1].split(",")) for arm in arms]
    extra = [{"source_workload", "destination_workload"} & head for head in heads]
    assert extra == [set(), {"destination_workload"}, {"source_workload"}, {*extra[3]}]
    assert extra[3] == {"source_workload", "destination_workload"}


def test_latency_query_prefers_the_destination_reporter_and_reads_the_buckets_once():
    text = latency_expression(_q(["bookinfo"], GraphView.APP, 600))
    first = text.index('reporter="destination"')
    assert first < text.index('reporter="waypoint"') < text.index('reporter="source"')
    # The source reporter only fills in destinations no sidecar reports: from inside, and from
    # elsewhere to a selected host (2 parts x 4 fallback arms, each read once: the collector
    # computes the quantiles from the buckets, so PromQL evaluates no histogram_quantile).
    assert text.count('reporter="source"') == text.count('destination_workload="unknown"') == 8
    assert text.count("destination_service=~") == 4
    assert "histogram_quantile" not in text and "quantile" not in text
    assert text.count("istio_request_duration_milliseconds_bucket") == 3 * 2 * 4
    assert "sum by (le,source_workload_namespace,source_canonical_service," in text
    assert "[10m]" in text


def test_the_bulk_of_the_buckets_is_one_selector_without_or_the_rest_travels_with_tcp():
    q = _q(["bookinfo"])  # workload view: one fallback arm
    bulk = latency_query(q)
    assert " or " not in bulk and bulk.count("istio_request_duration_milliseconds_bucket") == 1
    assert 'reporter="destination",source_workload_namespace=~"bookinfo"' in bulk
    small = small_query(q)
    assert tcp_query(q) in small and latency_rest(q) in small
    assert "istio_tcp_received_bytes_total" in small
    assert latency_expression(q) == f"{bulk} or {latency_rest(q)}"
    # The rest reads the destination's report only of traffic entering from elsewhere.
    assert 'reporter="destination",source_workload_namespace!~"bookinfo"' in latency_rest(q)


def test_tcp_query_swaps_istio_names_into_caller_directions():
    text = tcp_query(_q(["bookinfo"]))
    sent, received = text.split(" or label_replace(")
    assert "istio_tcp_received_bytes_total" in sent and '"direction", "sent"' in sent
    assert "istio_tcp_sent_bytes_total" in received and '"direction", "received"' in received


def test_escaping_reaches_the_query_even_for_unvalidated_names():
    hostile = 'x"}) or vector(1) or sum({a="'
    text = requests_query(_q([hostile, "a.b"]))
    literal = re.search(r'source_workload_namespace=~("(?:[^"\\]|\\.)*")', text).group(1)
    pattern = json.loads(literal)  # the regex Prometheus sees after unquoting
    assert re.fullmatch(f"(?:{pattern})", hostile)
    assert re.fullmatch(f"(?:{pattern})", "a.b")
    assert not re.fullmatch(f"(?:{pattern})", "axb")
    assert hostile not in text


class CountingCollector(PrometheusCollector):
    """The real graph_telemetry over a fake `vector_rows` that records every query it is sent."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9")  # never contacted: vector_rows is replaced
        self.sent: list[str] = []

    def vector_rows(self, text: str, at: float, names: tuple[str, ...], fold, batches=False):
        self.sent.append(text)
        return fold([])


@pytest.mark.parametrize("count", [1, 2, 30])
def test_a_refresh_reports_the_queries_it_sent_three_whatever_the_namespaces(count):
    collector = CountingCollector()
    t = collector.graph_telemetry(_q([f"ns-{i}" for i in range(count)]))
    assert t.queries_sent == len(collector.sent) == 3
    # Sent at once, from three threads: in any order, each once.
    assert sorted(collector.sent) == sorted(
        [requests_query(t.query), latency_query(t.query), small_query(t.query)]
    )


def test_no_namespace_sends_nothing_and_says_so():
    collector = CountingCollector()
    t = collector.graph_telemetry(GraphQuery((), GraphView.WORKLOAD, 300, 1_795_881_075.0))
    assert t.queries_sent == len(collector.sent) == 0


# --------------------------------------------------------------------------------- properties

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_quote_round_trips_for_any_text(value):
    # Python's string-literal escapes are Go's (\a \b \f \n \r \t \v \\ \" \uXXXX), which is
    # what PromQL's lexer reads inside double quotes.
    literal = promql.quote(value)
    assert ast.literal_eval(literal) == value
    assert "\n" not in literal


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT.filter(bool), min_size=1, max_size=4), _TEXT)
def test_any_of_matches_exactly_its_members(members, other):
    pattern = re.compile(f"(?:{promql.any_of(members)})", re.DOTALL)  # PromQL anchors =~
    for m in members:
        assert pattern.fullmatch(m)
    assert bool(pattern.fullmatch(other)) == (other in members)
    assert not pattern.fullmatch(members[0] + "\n")
