"""The release review as a document to attach to a change ticket: Markdown, or one HTML file.

Pure: takes the review JSON (views/review.review_view, the body of /api/review/NS/SERVICE) and,
for HTML, the charts already rendered as HTML fragments plus the plotly.js source to inline.
The HTML file loads nothing from anywhere (no script src, no stylesheet link, no font): it must
open the same on a laptop on a plane, in a ticket system that strips network access, or years
later. Every text that came from outside (reasons, who, audit reasons) is escaped.

Both documents say the same things in the same order: the verdict and its reasons, the
recommended action, the figures and tests, the gates, the charts (HTML) or their numbers
(Markdown), the graph diff, where time goes by version, and the audit entries.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mesh.canary.verdict_text import LABELS
from mesh.releases.audit import iso_time
from presentation import numbers
from presentation.numbers import count, is_number, ms, p_value, rps
from presentation.palette import (
    BACKGROUND,
    BORDER,
    GATE_COLORS,
    HEALTH_COLORS,
    MUTED,
    RULE,
    TEXT,
    VERDICT_COLORS,
)

# The model's verdict words (mesh/canary/verdict_text.LABELS), by the verdict's JSON value.
VERDICT_LABELS: dict[str, str] = {str(verdict): label for verdict, label in LABELS.items()}
GATE_MARKS: dict[str, str] = {
    "pass": "✔ pass",
    "fail": "✘ fail",
    "no_data": "– no data",
    "inconclusive": "? inconclusive",
    "not_judged": "– not judged",
}
CHANGE_LABELS: dict[str, str] = {
    "appeared": "+ appeared",
    "disappeared": "− disappeared",
    "changed": "Δ changed",
}
METRIC_LABELS: dict[str, str] = {"rps": "requests/s", "error_rate": "5xx", "p95_ms": "p95"}


# --------------------------------------------------------------------------------------------
# Numbers, as the pages print them (presentation/numbers.py)


def pct(v: Any, digits: int = 2) -> str:
    """Shares and rates in the review: two decimals, so 99.95% is not rounded to 100.0%."""
    return numbers.percent(v, digits)


def metric_value(metric: str, v: Any) -> str:
    return {"rps": rps, "error_rate": pct, "p95_ms": ms}.get(metric, str)(v)


def metric_change(m: Mapping[str, Any]) -> str:
    """ "2.00 rps → 10.1 rps (+405%)"; one side only when the element appeared or disappeared."""
    metric = m["metric"]
    before, after = m.get("before"), m.get("after")
    if before is None and after is None:
        return "–"
    if before is None:
        return metric_value(metric, after)
    if after is None:
        return f"was {metric_value(metric, before)}"
    text = f"{metric_value(metric, before)} → {metric_value(metric, after)}"
    ratio = m.get("ratio")
    if metric == "error_rate" and is_number(m.get("delta")):
        text += f" ({m['delta'] * 100:+.2f} pts)"
    elif is_number(ratio):
        text += f" ({ratio * 100:+.0f}%)"
    return text


def diff_cell(m: Mapping[str, Any]) -> str:
    """A graph-diff cell: the move when it crossed its threshold, else just the value now."""
    if m.get("significant"):
        return metric_change(m)
    shown = m["after"] if m.get("after") is not None else m.get("before")
    return "–" if shown is None else metric_value(m["metric"], shown)


def verdict_label(verdict: str) -> str:
    return VERDICT_LABELS.get(verdict, verdict)


def title(review: Mapping[str, Any]) -> str:
    return (
        f"Release review: {review['namespace']}/{review['service']} "
        f"{review['canary']} vs {review['baseline']}"
    )


def figure_rows(analysis: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, baseline, canary) text rows of the side-by-side figures."""
    b, c = analysis["baseline"], analysis["canary"]
    return [
        ("Requests", count(b["requests"]), count(c["requests"])),
        ("Success rate", pct(b["success_rate"]), pct(c["success_rate"])),
        ("Server errors (5xx)", count(b["errors"]), count(c["errors"])),
        ("Client errors (4xx)", count(b["client_errors"]), count(c["client_errors"])),
        ("p50", ms(b["p50_ms"]), ms(c["p50_ms"])),
        ("p95", ms(b["p95_ms"]), ms(c["p95_ms"])),
        ("p99", ms(b["p99_ms"]), ms(c["p99_ms"])),
    ]


def test_lines(analysis: Mapping[str, Any]) -> list[str]:
    """The two comparisons in one line each, with the method named."""
    out = []
    e = analysis["tests"]["errors"]
    if e and e.get("difference") is not None:
        out.append(
            f"Errors, canary − baseline: {e['difference'] * 100:+.3f} pts "
            f"(95% CI {e['ci_low'] * 100:+.3f} to {e['ci_high'] * 100:+.3f}), "
            f"{p_value(e['p_value'])} — {e['method']}"
        )
    lat = analysis["tests"]["latency"]
    if lat:
        out.append(
            f"Latency: P(canary request slower) = {lat['prob_slower']:.3f} "
            f"(upper bound {lat['prob_slower_upper']:.3f}), {p_value(lat['p_value'])} — {lat['method']}"
        )
    return out


def trim_buckets(
    order: Sequence[str], *shares: Mapping[str, float], floor: float = 0.0005
) -> list[str]:
    """The bucket bounds from the first to the last that holds at least `floor` of some
    version's requests: a lognormal tail leaves 0.001% in ten more buckets otherwise."""
    used = [i for i, le in enumerate(order) if any(s.get(le, 0.0) >= floor for s in shares)]
    return list(order[used[0] : used[-1] + 1]) if used else []


def distribution_rows(analysis: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(bucket, baseline share, canary share) for every bucket either version used."""

    def shares(fig: Mapping[str, Any]) -> dict[str, float]:
        total = sum(b["count"] for b in fig["buckets"]) or 0.0
        return {b["le"]: (b["count"] / total if total else 0.0) for b in fig["buckets"]}

    b, c = shares(analysis["baseline"]), shares(analysis["canary"])
    order = [le for le in dict.fromkeys([*b, *c])]
    order.sort(key=lambda le: math.inf if le == "+Inf" else float(le))
    used = trim_buckets(order, b, c)
    return [
        (
            "> last bound" if le == "+Inf" else f"≤ {le} ms",
            pct(b.get(le, 0.0), 1),
            pct(c.get(le, 0.0), 1),
        )
        for le in used
    ]


def plain_reasons(analysis: Mapping[str, Any]) -> list[str]:
    """The verdict's reasons as sentences (views.canary `summary`); the gate lines otherwise."""
    return list(analysis.get("summary") or analysis["reasons"])


def window_text(review: Mapping[str, Any]) -> str:
    """Where the evidence comes from: the window, or the part since the last weight change."""
    w = (review.get("analysis") or {}).get("analysis_window") or {}
    return w.get("note") or f"the last {review['window']}"


def objects(entry: Mapping[str, Any]) -> str:
    """The objects one audited action wrote."""
    return ", ".join(f"{o.get('kind', '')} {o.get('name', '')}" for o in entry.get("objects") or [])


def audit_reason(entry: Mapping[str, Any]) -> str:
    """The reason given, and the verdict overridden when the action went against one."""
    reason = entry.get("reason", "")
    v = entry.get("verdict") or {}
    if entry.get("override") and v:
        word = verdict_label(v.get("verdict", ""))
        return f"{reason} (override of the {word} verdict on {v.get('canary', '')})".strip()
    return reason


AUDIT_COLUMNS = ("time", "who", "action", "change", "reason", "objects")


def audit_rows(audit: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The audit table's rows, the same in both report formats."""
    return [
        (e["time"], e["who"], e["action"], e.get("summary", ""), audit_reason(e), objects(e))
        for e in audit
    ]


def _split(weights: Mapping[str, int] | None) -> str:
    if not weights:
        return "unknown"
    return " / ".join(f"{v} {w}%" for v, w in weights.items() if w) or "no weights"


def _when(review: Mapping[str, Any]) -> str:
    return f"{review['time'].replace('T', ' ').replace('Z', ' UTC')}"


# --------------------------------------------------------------------------------------------
# Markdown


def _md(text: Any) -> str:
    """Text safe inside a Markdown table cell or line: pipes and newlines would break it, and
    Markdown renders raw HTML and [links](...) from a change reason unless they are escaped."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("[", "\\[").replace("]", "\\]")


def _md_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in head) + " |"]
    lines.append("|" + "|".join("---" for _ in head) + "|")
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def report_markdown(review: Mapping[str, Any]) -> str:
    a = review["analysis"]
    verdict = a["verdict"]
    out = [f"# {_md(title(review))}", ""]
    out.append(f"**Verdict: {verdict_label(verdict).upper()}** (`{verdict}`)")
    out.append("")
    out.append(_md(a.get("headline") or verdict_label(verdict)))
    out.append("")
    out += [f"- {_md(r)}" for r in plain_reasons(a)]
    out.append("")
    action = review.get("action") or {}
    out.append(f"Recommended action: **{_md(action.get('label', '–'))}**")
    out.append("")
    out.append(
        f"Window: {_md(window_text(review))} up to {_when(review)} · data: {a.get('source', '')}"
        f" · current split: {_md(_split(review.get('split')))}"
    )
    start = review.get("start")
    if start:
        out.append(f"Canary started: {_md(start['time'])} ({_md(start['description'])})")
    out.append("")

    out += ["## Figures", ""]
    out += _md_table(
        ["", f"baseline {review['baseline']}", f"canary {review['canary']}"], figure_rows(a)
    )
    out.append("")

    out += ["## Latency distribution (share of each version's requests)", ""]
    rows = distribution_rows(a)
    out += (
        _md_table(["bucket", review["baseline"], review["canary"]], rows)
        if rows
        else ["No latency data."]
    )
    out.append("")

    out += _markdown_series(review)
    out += _markdown_diff(review.get("diff"))
    out += _markdown_time(review)
    out += ["## Audit entries", ""]
    audit = review.get("audit") or []
    if audit:
        out += _md_table(AUDIT_COLUMNS, audit_rows(audit))
    else:
        out.append("No recorded change for this service.")
    out += ["", "## Appendix: statistics", ""]
    out += [f"- {_md(line)}" for line in test_lines(a)]
    out.append("")
    out += _md_table(
        ["gate", "status", "reason"],
        [(g["name"], GATE_MARKS.get(g["status"], g["status"]), g["reason"]) for g in a["gates"]],
    )
    out += ["", f"_Generated by meshdash at {_when(review)}._", ""]
    return "\n".join(out)


def series_segments(review: Mapping[str, Any]) -> list[list[str]]:
    """The time charts in numbers: each version's mean success rate and p99 between weight
    changes (from the chart's start to the first change, between changes, to the end)."""
    series = review.get("series") or {}
    if "error" in series or not series.get("versions"):
        return []
    lo, hi = float(series["start"]), float(series["end"])
    cuts = [float(m["when"]) for m in review.get("markers") or [] if lo < m["when"] < hi]
    edges = [lo, *cuts, hi]
    rows = []
    for t0, t1 in itertools.pairwise(edges):
        span = f"{iso_time(t0)[11:16]}–{iso_time(t1)[11:16]}"
        for v in series["versions"]:
            succ = _mean(series.get("success_rate", {}).get(v, ()), t0, t1)
            p99 = _mean(series.get("p99_ms", {}).get(v, ()), t0, t1)
            if succ is None and p99 is None:
                continue
            rows.append([span, v, pct(succ), ms(p99)])
    return rows


def _mean(points: Sequence[Sequence[float]], t0: float, t1: float) -> float | None:
    values = [v for t, v in points if t0 <= t < t1 and is_number(v)]
    return sum(values) / len(values) if values else None


def _markdown_series(review: Mapping[str, Any]) -> list[str]:
    out = ["## Success rate and p99 over time", ""]
    series = review.get("series") or {}
    if "error" in series:
        return [*out, f"Not available: {_md(series['error'])}", ""]
    markers = review.get("markers") or []
    out.append(
        f"Over the last {series.get('window', '?')} (step {series.get('step', '?')}; the HTML "
        "report draws the lines). Weight changes:"
    )
    out.append("")
    out += [f"- {_md(m['description'])}" for m in markers] or ["- none recorded"]
    out.append("")
    rows = series_segments(review)
    if rows:
        out += ["Mean per version between changes (UTC):", ""]
        out += _md_table(["time", "version", "success rate", "p99"], rows)
        out.append("")
    return out


def _markdown_diff(diff: Mapping[str, Any] | None) -> list[str]:
    out = ["## Graph diff (before the canary → now)", ""]
    if not diff:
        return [*out, "Not available.", ""]
    if "error" in diff:
        return [*out, f"Not available: {_md(diff['error'])}", ""]
    if "note" in diff:
        return [*out, _md(diff["note"]), ""]
    out.append(
        f"Before: {_span(diff['before'])} · now: {_span(diff['after'])} · "
        f"{diff['unchanged']['nodes']} nodes and {diff['unchanged']['edges']} edges unchanged."
    )
    out += [f"- {_md(n)}" for n in diff.get("notes", [])]
    out.append("")
    if not diff["elements"]:
        return [*out, "Nothing appeared, disappeared or changed beyond the thresholds.", ""]
    out += _md_table(["change", "element", "requests/s", "5xx", "p95"], _diff_rows(diff))
    out.append("")
    return out


def _diff_rows(diff: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for e in diff["elements"]:
        by = {m["metric"]: m for m in e["metrics"]}
        cells = [
            (f"**{diff_cell(by[k])}**" if by[k]["significant"] else diff_cell(by[k]))
            if k in by
            else "–"
            for k in ("rps", "error_rate", "p95_ms")
        ]
        rows.append((CHANGE_LABELS.get(e["change"], e["change"]), e["label"], *cells))
    return rows


def _span(window: Mapping[str, Any]) -> str:
    return f"{iso_time(window['start'])[11:19]}–{iso_time(window['end'])[11:19]} UTC"


def time_findings(tbv: Mapping[str, Any]) -> list[str]:
    """What the traces support saying about self time by version, in sentences: a difference
    only where the test supports it, "not enough traces" when the sample is too small."""
    versions = tbv.get("versions") or []
    if len(versions) != 2:
        return []
    base, canary = versions[0], versions[1]
    out = [
        f"Sample: {tbv.get('sampling', 'kept traces')}; {base['version']} {base['traces']}"
        f" traces, {canary['version']} {canary['traces']}."
    ]
    need = tbv.get("min_traces", 0)
    if min(base["traces"], canary["traces"]) < need:
        out.append(
            f"Not enough traces to compare: at least {need} per version are needed, so no "
            "difference is claimed."
        )
        return out
    found = [c for c in tbv.get("comparison") or [] if c["finding"] in ("slower", "faster")]
    for c in found:
        out.append(
            f"{c['service']}: {canary['version']} {c['finding']} (median {ms(c['canary_ms'])} "
            f"against {ms(c['baseline_ms'])}, {p_value(c['p_value'])})."
        )
    out.append(
        "No other difference the traces can support."
        if found
        else "No difference between the versions that the traces can support."
    )
    return out


def _time_rows(tbv: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    versions = tbv["versions"]
    head = ["service", *[f"{v['version']} median ({v['traces']} traces)" for v in versions]]
    rows = [
        [name, *[ms((v.get("median_ms") or v["self_ms"]).get(name)) for v in versions]]
        for name in tbv["services"]
    ]
    rows.append(
        ["whole request (mean)", *[ms(v["duration_ms"]) if v["traces"] else "–" for v in versions]]
    )
    return head, rows


def _markdown_time(review: Mapping[str, Any]) -> list[str]:
    out = ["## Where time goes by version (median self time per request, from traces)", ""]
    tbv = review.get("time_by_version") or {}
    if "error" in tbv:
        return [*out, f"Not available: {_md(tbv['error'])}", ""]
    if not tbv.get("versions") or not any(v["traces"] for v in tbv["versions"]):
        return [*out, "No traces of either version in the window.", ""]
    head, rows = _time_rows(tbv)
    return [*out, *_md_table(head, rows), "", *[f"- {_md(t)}" for t in time_findings(tbv)], ""]


# --------------------------------------------------------------------------------------------
# HTML

# The page's frame and gate colours (presentation/palette.py), in one stylesheet inlined.
_CSS = f"""
body{{font-family:Inter,"Segoe UI",Helvetica,Arial,sans-serif;color:{TEXT};margin:0;background:{BACKGROUND};font-size:14px}}
main{{max-width:1180px;margin:0 auto;padding:20px}}
h1{{font-size:22px;margin:0 0 12px}}h2{{font-size:16px;margin:26px 0 8px}}
section{{background:#fff;border:1px solid {BORDER};border-radius:8px;padding:12px 16px;margin:12px 0}}
.verdict{{border-left:10px solid var(--v);display:flex;flex-direction:column;gap:6px}}
.verdict-word{{font-size:28px;font-weight:800;color:var(--v);letter-spacing:.5px}}
.headline{{font-size:16px;font-weight:600}}
.muted{{color:{MUTED}}}.small{{font-size:12px}}
table{{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}}
th,td{{text-align:left;padding:5px 8px;border-bottom:1px solid {RULE};vertical-align:top}}
th{{color:{MUTED};font-weight:600;font-size:12px}}
.num{{text-align:right}}.sig{{font-weight:700}}.worse{{color:{HEALTH_COLORS["failure"]}}}
.pass{{color:{GATE_COLORS["pass"]}}}.fail{{color:{GATE_COLORS["fail"]}}}.no_data,.not_judged{{color:{GATE_COLORS["not_judged"]}}}.inconclusive{{color:{GATE_COLORS["inconclusive"]}}}
ul{{margin:6px 0;padding-left:20px}}
.chart{{margin:8px 0}}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], *, raw: bool = False) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def report_html(
    review: Mapping[str, Any], charts: Sequence[tuple[str, str]] = (), plotly_js: str = ""
) -> str:
    """One self-contained HTML document; `charts` are (heading, HTML fragment) pairs."""
    a = review["analysis"]
    verdict = a["verdict"]
    color = VERDICT_COLORS.get(verdict, HEALTH_COLORS["idle"])
    action = review.get("action") or {}
    parts = [f"<h1>{_e(title(review))}</h1>"]
    reasons = "".join(f"<li>{_e(r)}</li>" for r in plain_reasons(a))
    start = review.get("start")
    start_line = (
        f"<div class='small muted'>Canary started {_e(start['time'])}: {_e(start['description'])}</div>"
        if start
        else ""
    )
    parts.append(
        f"<section class='verdict' id='verdict' data-verdict='{_e(verdict)}' style='--v:{color}'>"
        f"<div class='verdict-word'>{_e(verdict_label(verdict).upper())}</div>"
        f"<div class='headline'>{_e(a.get('headline') or verdict_label(verdict))}</div>"
        f"<ul>{reasons}</ul>"
        f"<div>Recommended action: <b>{_e(action.get('label', '–'))}</b></div>"
        f"<div class='small muted'>Evidence: {_e(window_text(review))} up to {_e(_when(review))} · "
        f"data: {_e(a.get('source', ''))} · current split: {_e(_split(review.get('split')))}</div>"
        f"{start_line}</section>"
    )
    rows = [[m, b, c] for m, b, c in figure_rows(a)]
    tests = "".join(f"<li>{_e(t)}</li>" for t in test_lines(a))
    gates = _html_table(
        ["gate", "status", "reason"],
        [
            [
                _e(g["name"]),
                f"<span class='{_e(g['status'])}'>{_e(GATE_MARKS.get(g['status'], g['status']))}</span>",
                _e(g["reason"]),
            ]
            for g in a["gates"]
        ],
        raw=True,
    )
    parts.append(
        "<section><h2>Figures</h2>"
        + _html_table(["", f"baseline {review['baseline']}", f"canary {review['canary']}"], rows)
        + "</section>"
    )
    for heading, fragment in charts:
        parts.append(
            f"<section><h2>{_e(heading)}</h2><div class='chart'>{fragment}</div></section>"
        )
    markers = review.get("markers") or []
    if markers:
        items = "".join(f"<li>{_e(m['description'])}</li>" for m in markers)
        parts.append(f"<section><h2>Weight changes</h2><ul>{items}</ul></section>")
    parts.append(_html_diff(review.get("diff")))
    parts.append(_html_time(review))
    audit = review.get("audit") or []
    audit_html = (
        _html_table(AUDIT_COLUMNS, audit_rows(audit))
        if audit
        else "<p class='muted'>No recorded change for this service.</p>"
    )
    parts.append(f"<section><h2>Audit entries</h2>{audit_html}</section>")
    parts.append(
        "<section id='appendix'><h2>Appendix: statistics</h2>"
        f"<ul class='small'>{tests}</ul><h3>Gates</h3>{gates}</section>"
    )
    parts.append(f"<p class='small muted'>Generated by meshdash at {_e(_when(review))}.</p>")
    script = f"<script type='text/javascript'>{plotly_js}</script>" if plotly_js else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title(review))}</title><style>{_CSS}</style>{script}</head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )


def _html_diff(diff: Mapping[str, Any] | None) -> str:
    head = "<section><h2>Graph diff (before the canary → now)</h2>"
    if not diff:
        return head + "<p class='muted'>Not available.</p></section>"
    if "error" in diff:
        return head + f"<p class='muted'>Not available: {_e(diff['error'])}</p></section>"
    if "note" in diff:
        return head + f"<p class='muted'>{_e(diff['note'])}</p></section>"
    info = (
        f"<p class='small muted'>Before: {_e(_span(diff['before']))} · now: {_e(_span(diff['after']))}"
        f" · {diff['unchanged']['nodes']} nodes and {diff['unchanged']['edges']} edges unchanged.</p>"
    )
    info += "".join(f"<p class='small muted'>{_e(n)}</p>" for n in diff.get("notes", []))
    if not diff["elements"]:
        return (
            head
            + info
            + "<p>Nothing appeared, disappeared or changed beyond the thresholds.</p></section>"
        )
    rows = []
    for e in diff["elements"]:
        by = {m["metric"]: m for m in e["metrics"]}
        cells = []
        for k in ("rps", "error_rate", "p95_ms"):
            m = by.get(k)
            if m is None:
                cells.append("–")
                continue
            cls = ("sig " if m["significant"] else "") + (
                "worse" if m["significant"] and m["worse"] else ""
            )
            cells.append(f"<span class='{cls.strip()}'>{_e(diff_cell(m))}</span>")
        rows.append([_e(CHANGE_LABELS.get(e["change"], e["change"])), _e(e["label"]), *cells])
    return (
        head
        + info
        + _html_table(["change", "element", "requests/s", "5xx", "p95"], rows, raw=True)
        + "</section>"
    )


def _html_time(review: Mapping[str, Any]) -> str:
    head = (
        "<section><h2>Where time goes by version (median self time per request, from traces)</h2>"
    )
    tbv = review.get("time_by_version") or {}
    if "error" in tbv:
        return head + f"<p class='muted'>Not available: {_e(tbv['error'])}</p></section>"
    if not tbv.get("versions") or not any(v["traces"] for v in tbv["versions"]):
        return head + "<p class='muted'>No traces of either version in the window.</p></section>"
    names, rows = _time_rows(tbv)
    notes = "".join(f"<li>{_e(t)}</li>" for t in time_findings(tbv))
    return head + _html_table(names, rows) + f"<ul class='small'>{notes}</ul></section>"
