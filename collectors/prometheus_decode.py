"""Prometheus instant-vector answers decoded straight into rows of the labels a caller uses.

Why not `json.loads`: a 1,000-workload graph refresh reads about 100,000 series (the latency
buckets are most of them), tens of MB of JSON. The standard decoder builds a text copy of the
body, then a dict per series holding every label, and the collector reads a few labels out of
each. Here msgspec decodes each series into a struct of only the named labels (other labels are
skipped without being built) and the caller turns it into a tuple of values and a float at once,
one series at a time, while the answer's bytes stay the only copy of the answer
(`result` is first split into raw spans of the body, which reference it).

Errors are the collector's (mesh.errors): an answer that is not JSON, not an instant vector, or
whose series lack labels or a value is a BackendDataError naming the problem.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

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


@lru_cache(maxsize=64)
def _sample_reader(names: tuple[str, ...]) -> Callable[[msgspec.Raw], Row]:
    """One series -> (its values of `names`, "" where absent, in that order; its value)."""
    labels = msgspec.defstruct("Labels", [(name, str, "") for name in names], frozen=True, gc=False)
    sample = msgspec.defstruct(
        "Sample", [("metric", labels), ("value", tuple[float, str])], gc=False
    )
    decode = msgspec.json.Decoder(sample).decode
    values = operator.attrgetter(*names) if len(names) > 1 else None

    def read(raw: msgspec.Raw) -> Row:
        s = decode(raw)
        found = values(s.metric) if values is not None else (getattr(s.metric, names[0]),)
        return found, float(s.value[1])

    return read


@dataclass(frozen=True, slots=True)
class Rows:
    """An answer's series, each decoded into a row when iterated; len() is the series count."""

    raw: list[msgspec.Raw]
    read: Callable[[msgspec.Raw], Row]

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[Row]:
        read = self.read
        for raw in self.raw:
            try:
                yield read(raw)
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                raise BackendDataError(
                    BACKEND, "a result sample has no metric labels or value, or not as strings"
                ) from None
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
    return Rows(answer.data.result, _sample_reader(names))
