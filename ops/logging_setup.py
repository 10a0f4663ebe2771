"""Structured JSON logs, one object per line, for `python app.py`, wsgi.py and gunicorn.

Fields: time (RFC 3339, UTC, ms), level, logger, message, then every `extra=` field, then `exc`
for a traceback (logs are for operators; users never see a traceback). Secrets are masked on the
way out: any field whose name says token/password/secret/authorization/cookie/key, URL user info
(`https://user:pass@host`), and `Bearer ...` / `Basic ...` credentials inside messages.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

MASK = "[redacted]"
_SECRET_NAME = re.compile(
    r"token|passw|secret|authorization|cookie|api[_-]?key|private[_-]?key|credential", re.I
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@", re.I)
_AUTH_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.I)
_KEY_VALUE = re.compile(
    r"(?P<name>[\w-]*(?:token|password|passwd|secret|api[_-]?key)[\w-]*[\"']?)(?P<sep>\s*[=:]\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&,;]+)",
    re.I,
)

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
HANDLER_NAME = "meshdash-json"


def redact_text(text: str) -> str:
    """Mask credentials that may sit inside free text (URLs, headers, key=value pairs)."""
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m['scheme']} {MASK}", text)
    return _KEY_VALUE.sub(lambda m: f"{m['name']}{m['sep']}{MASK}", text)


def redact(name: str, value: Any) -> Any:
    """One field's value as it may be logged."""
    if _SECRET_NAME.search(name):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {str(k): redact(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(name, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _gunicorn_access(record: logging.LogRecord) -> dict[str, Any]:
    """gunicorn passes its access-log atoms as a dict: keep the useful ones as fields."""
    atoms = record.args if isinstance(record.args, dict) else {}
    fields = {
        "remote": atoms.get("h"),
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q"),
        "status": atoms.get("s"),
        "bytes": atoms.get("B"),
        "duration_s": None,
        "user_agent": atoms.get("a"),
    }
    micros = atoms.get("D")
    if isinstance(micros, int) or (isinstance(micros, str) and micros.isdigit()):
        fields["duration_s"] = int(micros) / 1e6
    status = fields["status"]
    if isinstance(status, str) and status.isdigit():
        fields["status"] = int(status)
    return {k: v for k, v in fields.items() if v not in (None, "-", "")}


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        if record.name == "gunicorn.access":
            body.update(redact("access", _gunicorn_access(record)))
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_") and name not in body:
                body[name] = redact(name, value)
        if record.exc_info:
            body["exc"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            body["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(body, default=str, ensure_ascii=False)


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Send every logger's records to stderr (or stream) as JSON; safe to call more than once.

    Logging is process-wide by nature, so only entry points (app.main, wsgi.py) call this,
    never create_app.
    """
    root = logging.getLogger()
    if stream is not None or not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        # Replace plain handlers (basicConfig's); under gunicorn its logconfig already has ours.
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(json_handler(stream))
    root.setLevel(level.upper())
    # Werkzeug's own request lines duplicate our access metrics; keep its warnings only.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


# For gunicorn.conf.py: gunicorn's own loggers through the same formatter.
GUNICORN_LOGCONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ops.logging_setup.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}
