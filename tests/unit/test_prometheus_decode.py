"""Prometheus answers decoded into rows of the labels the graph uses (collectors/prometheus_decode)."""

from __future__ import annotations

import json
import math

import pytest

from collectors.prometheus_decode import stream_rows, vector_rows
from mesh.errors import BackendDataError
from mesh.quantiles import histogram_quantile, histogram_quantiles


def _answer(result: object, result_type: str = "vector") -> bytes:
    return json.dumps(
        {"status": "success", "data": {"resultType": result_type, "result": result}}
    ).encode()


def test_rows_hold_the_named_labels_in_order_absent_ones_empty_and_the_value():
    body = _answer(
        [
            {"metric": {"b": "2", "a": "1", "other": "x" * 1000}, "value": [1.5, "3.25"]},
            {"metric": {"a": "only-a"}, "value": [1.5, "NaN"]},
        ]
    )
    rows = vector_rows(body, ("a", "b"))
    assert len(rows) == 2
    (first, second) = list(rows)
    assert first == (("1", "2"), 3.25)
    assert second[0] == ("only-a", "")
    assert math.isnan(second[1])  # the caller decides what NaN means


def test_one_label_rows_are_tuples_too():
    rows = list(vector_rows(_answer([{"metric": {"le": "+Inf"}, "value": [1, "4"]}]), ("le",)))
    assert rows == [(("+Inf",), 4.0)]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"not json", "invalid JSON"),
        (b"null", "data.result"),
        (b'{"status":"success"}', "data.result"),
        (b'{"data":{"result":{"a":1}}}', "data.result"),
        (_answer([1, "2"], "scalar"), "instant vector"),
        (b'{"data":{"result":' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "nested"),
    ],
)
def test_a_malformed_answer_is_a_data_error_before_any_row(body, text):
    with pytest.raises(BackendDataError) as err:
        vector_rows(body, ("a",))
    assert text in str(err.value)


@pytest.mark.parametrize(
    "sample",
    [
        {"metric": {}},
        {"value": [1, "2"]},
        {"metric": [], "value": [1, "2"]},
        {"metric": {"a": 1}, "value": [1, "2"]},
        {"metric": {}, "value": [1, 2]},
        {"metric": {}, "value": [1, "two"]},
    ],
)
def test_a_malformed_series_is_a_data_error_when_read(sample):
    rows = vector_rows(_answer([sample]), ("a",))
    with pytest.raises(BackendDataError):
        list(rows)


QS = (0.5, 0.95, 1.0, -0.1, 1.1, math.nan)
CASES = [
    # linear inside the bucket holding the rank: 0.5 x 10 = 5 -> 10 + 15 x (5 - 3) / 3
    ([(5.0, 1.0), (10.0, 3.0), (25.0, 6.0), (math.inf, 10.0)], (20.0, 25.0, 25.0)),
    ([(math.inf, 4.0)], (None, None, None)),  # one bucket: NaN
    ([(5.0, 0.0), (math.inf, 0.0)], (None, None, None)),  # no request: NaN
    # 7 then 5 is forced to 7 and 7: the median (rank 5) lies between 5 and 10
    ([(5.0, 2.0), (10.0, 7.0), (25.0, 5.0), (math.inf, 10.0)], (8.0, 25.0, 25.0)),
    # unsorted, and a repeated bound whose counts add up: 5 -> 1, 10 -> 3, +Inf -> 4
    ([(10.0, 1.0), (5.0, 1.0), (10.0, 2.0), (math.inf, 4.0)], (7.5, 10.0, 10.0)),
    ([(5.0, 1.0), (25.0, 2.0)], (None, None, None)),  # no +Inf bucket: NaN
    ([(0.0, 1.0), (5.0, 2.0), (math.inf, 2.0)], (0.0, 4.5, 5.0)),
]


@pytest.mark.parametrize(("buckets", "expected"), CASES)
def test_several_quantiles_at_once_as_promql(buckets, expected):
    got = histogram_quantiles(QS, buckets)
    assert got[:3] == pytest.approx(expected) if expected[0] is not None else got[:3] == expected
    assert got[3:5] == (-math.inf, math.inf)  # outside [0, 1], whatever the buckets
    assert got[5] is None
    assert [histogram_quantile(q, buckets) for q in QS[:3]] == list(got[:3])


# --------------------------------------------------------------------- decoded as they arrive


class TooMany(Exception):
    pass


def _compact(result: object, **extra: object) -> bytes:
    """Prometheus' own layout: no spaces, status first, warnings after data."""
    answer = {"status": "success", "data": {"resultType": "vector", "result": result}, **extra}
    return json.dumps(answer, separators=(",", ":")).encode()


def _streamed(body: bytes, size: int, names=("a", "b"), max_series=1_000_000) -> list:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]

    def too_many():
        return TooMany()

    return list(
        stream_rows(
            chunks,
            names,
            max_series=max_series,
            too_many=too_many,
            whole=lambda b: vector_rows(b, names),
        )
    )


# Label values holding the separator's own characters, quotes and backslashes.
AWKWARD = ['},{"metric":', '"}]},{', "\\", '\\"', "x" * 300, "", "ünï"]


@pytest.mark.parametrize("size", [1, 7, 64, 1000, 1 << 20])
def test_streamed_rows_equal_the_whole_answer_s_for_any_split(size):
    result = [
        {"metric": {"a": AWKWARD[i % len(AWKWARD)], "b": str(i)}, "value": [1.5, str(i / 4)]}
        for i in range(60)
    ]
    body = _compact(result)
    assert _streamed(body, size) == list(vector_rows(body, ("a", "b")))


@pytest.mark.parametrize("size", [1, 5, 100])
def test_an_empty_answer_streams_no_row(size):
    assert _streamed(_compact([]), size) == []


def test_an_answer_in_another_layout_is_read_whole_and_gives_the_same_rows():
    result = [{"metric": {"a": "x", "b": "y"}, "value": [1, "2"]}]
    spaced = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
    assert _streamed(spaced.encode(), 3) == [(("x", "y"), 2.0)]


def test_a_partial_answer_is_refused_at_its_end():
    body = _compact([{"metric": {"a": "x"}, "value": [1, "2"]}], warnings=["store down"])
    with pytest.raises(BackendDataError) as err:
        _streamed(body, 16)
    assert "partial answer: store down" in str(err.value)


def test_more_series_than_allowed_stop_the_read():
    result = [{"metric": {"a": str(i)}, "value": [1, "1"]} for i in range(500)]
    with pytest.raises(TooMany):
        _streamed(_compact(result), 256, max_series=100)
    assert len(_streamed(_compact(result), 256, max_series=500)) == 500


@pytest.mark.parametrize(
    "body",
    [
        _compact([{"metric": {"a": "x"}, "value": [1, "2"]}])[:-3],  # cut short
        _compact([{"metric": {"a": 1}, "value": [1, "2"]}] * 3),  # a number for a label
        _compact([{"metric": {"a": "x"}, "value": [1, "two"]}] * 3),
        _compact([{"metric": {"a": "x"}}] * 3),
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{}},{"metric":',
    ],
)
def test_a_malformed_streamed_answer_is_a_data_error(body):
    with pytest.raises(BackendDataError):
        _streamed(body, 40, names=("a",))


@pytest.mark.parametrize("size", [1, 13, 1000, 1 << 20])
@pytest.mark.parametrize("compact", [True, False])  # Prometheus' layout, or read whole
def test_the_latency_bulk_folded_by_batches_equals_its_fold_by_rows(size, compact):
    """The bulk's fold over stream_batches (collectors/prometheus.batch_bucket_sums) is
    bucket_sums over stream_rows, for any split, with `le` values PromQL leaves out."""
    from collectors.prometheus import Endpoints, batch_bucket_sums, bucket_sums
    from collectors.prometheus_decode import stream_batches
    from mesh.telemetry_records import GraphView

    endpoints = Endpoints(GraphView.WORKLOAD)
    names = endpoints.row_names("le")
    les = ["5", "10", "+Inf", "NaN", "bad", "1e3", ""]
    result = [
        {
            "metric": {
                "source_workload": AWKWARD[i % len(AWKWARD)],
                "destination_workload": f"w{i % 5}",
                "le": les[i % len(les)],
            },
            "value": [1.5, str(i / 8)],
        }
        for i in range(90)
    ]
    body = _compact(result) if compact else json.dumps({"data": {"result": result}}).encode()
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    kw = {"max_series": 1000, "too_many": TooMany, "whole": lambda b: vector_rows(b, names)}
    by_batches = batch_bucket_sums(stream_batches(chunks, names, **kw), Endpoints(endpoints.view))
    by_rows = bucket_sums(stream_rows(chunks, names, **kw), Endpoints(endpoints.view))
    assert by_batches == by_rows
    assert sum(len(pairs) // 2 for pairs in by_batches.values()) == 52  # 5, 10, +Inf, 1e3


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf", "x"])
def test_a_bulk_rate_that_is_not_a_finite_number_is_a_data_error(value):
    from collectors.prometheus import Endpoints, batch_bucket_sums
    from collectors.prometheus_decode import stream_batches
    from mesh.telemetry_records import GraphView

    endpoints = Endpoints(GraphView.WORKLOAD)
    names = endpoints.row_names("le")
    body = _compact([{"metric": {"le": "5"}, "value": [1.5, value]}])
    kw = {"max_series": 10, "too_many": TooMany, "whole": lambda b: vector_rows(b, names)}
    with pytest.raises(BackendDataError):
        batch_bucket_sums(stream_batches([body], names, **kw), endpoints)
