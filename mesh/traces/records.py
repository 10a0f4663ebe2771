"""Typed trace records: what the Jaeger collector (v1 JSON or /api/v3 OTLP) and the demo hand over.

One model for both wire formats, close to Jaeger's own UI model: times are integer microseconds
since the epoch, tags keep their Jaeger type names, and a span carries its Process (shared by
identity between the spans of one process, so a 50,000-span trace does not copy it 50,000 times).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RefType(StrEnum):
    CHILD_OF = "CHILD_OF"
    FOLLOWS_FROM = "FOLLOWS_FROM"


@dataclass(frozen=True, slots=True)
class Tag:
    """One key/value; `type` is Jaeger's name: string, bool, int64, float64 or binary."""

    key: str
    value: Any
    type: str = "string"


@dataclass(frozen=True, slots=True)
class SpanRef:
    ref_type: RefType
    trace_id: str
    span_id: str


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
    tags: tuple[Tag, ...] = ()
    logs: tuple[Log, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us

    @property
    def service(self) -> str:
        return self.process.service

    def tag(self, key: str, default: Any = None) -> Any:
        for t in self.tags:
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
