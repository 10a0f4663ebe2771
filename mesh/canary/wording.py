"""How the gate reasons and the verdict's sentences write numbers.

These strings are part of the /api/canary answer (the gates' `reason`, the verdict's `summary`
and `headline`), so they are written here in the model, not with the pages' formatters.
"""

from __future__ import annotations


def count(n: float) -> str:
    return f"{round(n):d}"


def pct(rate: float | None, decimals: int = 1) -> str:
    return "n/a" if rate is None else f"{rate * 100:.{decimals}f}%"


def pct_pair(a: float, b: float) -> tuple[str, str]:
    """Both as percentages with enough decimals that different values never print the same."""
    for decimals in range(1, 5):
        sa, sb = pct(a, decimals), pct(b, decimals)
        if sa != sb or a == b:
            return sa, sb
    return pct(a, 5), pct(b, 5)


def pts(fraction: float) -> str:
    return f"{fraction * 100:+.2f}"


def ms(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def p_value_text(p: float) -> str:
    return "p<0.0001" if p < 1e-4 else f"p={p:.4f}"
