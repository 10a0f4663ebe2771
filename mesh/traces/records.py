"""Typed trace records: what the Jaeger collector (v1 JSON or /api/v3 OTLP) and the demo hand over.

One model for both wire formats, close to Jaeger's own UI model: times are integer microseconds
since the epoch, tags keep their Jaeger type names, and a span carries its Process (shared by
identity between the spans of one process, so a 50,000-span trace does not copy it 50,000 times).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from msgspec import Struct


class RefType(StrEnum):
    CHILD_OF = "CHILD_OF"
    FOLLOWS_FROM = "FOLLOWS_FROM"


class Tag(Struct, frozen=True, gc=False):
    """One key/value; `type` is Jaeger's name: string, bool, int64, float64 or binary.

    A frozen msgspec Struct rather than a dataclass, so a collector decodes Tags straight from
    JSON bytes (collectors/jaeger_tags.py); it behaves as a frozen record (equality, hash,
    pickle). gc=False: a tag's value is a JSON value, which holds no reference cycle."""

    key: str
    value: Any
    type: str = "string"


# The tags the model reads on every span of a trace: the kind and error (critical path, errors),
# Istio's (where a span ran, the trace's path), the sampler (version time). A source that keeps a
# span's tags undecoded (LazyTags) keeps these at hand, so analysing a 50,000-span trace never
# needs the other ~15 tags of each span.
INDEXED_TAG_KEYS = frozenset(
    {
        "span.kind",
        "error",
        "node_id",
        "istio.canonical_service",
        "istio.canonical_revision",
        "istio.namespace",
        "upstream_cluster",
        "http.status_code",
        "response_flags",
        "sampler.type",
    }
)


@runtime_checkable
class LazyTags(Protocol):
    """A span's tags as a sequence that decodes when read (collectors/jaeger_tags.py): `get` is
    Span.tag's answer, and `indexed` the tags whose key is in INDEXED_TAG_KEYS, in order."""

    def __iter__(self): ...

    def __len__(self) -> int: ...

    def get(self, key: str, default: Any = None) -> Any: ...

    @property
    def indexed(self) -> tuple[Tag, ...]: ...


@dataclass(frozen=True, slots=True)
class SpanRef:
    ref_type: RefType
    trace_id: str
    span_id: str

    def __reduce__(self) -> tuple[Any, ...]:
        return (SpanRef, (self.ref_type, self.trace_id, self.span_id))  # see Span.__reduce__


@dataclass(frozen=True, slots=True)
class Log:
    """A timestamped event inside a span (OTLP: a span event, its name as the `event` field)."""

    timestamp_us: int
    fields: tuple[Tag, ...] = ()


@dataclass(frozen=True, slots=True)
class Process:
    """Who emitted a span: the service name and the resource tags (hostname, ip, ...)."""

    service: str
    tags: tuple[Tag, ...] = ()

    def tag(self, key: str, default: Any = None) -> Any:
        for t in self.tags:
            if t.key == key:
                return t.value
        return default


@dataclass(frozen=True, slots=True)
class Span:
    trace_id: str
    span_id: str
    operation: str
    start_us: int
    duration_us: int
    process: Process
    references: tuple[SpanRef, ...] = ()
    tags: Sequence[Tag] = ()  # a tuple, or LazyTags from a collector
    logs: tuple[Log, ...] = ()
    warnings: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        """A cached trace crosses a pickle (collectors/cache.py): a span pickles as its
        constructor's arguments, not through the dataclass state (`dataclasses.fields` per
        object, most of the 0.6 s a 50,000-span trace took to pickle)."""
        return (
            Span,
            (
                self.trace_id,
                self.span_id,
                self.operation,
                self.start_us,
                self.duration_us,
                self.process,
                self.references,
                self.tags,
                self.logs,
                self.warnings,
            ),
        )

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def service(self) -> str:
        return self.process.service

    def tag(self, key: str, default: Any = None) -> Any:
        """The first tag named key's value."""
        tags = self.tags
        if type(tags) is not tuple and type(tags) is not list:
            return tags.get(key, default)  # type: ignore[attr-defined]  # LazyTags
        for t in tags:
            if t.key == key:
                return t.value
        return default

    @property
    def kind(self) -> str:
        """OpenTracing/OTel span kind: server, client, producer, consumer, internal or ""."""
        value = self.tag("span.kind")
        return value.lower() if isinstance(value, str) else ""

    @property
    def is_error(self) -> bool:
        """Jaeger's rule: an `error` tag that is true (bool or the string "true")."""
        value = self.tag("error")
        return value is True or (isinstance(value, str) and value.lower() == "true")


def indexed_tags(span: Span) -> Sequence[Tag]:
    """The span's tags whose key is in INDEXED_TAG_KEYS, in order (maybe with others): all of
    them for a tuple, without decoding the rest for LazyTags."""
    tags = span.tags
    if type(tags) is tuple or type(tags) is list:
        return tags
    return tags.indexed  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    spans: tuple[Span, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One search result row: enough to plot and list a trace without shipping its spans."""

    trace_id: str
    start_us: int
    duration_us: int
    span_count: int
    error_count: int
    services: tuple[str, ...]
    root_service: str
    root_operation: str
    versions: tuple[str, ...] = ()  # "app:version" pairs seen in Istio tags, e.g. "reviews:v2"
    warnings: int = 0


@dataclass(frozen=True, slots=True)
class Dependency:
    """A service-to-service call count, as Jaeger's /api/dependencies reports it."""

    parent: str
    child: str
    call_count: int


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """A trace search. Times are microseconds since the epoch; durations microseconds.

    `tags` are exact matches on span tags (Jaeger's `tags` / `query.attributes`).
    """

    service: str
    start_us: int
    end_us: int
    operation: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    min_duration_us: int | None = None
    max_duration_us: int | None = None
    limit: int = 20
