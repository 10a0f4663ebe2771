"""An OTLP span's attributes kept as their JSON bytes and decoded when read, as v1 tags are
(collectors/jaeger_tags.py).

Twenty attributes a span, each a key and an AnyValue object, made decoding them most of an
/api/v3 answer's parse. The OTLP decoder (jaeger_decode) leaves each span's `attributes` array
undecoded, in one TagBuffer per answer; a span's tags are then its scope's tags, these
attributes and the tags its kind and status make, in jaeger_json's order, and the model reads
only the indexed ones (INDEXED_TAG_KEYS) on every span. The rules are jaeger_json's
(`_attributes`, `_any_value`); an array the fast decoder refuses is read by the general one, as
a BackendDataError when it is bad: the attributes are read after the answer was accepted.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from collectors import jaeger_json
from collectors.jaeger_tags import RawTags, TagBuffer
from collectors.strict_json import NotFiniteError, loads_strict
from mesh.errors import BackendDataError
from mesh.traces.records import INDEXED_TAG_KEYS, Tag

BACKEND = "jaeger"
_TAG_CACHE_MAX = 200_000


class _AnyValue(Struct):
    """Field names are OTLP's, spelled as on the wire."""

    stringValue: str | UnsetType = UNSET
    boolValue: Any = UNSET
    intValue: Any = UNSET
    doubleValue: Any = UNSET
    bytesValue: Any = UNSET
    arrayValue: Any = UNSET
    kvlistValue: Any = UNSET


class _KeyValue(Struct):
    key: str
    value: _AnyValue | None = None


_DECODE = msgspec.json.Decoder(list[_KeyValue]).decode


def attributes(raw: list[_KeyValue] | None, cache: dict[tuple[str, str], Tag]) -> list[Tag]:
    """As jaeger_json._attributes: equal string attributes share one Tag."""
    out: list[Tag] = []
    for kv in raw or ():
        v = kv.value
        sv = v.stringValue if v is not None else UNSET
        if sv is not UNSET:
            k = (kv.key, sv)
            tag = cache.get(k)
            if tag is None:
                tag = Tag(kv.key, sv, "string")
                if len(cache) < _TAG_CACHE_MAX:
                    cache[k] = tag
            out.append(tag)
            continue
        value, typ = jaeger_json._any_value(_present(v))
        out.append(Tag(kv.key, value, typ))
    return out


def _present(v: _AnyValue | None) -> dict[str, Any] | None:
    """The fields present in an AnyValue, as the dict jaeger_json._any_value reads."""
    if v is None:
        return None
    return {f: getattr(v, f) for f in v.__struct_fields__ if getattr(v, f) is not UNSET}


def decode_attributes(raw: Any, *, indexed_only: bool = False) -> list[Tag]:
    """The bytes of an OTLP `attributes` array -> Tags, as jaeger_json reads them (only those
    whose key is in INDEXED_TAG_KEYS, when asked: the others are then never made)."""
    try:
        wire = _DECODE(raw)
    except msgspec.MsgspecError:
        tags = _general(raw)
    else:
        if indexed_only:
            wire = [kv for kv in wire if kv.key in INDEXED_TAG_KEYS]
        return attributes(wire, {})
    return [t for t in tags if t.key in INDEXED_TAG_KEYS] if indexed_only else tags


def _general(raw: Any) -> list[Tag]:
    try:
        value = loads_strict(bytes(raw))
    except NotFiniteError as exc:
        raise BackendDataError(BACKEND, f"a span's attributes hold non-numbers: {exc}") from None
    except (ValueError, RecursionError):
        raise BackendDataError(BACKEND, "a span's attributes are not valid JSON") from None
    if value is None:
        return []
    if not isinstance(value, list):
        raise BackendDataError(BACKEND, "a span's attributes are not a list")
    return jaeger_json._attributes(value)


class RawAttributes(RawTags):
    """A span's tags over its attributes' JSON bytes (a slice of a TagBuffer), between the
    tags of its scope (`before`) and those its kind and status make (`after`)."""

    __slots__ = ("after", "before")

    def __init__(
        self,
        buffer: TagBuffer,
        start: int,
        end: int,
        before: tuple[Tag, ...] = (),
        after: tuple[Tag, ...] = (),
    ) -> None:
        super().__init__(buffer, start, end)
        self.before, self.after = before, after

    def _indexed_list(self) -> list[Tag]:
        keys = INDEXED_TAG_KEYS
        return [
            *(t for t in self.before if t.key in keys),
            *decode_attributes(self.raw, indexed_only=True),
            *(t for t in self.after if t.key in keys),
        ]

    def _all(self) -> tuple[Tag, ...]:
        return (*self.before, *decode_attributes(self.raw), *self.after)

    def _same_source(self, other: RawTags) -> bool:
        return (
            type(other) is RawAttributes
            and (self.before, self.after) == (other.before, other.after)
            and bytes(self.raw) == bytes(other.raw)
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (RawAttributes, (self.buffer, self.start, self.end, self.before, self.after))
