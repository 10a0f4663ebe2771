"""Building PromQL text safely.

Every name meshdash puts into a query is validated against Kubernetes naming rules first
(mesh/validate.py), so it cannot carry PromQL syntax. These helpers escape anyway: a future
caller that forgets to validate must still not be able to change the meaning of a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_METRIC_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]*$")
_MATCH_OPS = ("=", "!=", "=~", "!~")

# Escapes PromQL's lexer understands inside a double-quoted string (Go syntax).
_STRING_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}
# RE2 metacharacters; RE2 accepts a backslash before any punctuation, so this is exact.
_REGEX_META = frozenset("\\.+*?()|[]{}^$")


def quote(value: str) -> str:
    """A PromQL double-quoted string literal whose content is exactly `value`."""
    out = ['"']
    for ch in value:
        esc = _STRING_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def regex_escape(value: str) -> str:
    """`value` as an RE2 pattern that matches only the literal text."""
    return "".join("\\" + ch if ch in _REGEX_META else ch for ch in value)


def any_of(values: Iterable[str]) -> str:
    """An RE2 alternation matching exactly one of `values` (PromQL anchors `=~` at both ends).

    Duplicates are dropped and the order is stable, so the same set gives the same query text.
    An empty set gives a pattern that matches nothing, never one that matches everything.
    """
    unique = list(dict.fromkeys(values))
    if not unique:
        # `=~""` would match series *without* the label; this can never match a label value.
        return "$^."
    return "|".join(regex_escape(v) for v in unique)


def label_name(name: str) -> str:
    """Check a label name; label names cannot be quoted in PromQL, so refuse anything odd."""
    if not _LABEL_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid Prometheus label name")
    return name


def metric_name(name: str) -> str:
    if not _METRIC_NAME.match(name):
        raise ValueError(f"{name!r} is not a valid Prometheus metric name")
    return name


def matcher(label: str, op: str, value: str) -> str:
    """One label matcher, e.g. matcher("reporter", "=", "source") -> reporter="source"."""
    if op not in _MATCH_OPS:
        raise ValueError(f"{op!r} is not a PromQL label matcher")
    return f"{label_name(label)}{op}{quote(value)}"


def selector(metric: str, matchers: Sequence[tuple[str, str, str]] = ()) -> str:
    """A vector selector: metric{label op "value", ...} from (label, op, value) triples."""
    inner = ",".join(matcher(label, op, value) for label, op, value in matchers)
    return f"{metric_name(metric)}{{{inner}}}"


def by(labels: Iterable[str]) -> str:
    """The grouping clause `by (a,b,c)` with checked label names, in the given order."""
    return "by (" + ",".join(label_name(n) for n in dict.fromkeys(labels)) + ")"


def duration(seconds: int) -> str:
    """A PromQL range duration for a whole number of seconds ("5m", "90s")."""
    if not isinstance(seconds, int) or seconds <= 0:
        raise ValueError(f"{seconds!r} is not a positive whole number of seconds")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
