"""Prometheus instant-vector answers decoded straight into rows of the labels a caller uses.

Why not `json.loads`: a 1,000-workload graph refresh reads about 100,000 series (the latency
buckets are most of them), tens of MB of JSON. The standard decoder builds a text copy of the
body, then a dict per series holding every label, and the collector reads a few labels out of
each. Here msgspec decodes each series into a struct of only the named labels (other labels are
skipped without being built) and the caller turns it into a tuple of values and a float at once,
one series at a time, while the answer's bytes stay the only copy of the answer
(`result` is first split into raw spans of the body, which reference it).

The largest answers need not be held at all: `stream_rows` decodes the body as it arrives, a
batch of whole series at a time, so a 5,000-workload mesh's 180 MB of latency buckets never sit
in memory at once (the peak is one read chunk and the caller's running sums). It relies on
Prometheus' compact output, `{"status":"success","data":{"resultType":"vector","result":[`
first and series joined by `},{"metric":`, a sequence that cannot occur inside a JSON string
(its quote would be escaped there) nor anywhere else in a vector answer; an answer in any other
form is read whole and decoded as before.

Errors are the collector's (mesh.errors): an answer that is not JSON, not an instant vector, or
whose series lack labels or a value is a BackendDataError naming the problem.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec

from mesh.errors import BackendDataError

BACKEND = "prometheus"

Row = tuple[tuple[str, ...], float]


class _Data(msgspec.Struct, gc=False):
    result: list[msgspec.Raw]
    resultType: str = ""


class _Answer(msgspec.Struct, gc=False):
    data: _Data


_ANSWER = msgspec.json.Decoder(_Answer)


@dataclass(frozen=True, slots=True)
class _Shapes:
    """The decoders for one set of label names."""

    one: Callable[[msgspec.Raw], Any]  # one series
    batch: Callable[[bytes], list[Any]]  # a JSON array of series
    tail: Callable[[bytes], Any]  # the answer's last series and what follows them
    labels: Callable[[Any], tuple[str, ...]]


@lru_cache(maxsize=64)
def _shapes(names: tuple[str, ...]) -> _Shapes:
    labels = msgspec.defstruct("Labels", [(name, str, "") for name in names], frozen=True, gc=False)
    sample = msgspec.defstruct(
        "Sample", [("metric", labels), ("value", tuple[float, str])], gc=False
    )
    data = msgspec.defstruct(
        "TailData", [("result", list[sample]), ("resultType", str, "")], gc=False
    )
    tail = msgspec.defstruct(
        "Tail", [("data", data), ("status", str, ""), ("warnings", list[str], [])], gc=False
    )
    return _Shapes(
        one=msgspec.json.Decoder(sample).decode,
        batch=msgspec.json.Decoder(list[sample]).decode,
        tail=msgspec.json.Decoder(tail).decode,
        labels=labels_getter(names),
    )


def labels_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    """A decoded series' metric -> its values of `names`, in that order: a tuple even for one
    name (operator.attrgetter answers a bare value then)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    only = operator.attrgetter(names[0])
    return lambda metric: (only(metric),)


def sample_value(sample: Any) -> float:
    """A decoded series' value as a number (Prometheus writes it as text)."""
    try:
        return float(sample.value[1])
    except ValueError:
        raise BackendDataError(BACKEND, "a result sample's value is not a number") from None


@lru_cache(maxsize=64)
def _sample_reader(names: tuple[str, ...]) -> Callable[[msgspec.Raw], Row]:
    """One series -> (its values of `names`, "" where absent, in that order; its value)."""
    shapes = _shapes(names)
    decode, labels_of = shapes.one, shapes.labels

    def read(raw: msgspec.Raw) -> Row:
        s = decode(raw)
        return labels_of(s.metric), float(s.value[1])

    return read


_NO_LABELS = "a result sample has no metric labels or value, or not as strings"


@dataclass(frozen=True, slots=True)
class Rows:
    """An answer's series, each decoded into a row when iterated; len() is the series count."""

    raw: list[msgspec.Raw]
    read: Callable[[msgspec.Raw], Row]
    names: tuple[str, ...] = ()

    def samples(self) -> list[Any]:
        """The series as stream_batches gives them (.metric holds the named labels)."""
        one = _shapes(self.names).one
        try:
            return [one(raw) for raw in self.raw]
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            raise BackendDataError(BACKEND, _NO_LABELS) from None

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[Row]:
        read = self.read
        for raw in self.raw:
            try:
                yield read(raw)
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                raise BackendDataError(BACKEND, _NO_LABELS) from None
            except ValueError:
                raise BackendDataError(BACKEND, "a result sample's value is not a number") from None


def vector_rows(body: bytes, names: tuple[str, ...]) -> Rows:
    """The series of an instant-vector answer, as rows of the `names` labels.

    The answer's shape is checked here; each series as it is read.
    """
    if not names:
        raise ValueError("name at least one label")
    try:
        answer = _ANSWER.decode(body)
    except msgspec.ValidationError:
        raise BackendDataError(BACKEND, "the answer has no data.result list") from None
    except msgspec.DecodeError:
        raise BackendDataError(BACKEND, "Prometheus answered with invalid JSON") from None
    except RecursionError:  # nesting deeper than any Prometheus answer
        raise BackendDataError(BACKEND, "Prometheus answered with JSON nested too deeply") from None
    if answer.data.resultType not in ("vector", ""):
        raise BackendDataError(BACKEND, "the query did not return an instant vector")
    return Rows(answer.data.result, _sample_reader(names), names)


_HEAD = b'{"status":"success","data":{"resultType":"vector","result":['
_BETWEEN = b'},{"metric":'
_OPEN, _CLOSE = ord("["), ord("]")
_DATA_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)


def stream_rows(
    chunks: Iterable[bytes],
    names: tuple[str, ...],
    *,
    max_series: int,
    too_many: Callable[[], Exception],
    whole: Callable[[bytes], Rows],
) -> Iterator[Row]:
    """The rows of an instant-vector answer read from `chunks` as they arrive (stream_batches)."""
    if not names:
        raise ValueError("name at least one label")
    labels_of = _shapes(names).labels
    for batch in stream_batches(
        chunks, names, max_series=max_series, too_many=too_many, whole=whole
    ):
        yield from _rows(batch, labels_of)


def stream_batches(
    chunks: Iterable[bytes],
    names: tuple[str, ...],
    *,
    max_series: int,
    too_many: Callable[[], Exception],
    whole: Callable[[bytes], Rows],
) -> Iterator[list[Any]]:
    """The series of an instant-vector answer read from `chunks` as they arrive, a batch of
    whole series per read: each has .metric (the `names` labels as attributes, "" where
    absent) and .value ([time, value as text]). A caller that folds hundreds of thousands of
    series reads them so, without a row per series (stream_rows makes the rows).

    More than `max_series` series raise `too_many()` once that many are read. An answer that
    does not open as Prometheus' compact success does is read whole and handed to `whole`
    (which checks it as a whole answer); a partial answer (warnings) is refused at its end,
    where Prometheus writes them.
    """
    if not names:
        raise ValueError("name at least one label")
    shapes = _shapes(names)
    pending = bytearray()
    source = iter(chunks)
    for chunk in source:
        pending += chunk
        if len(pending) >= len(_HEAD):
            break
    if not pending.startswith(_HEAD):
        for chunk in source:
            pending += chunk
        yield whole(bytes(pending)).samples()
        return
    # `pending` always starts with the "[" of a JSON array of series; a batch is decoded in
    # place (the "," after its last series made "]" for the time of the decode), so the
    # answer's bytes are copied once, into `pending`, not three times.
    del pending[: len(_HEAD) - 1]
    count = 0
    for chunk in source:
        pending += chunk
        cut = pending.rfind(_BETWEEN)
        if cut < 0:
            continue
        pending[cut + 1] = _CLOSE
        with memoryview(pending) as whole_view, whole_view[: cut + 2] as view:
            batch = _decoded(shapes.batch, view)
        pending[cut + 1] = _OPEN
        del pending[: cut + 1]
        count += len(batch)
        if count > max_series:
            raise too_many()
        yield batch
    tail = _decoded(shapes.tail, _HEAD[:-1] + pending)
    if tail.status != "success" or tail.data.resultType not in ("vector", ""):
        raise BackendDataError(BACKEND, "the query did not return an instant vector")
    if tail.warnings:
        warning = " ".join(str(tail.warnings[0]).split())[:200]
        raise BackendDataError(BACKEND, f"partial answer: {warning}")
    if count + len(tail.data.result) > max_series:
        raise too_many()
    yield tail.data.result


def _decoded(decode: Callable[[Any], Any], text: bytes | memoryview) -> Any:
    try:
        return decode(text)
    except _DATA_ERRORS:
        raise BackendDataError(
            BACKEND,
            "Prometheus answered with invalid JSON, or a series without metric labels or "
            "value as strings",
        ) from None


def _rows(samples: list[Any], labels_of: Callable[[Any], tuple[str, ...]]) -> Iterator[Row]:
    for s in samples:
        yield labels_of(s.metric), sample_value(s)
