"""The canary analysis as JSON-ready data: the body of /api/canary's analysis."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from mesh.canary.records import VersionFigures
from mesh.canary.verdict import CanaryAnalysis


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _figures_json(f: VersionFigures) -> dict[str, Any]:
    return {
        "version": f.version,
        "requests": f.requests,
        "errors": f.errors,
        "client_errors": f.client_errors,
        "success_rate": f.success_rate,
        "error_rate": f.error_rate,
        "p50_ms": _finite(f.p50_ms),
        "p95_ms": _finite(f.p95_ms),
        "p99_ms": _finite(f.p99_ms),
        "latency_count": f.latency_count,
        # le as a string ("+Inf" for the last) keeps the JSON valid and matches Prometheus.
        "buckets": [{"le": _le(le), "count": c} for le, c in f.buckets],
    }


def _le(le: float) -> str:
    return "+Inf" if math.isinf(le) else f"{le:g}"


def analysis_json(analysis: CanaryAnalysis) -> dict[str, Any]:
    """The analysis as JSON-ready data (no NaN or Inf)."""
    errors = asdict(analysis.errors)
    latency = None if analysis.latency is None else asdict(analysis.latency)
    return {
        "verdict": analysis.verdict.value,
        "reasons": list(analysis.reasons),
        "withheld": analysis.withheld or None,
        "baseline": _figures_json(analysis.baseline),
        "canary": _figures_json(analysis.canary),
        "tests": {"errors": errors, "latency": latency},
        "gates": [
            {
                "name": g.name,
                "kind": g.kind.value,
                "status": g.status.value,
                "observed": _finite(g.observed),
                "threshold": _finite(g.threshold),
                "reason": g.reason,
            }
            for g in analysis.gates
        ],
        "config": asdict(analysis.config),
    }
