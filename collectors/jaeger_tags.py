"""A span's tags kept as their JSON bytes and decoded when read (mesh.traces.records.LazyTags).

Twenty tags a span make a 50,000-span trace a million small objects: decoding them was most of
the time from Jaeger's bytes to trace records. The v1 decoder (jaeger_decode) leaves each span's
`tags` array undecoded (copied into one TagBuffer per answer), and this decodes it when the
model asks: once per span for the few tags every span is read for (INDEXED_TAG_KEYS: kind, error,
Istio's), kept; the whole list each time it is read, which only a span's detail and the raw JSON
do. The rules are jaeger_json's (`_v1_tag`); an array the fast decoder refuses is read by the
general one, which gives the same Tags or the same error, as a BackendDataError: the tags are
read after the answer was accepted, so a bad value there is bad data in the trace.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import msgspec

from collectors.jaeger_json import _Tags, _v1_tag
from collectors.strict_json import NotFiniteError, loads_strict
from mesh.errors import BackendDataError
from mesh.traces.records import INDEXED_TAG_KEYS, Tag

BACKEND = "jaeger"


_DECODE = msgspec.json.Decoder(list[Tag]).decode  # a missing `type` is "string", as in Jaeger


def _tag(t: Tag) -> Tag:
    """jaeger_json's rules for typed tags (a bool or number written as a string, a type in
    capitals); a string tag, nearly every Istio tag, is kept as decoded."""
    if t.type == "string":
        return t
    return _v1_tag({"key": t.key, "value": t.value, "type": t.type})


def decode_tags(raw: Any) -> tuple[Tag, ...]:
    """The bytes of a v1 `tags` array -> Tags, as jaeger_json reads them."""
    try:
        wire = _DECODE(raw)
    except msgspec.MsgspecError:
        try:
            return _Tags()(loads_strict(bytes(raw)))
        except NotFiniteError as exc:
            raise BackendDataError(BACKEND, f"a span's tags hold non-numbers: {exc}") from None
        except (ValueError, RecursionError):
            raise BackendDataError(BACKEND, "a span's tags are not valid JSON") from None
    return tuple(_tag(t) for t in wire)


class TagBuffer:
    """The tag arrays of one answer's spans, back to back in one buffer that their RawTags
    slice. A cached trace crosses a pickle (collectors/cache.py): the buffer travels once,
    compressed (a 50,000-span trace's ~75 MB of tags is a few MB), not once per span."""

    __slots__ = ("buf", "view")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.view = memoryview(buf)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_inflate, (zlib.compress(self.buf, 1),))


def _inflate(compressed: bytes) -> TagBuffer:
    return TagBuffer(zlib.decompress(compressed))


def tag_slices(raws: list[Any]) -> tuple[TagBuffer, list[tuple[int, int] | None]]:
    """The arrays' bytes (msgspec.Raw or bytes) back to back in one TagBuffer, and each one's
    (start, end) in it; None for `[]` and `null`, which hold nothing."""
    buf = TagBuffer(b"".join(raws))
    out: list[tuple[int, int] | None] = []
    at = 0
    for raw in raws:
        n = len(raw)
        if n <= 4 and bytes(raw) in (b"[]", b"null", b""):
            out.append(None)
        else:
            out.append((at, at + n))
        at += n
    return buf, out


def span_tags(raws: list[Any]) -> list[RawTags | tuple[()]]:
    """Each span's tags from its `tags` array's bytes, in one shared TagBuffer; no tags for
    `[]` and `null`."""
    buf, slices = tag_slices(raws)
    return [() if at is None else RawTags(buf, *at) for at in slices]


class RawTags:
    """A Sequence of Tags over their JSON bytes, a slice of a TagBuffer."""

    __slots__ = ("_first", "_indexed", "buffer", "end", "start")

    def __init__(self, buffer: TagBuffer, start: int, end: int) -> None:
        self.buffer, self.start, self.end = buffer, start, end
        self._indexed: tuple[Tag, ...] | None = None
        self._first: dict[str, Any] | None = None

    @property
    def raw(self) -> memoryview:
        return self.buffer.view[self.start : self.end]

    @property
    def indexed(self) -> tuple[Tag, ...]:
        """The tags whose key is in INDEXED_TAG_KEYS, in order: decoded once, then kept (a
        cache of a pure function of `raw`; two threads racing compute the same tuple)."""
        got = self._indexed
        if got is None:
            got = self._index()
        return got

    def _index(self) -> tuple[Tag, ...]:
        kept = self._indexed_list()
        first: dict[str, Any] = {}
        for t in kept:  # the first of equal keys wins, as in Span.tag
            if t.key not in first:
                first[t.key] = t.value
        self._first = first
        got = self._indexed = tuple(kept)
        return got

    def _indexed_list(self) -> list[Tag]:
        """The tags whose key is in INDEXED_TAG_KEYS, in order, with jaeger_json's rules (a
        typed tag through them; a string tag, nearly every Istio tag, as decoded)."""
        try:
            wire = _DECODE(self.raw)
        except msgspec.MsgspecError:
            return [t for t in decode_tags(self.raw) if t.key in INDEXED_TAG_KEYS]
        return [t if t.type == "string" else _tag(t) for t in wire if t.key in INDEXED_TAG_KEYS]

    def _all(self) -> tuple[Tag, ...]:
        """Every tag, decoded again: only a span's detail and the raw JSON ask."""
        return decode_tags(self.raw)

    def _same_source(self, other: RawTags) -> bool:
        return type(self) is type(other) and bytes(self.raw) == bytes(other.raw)

    def get(self, key: str, default: Any = None) -> Any:
        """The first tag named key's value (Span.tag)."""
        if key in INDEXED_TAG_KEYS:
            first = self._first
            if first is None:
                self._index()
                first = self._first
            return first.get(key, default)  # type: ignore[union-attr]
        for t in self._all():
            if t.key == key:
                return t.value
        return default

    def __iter__(self) -> Iterator[Tag]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, i: Any) -> Any:
        return self._all()[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RawTags):
            return self._same_source(other) or self._all() == other._all()
        if isinstance(other, tuple):
            return self._all() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes(self.raw)[:60]!r}...)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (RawTags, (self.buffer, self.start, self.end))
