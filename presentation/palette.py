"""The colours of meshdash: the frame, the health states, the verdicts and gates, the versions
and the response classes. Pages, charts and the HTML report take them from here; the page
stylesheet (assets/meshdash.css) holds the same frame and health colours as CSS variables, and
a test keeps the two equal.
"""

from __future__ import annotations

BACKGROUND = "#f5f7fa"
PANEL = "#ffffff"
BORDER = "#d9dee4"
TEXT = "#1f2933"
MUTED = "#616e7c"
RULE = "#eef1f4"  # the hairline between table rows
ACCENT = "#1e66f5"  # links, and "continue": nothing is wrong, the run simply goes on

HEALTH_COLORS: dict[str, str] = {
    "healthy": "#2e7d32",
    "degraded": "#e09b00",
    "failure": "#c62828",
    "idle": "#8a939c",
}
HEALTH_LABELS: dict[str, str] = {
    "healthy": "Healthy",
    "degraded": "Degraded",
    "failure": "Failure",
    "idle": "Idle",
}

# The CSS variables of assets/meshdash.css, by name.
CSS_VARIABLES: dict[str, str] = {
    "--md-bg": BACKGROUND,
    "--md-panel": PANEL,
    "--md-border": BORDER,
    "--md-text": TEXT,
    "--md-muted": MUTED,
    "--md-accent": ACCENT,
    **{f"--md-{state}": color for state, color in HEALTH_COLORS.items()},
}

# A verdict takes the health colour of what it asks for: green, amber, red, grey.
VERDICT_COLORS: dict[str, str] = {
    "promote": HEALTH_COLORS["healthy"],
    "continue": ACCENT,
    "hold": HEALTH_COLORS["degraded"],
    "rollback": HEALTH_COLORS["failure"],
    "insufficient_traffic": HEALTH_COLORS["idle"],
    "nothing_to_judge": HEALTH_COLORS["idle"],
}
GATE_COLORS: dict[str, str] = {
    "pass": HEALTH_COLORS["healthy"],
    "fail": HEALTH_COLORS["failure"],
    "no_data": HEALTH_COLORS["idle"],
    "not_judged": HEALTH_COLORS["idle"],
    "inconclusive": ACCENT,
}

# Versions never take the health colours (green/red/amber/grey), so a red line is never read as
# "failing" just because it is v3. Order matters: the n-th version of a page takes the n-th.
VERSION_PALETTE: tuple[str, ...] = (
    "#1e66f5",  # blue
    "#e66100",  # orange
    "#7b3fb3",  # purple
    "#0f9d9a",  # teal
    "#b5651d",  # brown
    "#d6409f",  # pink
    "#3f51b5",  # indigo
    "#6d8b00",  # olive
)

CODE_COLORS: dict[str, str] = {
    "1xx": "#90a4ae",
    "2xx": HEALTH_COLORS["healthy"],
    "grpc:OK": HEALTH_COLORS["healthy"],
    "3xx": "#1e88e5",
    "4xx": HEALTH_COLORS["degraded"],
    "5xx": HEALTH_COLORS["failure"],
    "no response": "#6d1b1b",
}
GRPC_ERROR_COLORS: tuple[str, ...] = ("#c62828", "#ad1457", "#8e2424", "#e53935", "#880e4f")
