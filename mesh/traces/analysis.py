"""Trace model: a chain of small adjusters that clean a trace, then the tree and its analysis.

As in Jaeger query (`adjuster/`), each adjuster is a pure function `Trace -> (Trace, warnings)`
with one job, so each can be tested alone and a broken trace loads with warnings instead of an
exception. The analysis then follows Jaeger UI: span tree from CHILD_OF and FOLLOWS_FROM,
critical path (last-finishing child first, children clipped to their parent), self time.

Everything is iterative and index-based (lists of ints, not nested objects or recursion): a
50,000-span trace, possibly 50,000 levels deep, must neither hit the recursion limit nor crawl.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from mesh.traces.records import RefType, Span, SpanRef, Tag, Trace, TraceSummary, indexed_tags

AdjustResult = tuple[Trace, tuple[str, ...]]
Adjuster = Callable[[Trace], AdjustResult]

_HEX = re.compile(r"^[0-9a-f]+$")


# --------------------------------------------------------------------------------------------
# Identifiers and Istio naming


def canonical_trace_id(raw: str) -> str:
    """Jaeger's spelling of a trace id: lower-case hex, 16 digits when the high half is zero.

    The v1 API writes a 64-bit id as 16 digits and /api/v3 writes 32, so both are brought to one
    form before ids are compared. Non-hex ids (seen in hand-written fixtures) are kept as given.
    """
    s = raw.strip().lower()
    if not s or not _HEX.match(s) or len(s) > 32:
        return s
    s = s.lstrip("0")
    return s.rjust(16, "0") if len(s) <= 16 else s.rjust(32, "0")


_HEX16 = re.compile(r"[0-9a-f]{16}")


def canonical_span_id(raw: str) -> str:
    if len(raw) == 16 and _HEX16.fullmatch(raw):  # already canonical: what Jaeger writes
        return raw
    s = raw.strip().lower()
    if s and _HEX.match(s) and len(s) <= 16:
        return s.rjust(16, "0")
    return s


def split_service(name: str) -> tuple[str, str]:
    """Istio names a span's service `app.namespace`; ("reviews", "bookinfo") from "reviews.bookinfo".

    A namespace is a DNS label (no dots) while an app name may contain dots, so split on the last
    dot. A name without a dot has no namespace ("").
    """
    app, dot, ns = name.rpartition(".")
    return (app, ns) if dot and app and ns else (name, "")


def join_service(app: str, namespace: str) -> str:
    """The Jaeger service name Istio's proxies report for `app` in `namespace`."""
    return f"{app}.{namespace}" if namespace else app


# --------------------------------------------------------------------------------------------
# Parent selection (shared by the adjusters and the tree)


def parent_ref(span: Span, trace_id: str, present: set[str] | dict[str, int]) -> SpanRef | None:
    """The reference that makes a span's parent: the first CHILD_OF into this trace whose span is
    present, else the first such FOLLOWS_FROM. References into other traces are links, not parents.
    """
    follows: SpanRef | None = None
    for ref in span.references:
        if ref.span_id not in present or ref.span_id == span.span_id:
            continue
        tid = ref.trace_id  # nearly always spelled as the trace's own id: no regex for those
        if tid and tid != trace_id and canonical_trace_id(tid) != trace_id:
            continue
        if ref.ref_type == RefType.CHILD_OF:
            return ref
        if follows is None:
            follows = ref
    return follows


def _in_trace_refs(span: Span, trace_id: str) -> list[SpanRef]:
    return [
        r
        for r in span.references
        if r.span_id != span.span_id
        and (not r.trace_id or r.trace_id == trace_id or canonical_trace_id(r.trace_id) == trace_id)
    ]


# --------------------------------------------------------------------------------------------
# Adjusters


def _next_free_id(used: set[str], start: int) -> tuple[str, int]:
    n = start
    while True:
        n += 1
        candidate = f"{n & 0xFFFFFFFFFFFFFFFF:016x}"
        if candidate not in used:
            return candidate, n


def dedupe_span_ids(trace: Trace) -> AdjustResult:
    """Make span ids unique, as Jaeger's span-id deduper does, and say what was done.

    - an exact copy of a span already seen is dropped (collectors sometimes deliver a span twice);
    - a server span sharing its id with a client span (Zipkin-style shared ids) gets a fresh id
      and becomes the client span's child;
    - any other clash keeps the first span and gives the later one a fresh id.
    Fresh ids continue after the largest hex id in the trace, like Jaeger's.
    """
    if len({s.span_id for s in trace.spans}) == len(trace.spans):
        return trace, ()  # the usual case, checked without a list per span
    by_id: dict[str, list[int]] = {}
    for i, s in enumerate(trace.spans):
        by_id.setdefault(s.span_id, []).append(i)
    used = set(by_id)
    counter = max((int(k, 16) for k in used if k and _HEX.match(k) and len(k) <= 16), default=0)
    warnings: list[str] = []
    out: list[Span | None] = list(trace.spans)
    for span_id, idxs in by_id.items():
        if len(idxs) == 1:
            continue
        # A client span keeps the shared id (its server span is the one renamed).
        idxs = sorted(idxs, key=lambda i: trace.spans[i].kind != "client")
        kept: list[Span] = [trace.spans[idxs[0]]]
        client = kept[0] if kept[0].kind == "client" else None
        for i in idxs[1:]:
            span = trace.spans[i]
            if any(span == k for k in kept):
                out[i] = None
                warnings.append(f"span {span_id}: exact duplicate dropped")
                continue
            new_id, counter = _next_free_id(used, counter)
            used.add(new_id)
            if span.kind == "server" and client is not None:
                ref = SpanRef(RefType.CHILD_OF, span.trace_id, span_id)
                refs = (ref, *[r for r in span.references if r.span_id != span_id])
                warnings.append(
                    f"span {span_id}: server span shares the client's id; renamed {new_id}"
                )
            else:
                refs = span.references
                warnings.append(
                    f"span {span_id}: duplicate id on {span.operation!r}; renamed {new_id}"
                )
            renamed = replace(
                span,
                span_id=new_id,
                references=refs,
                warnings=(*span.warnings, f"span id {span_id} was duplicated; shown as {new_id}"),
            )
            out[i] = renamed
            kept.append(span)
    spans = tuple(s for s in out if s is not None)
    return replace(trace, spans=spans), tuple(warnings)


def mark_orphans(trace: Trace) -> AdjustResult:
    """A span whose in-trace parent is missing becomes a root, with a warning on the span.

    This is what Jaeger UI shows for incomplete traces (a lost span, a late collector): the
    subtree stays visible instead of disappearing.
    """
    ids = {s.span_id for s in trace.spans}
    if all(r.span_id in ids for s in trace.spans for r in s.references):
        return trace, ()  # every reference's span is here: no parent can be missing
    tid = canonical_trace_id(trace.trace_id)
    warnings: list[str] = []
    spans = list(trace.spans)
    for i, span in enumerate(spans):
        if not span.references or parent_ref(span, tid, ids) is not None:
            continue
        refs = _in_trace_refs(span, tid)
        if not refs:
            continue  # only links into other traces: a genuine root
        missing = ", ".join(dict.fromkeys(r.span_id for r in refs))
        msg = f"parent span {missing} is not in the trace; shown as a root"
        spans[i] = replace(span, warnings=(*span.warnings, msg))
        warnings.append(f"span {span.span_id}: {msg}")
    if not warnings:
        return trace, ()
    return replace(trace, spans=tuple(spans)), tuple(warnings)


def sort_spans(trace: Trace) -> AdjustResult:
    """Spans in start-time order (stable), so every later step and the waterfall read in time order."""
    spans = trace.spans
    if all(spans[i].start_us <= spans[i + 1].start_us for i in range(len(spans) - 1)):
        return trace, ()
    return replace(trace, spans=tuple(sorted(spans, key=lambda s: s.start_us))), ()


WAYPOINT_TAG = "istio.waypoint"  # set by name_waypoint_spans: the waypoint that emitted a span


def name_waypoint_spans(trace: Trace) -> AdjustResult:
    """A waypoint's span is the one span of its hop in ambient mode, and Istio (before 1.29)
    names its service after the waypoint (`waypoint.bookinfo`), so every hop would fall under
    one "waypoint" service. Name each after the service it served (waypoint_target), and keep
    the waypoint in the `istio.waypoint` tag."""
    changed = False
    spans = []
    for span in trace.spans:
        name = _shown_service(span)
        if name == span.service:
            spans.append(span)
            continue
        changed = True
        spans.append(
            replace(
                span,
                process=replace(span.process, service=name),
                tags=(*span.tags, Tag(WAYPOINT_TAG, span.service)),
            )
        )
    return (replace(trace, spans=tuple(spans)), ()) if changed else (trace, ())


DEFAULT_ADJUSTERS: tuple[Adjuster, ...] = (
    dedupe_span_ids,
    mark_orphans,
    sort_spans,
    name_waypoint_spans,
)


def adjust(trace: Trace, adjusters: Iterable[Adjuster] = DEFAULT_ADJUSTERS) -> Trace:
    """Run the chain; every adjuster's warnings are appended to the trace's own warnings."""
    warnings = list(trace.warnings)
    for adjuster in adjusters:
        trace, extra = adjuster(trace)
        warnings.extend(extra)
    return replace(trace, warnings=tuple(warnings)) if warnings != list(trace.warnings) else trace


# --------------------------------------------------------------------------------------------
# The span tree


@dataclass(frozen=True, slots=True)
class SpanTree:
    """Index-based tree over `trace.spans`: parent[i] is -1 for a root.

    children[i] are ordered by start time; `order` is the depth-first pre-order (the waterfall's
    row order); `follows[i]` says span i hangs off its parent by FOLLOWS_FROM.
    """

    trace: Trace
    parent: tuple[int, ...]
    children: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]
    order: tuple[int, ...]
    depth: tuple[int, ...]
    follows: tuple[bool, ...]
    warnings: tuple[str, ...] = ()


def build_tree(trace: Trace) -> SpanTree:
    """Parent links from references, then a pre-order walk. A reference cycle (which no real
    tracer produces, but a corrupt store can) is broken at its earliest span, with a warning.
    """
    spans = trace.spans
    n = len(spans)
    tid = canonical_trace_id(trace.trace_id)
    index: dict[str, int] = {}
    for i, s in enumerate(spans):
        index.setdefault(s.span_id, i)
    parent = [-1] * n
    follows = [False] * n
    child_of = RefType.CHILD_OF
    for i, s in enumerate(spans):
        refs = s.references
        if not refs:
            continue
        if len(refs) == 1:  # nearly every span: one CHILD_OF, spelled with the trace's own id
            ref = refs[0]
            if ref.ref_type is child_of and ref.trace_id == tid and ref.span_id != s.span_id:
                p = index.get(ref.span_id)
                if p is not None:
                    parent[i] = p
                    continue
        ref = parent_ref(s, tid, index)
        if ref is not None:
            parent[i] = index[ref.span_id]
            follows[i] = ref.ref_type == RefType.FOLLOWS_FROM
    children_l: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        if parent[i] >= 0:
            children_l[parent[i]].append(i)
    key = [s.start_us for s in spans]
    for c in children_l:
        if len(c) > 1:
            c.sort(key=lambda j: (key[j], j))
    roots = sorted((i for i in range(n) if parent[i] < 0), key=lambda j: (key[j], j))
    warnings: list[str] = []
    order, depth, seen = _preorder(roots, children_l, n)
    if len(order) < n:
        # Only spans on a reference cycle are unreachable; cut each cycle at its earliest span.
        extra_roots: list[int] = []
        while len(order) < n:
            first = min((i for i in range(n) if not seen[i]), key=lambda j: (key[j], j))
            old = parent[first]
            children_l[old] = [c for c in children_l[old] if c != first]
            parent[first] = -1
            follows[first] = False
            extra_roots.append(first)
            warnings.append(
                f"span {spans[first].span_id}: reference cycle broken here; shown as a root"
            )
            roots = sorted([*roots, first], key=lambda j: (key[j], j))
            order, depth, seen = _preorder(roots, children_l, n)
    return SpanTree(
        trace=trace,
        parent=tuple(parent),
        children=tuple(tuple(c) for c in children_l),
        roots=tuple(roots),
        order=tuple(order),
        depth=tuple(depth),
        follows=tuple(follows),
        warnings=tuple(warnings),
    )


def _preorder(
    roots: Sequence[int], children: Sequence[Sequence[int]], n: int
) -> tuple[list[int], list[int], list[bool]]:
    order: list[int] = []
    depth = [0] * n
    seen = [False] * n
    stack = [(r, 0) for r in reversed(roots)]
    while stack:
        i, d = stack.pop()
        if seen[i]:
            continue
        seen[i] = True
        depth[i] = d
        order.append(i)
        kids = children[i]
        for c in reversed(kids):
            if not seen[c]:
                stack.append((c, d + 1))
    return order, depth, seen


# --------------------------------------------------------------------------------------------
# Critical path (Jaeger UI's algorithm)


@dataclass(frozen=True, slots=True)
class CriticalSection:
    """Span `span` is on the critical path from start_us to end_us."""

    span: int
    start_us: int
    end_us: int


def blocking(tree: SpanTree) -> list[bool]:
    """Spans that can hold up their parent: not under a FOLLOWS_FROM link, nor a CONSUMER of a
    PRODUCER (async messaging), nor below such a span. Jaeger UI leaves these off the critical
    path, and meshdash also leaves them out of their parent's self time.
    """
    spans = tree.trace.spans
    ok = [True] * len(spans)
    producer = [s.kind == "producer" for s in spans]  # one tag scan per span, not one per use
    for i in tree.order:
        p = tree.parent[i]
        if p < 0:
            continue
        if not ok[p] or tree.follows[i] or (producer[p] and spans[i].kind == "consumer"):
            ok[i] = False
    return ok


def clip_to_parents(
    tree: SpanTree, eligible: Sequence[bool]
) -> tuple[list[int], list[int], list[bool]]:
    """Each eligible child clipped to its (already clipped) parent; a child entirely outside its
    parent is dropped with its subtree. Returns (start, end, kept). Display times are untouched:
    the clipping only serves the critical path, exactly as Jaeger UI's sanitizer does.
    """
    spans = tree.trace.spans
    n = len(spans)
    start = [s.start_us for s in spans]
    end = [s.start_us + s.duration_us for s in spans]
    kept = list(eligible)
    for i in tree.order:
        p = tree.parent[i]
        if p < 0 or not kept[i]:
            continue
        if not kept[p]:
            kept[i] = False
            continue
        ps, pe, cs, ce = start[p], end[p], start[i], end[i]
        if cs >= ps:
            if cs >= pe:
                kept[i] = False
            elif ce > pe:
                end[i] = pe
        elif ce <= ps:
            kept[i] = False
        else:
            start[i] = ps
            end[i] = min(ce, pe)
    assert len(kept) == n
    return start, end, kept


def critical_path(tree: SpanTree, eligible: Sequence[bool] | None = None) -> list[CriticalSection]:
    """Jaeger UI's critical path, root by root.

    From a span, step into the child that finished last; when a span has no (further) child, the
    time back to its start is its own and the walk returns to the parent, which looks for the child
    that finished before that one started. The recursion of the original is a tail call, so this
    is a plain loop; children are pre-sorted by end time so each step is a binary search.
    Sections come out in walk order (latest first), as Jaeger UI lists them.
    """
    if eligible is None:
        eligible = blocking(tree)
    start, end, kept = clip_to_parents(tree, eligible)
    sections: list[CriticalSection] = []
    by_end: dict[int, tuple[list[int], list[int]]] = {}

    def children_by_end(i: int) -> tuple[list[int], list[int]]:
        got = by_end.get(i)
        if got is None:
            kids = [c for c in tree.children[i] if kept[c]]  # already in start (child) order
            kids.sort(key=lambda c: end[c])  # stable: ties keep child order, as Jaeger UI's scan
            got = ([end[c] for c in kids], kids)
            by_end[i] = got
        return got

    for root in tree.roots:
        if not kept[root]:
            continue
        cur, bound = root, None
        while True:
            ends, kids = children_by_end(cur)
            j = len(ends) - 1 if bound is None else bisect_left(ends, bound) - 1
            section_end = end[cur] if bound is None else bound
            if j >= 0:
                j = bisect_left(ends, ends[j])  # first child (in child order) with that end
                lfc = kids[j]
                if end[lfc] != section_end:
                    sections.append(CriticalSection(cur, end[lfc], section_end))
                cur, bound = lfc, None
                continue
            if start[cur] != section_end:
                sections.append(CriticalSection(cur, start[cur], section_end))
            if cur == root:
                break
            cur, bound = tree.parent[cur], start[cur]
    return sections


# --------------------------------------------------------------------------------------------
# Self time, per-service breakdown, Istio sidecar tags


def self_times(tree: SpanTree, eligible: Sequence[bool] | None = None) -> list[int]:
    """Each span's duration minus the time covered by its blocking children (clipped to the span,
    overlaps counted once): the time the span spent on its own work.
    """
    spans = tree.trace.spans
    ok = blocking(tree) if eligible is None else eligible
    start = [s.start_us for s in spans]
    end = [s.start_us + s.duration_us for s in spans]
    out = [0] * len(spans)
    for i, kids in enumerate(tree.children):
        s0, s1 = start[i], end[i]
        if not kids:
            out[i] = s1 - s0 if s1 > s0 else 0
            continue
        covered = 0
        cur_a = cur_b = None
        for c in kids:  # sorted by start
            if not ok[c]:
                continue
            a, b = start[c], end[c]
            if a < s0:
                a = s0
            if b > s1:
                b = s1
            if b <= a:
                continue
            if cur_b is None or a > cur_b:
                if cur_b is not None:
                    covered += cur_b - cur_a
                cur_a, cur_b = a, b
            elif b > cur_b:
                cur_b = b
        if cur_b is not None:
            covered += cur_b - cur_a
        out[i] = max(0, s1 - s0 - covered)
    return out


@dataclass(frozen=True, slots=True)
class IstioInfo:
    """What an Envoy sidecar's span says about where it ran (DESIGN.md, Istio spans)."""

    app: str = ""
    namespace: str = ""
    version: str = ""
    pod: str = ""
    ip: str = ""
    workload: str = ""
    proxy: str = ""  # "sidecar", "router" (a gateway) or "waypoint" (ambient)
    status_code: str = ""
    response_flags: str = ""
    upstream_cluster: str = ""
    waypoint: str = ""  # the waypoint workload that emitted the span (ambient), else ""


WAYPOINT_PROXY = "waypoint"


@dataclass(frozen=True, slots=True)
class WaypointTarget:
    """The destination a waypoint's span served: its service, namespace and, when the route
    says, the version (a subset, or a per-version backend Service such as `reviews-v2`)."""

    app: str
    namespace: str
    version: str
    waypoint: str  # the waypoint's own workload


def _host_parts(host: str) -> tuple[str, str]:
    """("reviews", "bookinfo") from `reviews.bookinfo.svc.cluster.local[:9080][/path]`."""
    host = host.split("/", 1)[0].split(":", 1)[0]
    labels = host.split(".")
    return (labels[0], labels[1]) if len(labels) >= 2 and labels[0] and labels[1] else ("", "")


def _cluster_parts(cluster: str) -> tuple[str, str, str]:
    """(backend service, namespace, subset) from an Envoy cluster name:
    `inbound-vip|9080|http|reviews-v2.bookinfo.svc.cluster.local` (a waypoint's, where the third
    field is the protocol, `http/v2` with a subset) or `outbound|9080|v2|reviews.bookinfo...`."""
    parts = cluster.split("|")
    if len(parts) != 4:
        return "", "", ""
    direction, _port, middle, host = parts
    backend, ns = _host_parts(host)
    if direction == "outbound":
        return backend, ns, middle
    return backend, ns, middle.split("/", 1)[1] if "/" in middle else ""


def waypoint_target(span: Span) -> WaypointTarget | None:
    """What a span from an ambient waypoint proxy served, or None for any other span.

    Istio's waypoint span (DESIGN.md, Istio spans): `node_id` `waypoint~IP~pod.ns~ns.svc...`,
    `istio.canonical_service` the waypoint's own name, the service `waypoint.ns` (before Istio
    1.29; the destination's service after), the operation `reviews.bookinfo.svc.cluster.local:
    9080/*` (the host asked for) and `upstream_cluster` the backend it chose. The destination
    pod is not named, so the workload is Bookinfo's convention `<service>-<version>`.
    """
    node_id = span.tag("node_id")
    if not isinstance(node_id, str) or not node_id.startswith(WAYPOINT_PROXY + "~"):
        return None
    _proxy, _ip, pod, waypoint_ns = parse_node_id(node_id)
    app, ns = _host_parts(span.operation)
    backend, backend_ns, subset = _cluster_parts(str(span.tag("upstream_cluster") or ""))
    if not app:
        app, ns = backend, backend_ns
    if not app:  # Istio 1.29 names the span after the destination service
        app, ns = split_service(span.service)
    if not app:
        return None
    version = subset
    if not version and backend.startswith(app + "-") and (backend_ns or ns) == ns:
        version = backend[len(app) + 1 :]
    return WaypointTarget(app, ns or waypoint_ns, version, workload_of_pod(pod))


_POD_OF_DEPLOYMENT = re.compile(r"^(?P<w>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")


def workload_of_pod(pod: str) -> str:
    """A Deployment's name from one of its pods (`reviews-v2-5b64f47978-xvb2k` -> `reviews-v2`)."""
    m = _POD_OF_DEPLOYMENT.match(pod)
    return m.group("w") if m else pod


def parse_node_id(node_id: str) -> tuple[str, str, str, str]:
    """(proxy type, IP, pod, namespace) from `sidecar~10.1.2.3~pod.ns~ns.svc.cluster.local`."""
    parts = node_id.split("~")
    if len(parts) < 4:
        return "", "", "", ""
    proxy, ip, pod_ns, domain = parts[0], parts[1], parts[2], parts[3]
    pod, dot, ns = pod_ns.rpartition(".")
    if not dot:
        pod, ns = pod_ns, domain.split(".", 1)[0]
    return proxy, ip, pod, ns


def istio_info(span: Span) -> IstioInfo | None:
    """Istio's tags on a span, or None when the span does not come from an Envoy proxy."""
    tags = {t.key: t.value for t in indexed_tags(span)}  # every key read below is indexed
    node_id = tags.get("node_id")
    if node_id is None and "istio.canonical_service" not in tags:
        return None
    target = waypoint_target(span)
    if target is not None:  # the span of a hop through a waypoint: the destination's
        status = tags.get("http.status_code")
        return IstioInfo(
            app=target.app,
            namespace=target.namespace,
            version=target.version,
            workload=f"{target.app}-{target.version}" if target.version else target.app,
            proxy=WAYPOINT_PROXY,
            status_code="" if status is None else str(status),
            response_flags=str(tags.get("response_flags") or ""),
            upstream_cluster=str(tags.get("upstream_cluster") or ""),
            waypoint=target.waypoint,
        )
    proxy, ip, pod, ns = parse_node_id(str(node_id or ""))
    app_from_name, ns_from_name = split_service(span.service)
    app = str(tags.get("istio.canonical_service") or app_from_name)
    version = str(tags.get("istio.canonical_revision") or "")
    namespace = ns or str(tags.get("istio.namespace") or "") or ns_from_name
    workload = workload_of_pod(pod) if pod else (f"{app}-{version}" if version else app)
    status = tags.get("http.status_code")
    return IstioInfo(
        app=app,
        namespace=namespace,
        version=version,
        pod=pod,
        ip=ip,
        workload=workload,
        proxy=proxy,
        status_code="" if status is None else str(status),
        response_flags=str(tags.get("response_flags") or ""),
        upstream_cluster=str(tags.get("upstream_cluster") or ""),
    )


# --------------------------------------------------------------------------------------------
# Whole-trace analysis and summaries


@dataclass(frozen=True, slots=True)
class ServiceTime:
    service: str
    spans: int
    errors: int
    self_us: int
    total_us: int  # sum of span durations (overlaps counted each time)
    critical_us: int


@dataclass(frozen=True, slots=True)
class TraceAnalysis:
    tree: SpanTree
    critical: tuple[CriticalSection, ...]
    self_us: tuple[int, ...]
    services: tuple[ServiceTime, ...]
    start_us: int
    duration_us: int
    errors: tuple[bool, ...] = ()  # Span.is_error per span, read once (a tag scan each)

    @property
    def trace(self) -> Trace:
        return self.tree.trace

    @property
    def warnings(self) -> tuple[str, ...]:
        return (*self.tree.trace.warnings, *self.tree.warnings)

    def critical_span_ids(self) -> tuple[str, ...]:
        spans = self.tree.trace.spans
        return tuple(dict.fromkeys(spans[c.span].span_id for c in self.critical))


def analyze(trace: Trace, adjusters: Iterable[Adjuster] = DEFAULT_ADJUSTERS) -> TraceAnalysis:
    """Adjust, build the tree, and compute critical path, self times and per-service time."""
    trace = adjust(trace, adjusters)
    tree = build_tree(trace)
    ok = blocking(tree)  # once: it reads every span's kind
    critical = critical_path(tree, ok)
    own = self_times(tree, ok)
    spans = trace.spans
    crit_by_span: dict[int, int] = {}
    for c in critical:
        crit_by_span[c.span] = crit_by_span.get(c.span, 0) + (c.end_us - c.start_us)
    errors = tuple(s.is_error for s in spans)
    acc: dict[str, list[int]] = {}
    for i, s in enumerate(spans):
        row = acc.setdefault(s.process.service, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += errors[i]
        row[2] += own[i]
        row[3] += s.duration_us
        row[4] += crit_by_span.get(i, 0)
    services = tuple(
        sorted(
            (ServiceTime(name, *row) for name, row in acc.items()),
            key=lambda st: (-st.self_us, st.service),
        )
    )
    start, duration = trace_bounds(trace)
    return TraceAnalysis(tree, tuple(critical), tuple(own), services, start, duration, errors)


def trace_bounds(trace: Trace) -> tuple[int, int]:
    """(first start, total duration) in µs; (0, 0) for a trace without spans."""
    if not trace.spans:
        return 0, 0
    start = min(s.start_us for s in trace.spans)
    end = max(s.start_us + s.duration_us for s in trace.spans)
    return start, end - start


def _shown_service(span: Span) -> str:
    """The service a span is listed under: a waypoint's span under the service it served."""
    target = waypoint_target(span)
    return join_service(target.app, target.namespace) if target else span.process.service


def summarize(trace: Trace) -> TraceSummary:
    """A search-result row, without building the whole tree: roots are the spans whose parent
    is not in the trace; the root shown is the earliest one.
    """
    spans = trace.spans
    start, duration = trace_bounds(trace)
    tid = canonical_trace_id(trace.trace_id)
    ids = {s.span_id for s in spans}
    root = None
    for s in spans:
        if parent_ref(s, tid, ids) is None and (root is None or s.start_us < root.start_us):
            root = s
    names: set[str] = set()
    versions: set[str] = set()
    errors = 0
    for s in spans:
        if s.is_error:
            errors += 1
        target = waypoint_target(s)
        if target is not None:  # a waypoint's span: the service and version it served
            names.add(join_service(target.app, target.namespace))
            if target.version:
                versions.add(f"{target.app}:{target.version}")
            continue
        names.add(s.process.service)
        app = s.tag("istio.canonical_service")
        rev = s.tag("istio.canonical_revision")
        if app and rev:
            versions.add(f"{app}:{rev}")
    services = tuple(sorted(names))
    return TraceSummary(
        trace_id=trace.trace_id,
        start_us=start,
        duration_us=duration,
        span_count=len(spans),
        error_count=errors,
        services=services,
        root_service=_shown_service(root) if root else "",
        root_operation=root.operation if root else "",
        versions=tuple(sorted(versions)),
        warnings=len(trace.warnings),
    )
