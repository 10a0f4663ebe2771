"""JSON log lines: the fields operators query on, extras kept, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ops.logging_setup import MASK, JsonFormatter, configure_logging, redact_text


def emit(logger: str, msg: str, *args, exc: bool = False, **extra) -> dict:
    record = logging.getLogger(logger).makeRecord(
        logger, logging.WARNING, __file__, 1, msg, args, None, extra=extra or None
    )
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            import sys

            record.exc_info = sys.exc_info()
    return json.loads(JsonFormatter().format(record))


def test_one_object_with_time_level_logger_message_and_extras():
    line = emit("meshdash.cache", "store %s failing", "redis", backend="prometheus", seconds=0.25)
    assert line["level"] == "WARNING"
    assert line["logger"] == "meshdash.cache"
    assert line["message"] == "store redis failing"
    assert (line["backend"], line["seconds"]) == ("prometheus", 0.25)
    assert line["time"].endswith("+00:00") and "T" in line["time"]


def test_tracebacks_stay_in_the_log_as_one_field():
    line = emit("meshdash.api", "unexpected", exc=True)
    assert "ValueError: boom" in line["exc"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("querying https://admin:s3cr3t@prom.example:9090/api", "s3cr3t"),
        ("header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "eyJhbGciOiJIUzI1NiJ9"),
        ("Basic YWRtaW46czNjcjN0 sent", "YWRtaW46czNjcjN0"),
        ("retrying with token=abc123def&x=1", "abc123def"),
        ('config {"password": "hunter2"}', "hunter2"),
        ("redis://:redispass@cache:6379/0", "redispass"),
    ],
)
def test_secrets_in_messages_are_masked(text, secret):
    assert secret not in redact_text(text)
    assert MASK in redact_text(text)
    assert secret not in emit("meshdash", "%s", text)["message"]


def test_secret_fields_are_masked_whatever_their_value():
    line = emit(
        "meshdash",
        "auth",
        bearer_token="t0k3n",
        headers={"Authorization": "x", "X-Scope-OrgID": "team-a"},
    )
    assert line["bearer_token"] == MASK
    assert line["headers"] == {"Authorization": MASK, "X-Scope-OrgID": "team-a"}


def test_ordinary_text_is_untouched():
    text = "GET /api/graph?namespace=bookinfo&window=5m 200 in 0.05s"
    assert redact_text(text) == text


def test_gunicorn_access_lines_carry_structured_fields():
    atoms = {"h": "10.0.0.1", "m": "GET", "U": "/api/graph", "q": "namespace=shop", "s": "200",
             "B": 512, "D": 51234, "a": "curl/8", "r": "GET /api/graph HTTP/1.1"}  # fmt: skip
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, "", 0, '%(h)s "%(r)s" %(s)s', (atoms,), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == '10.0.0.1 "GET /api/graph HTTP/1.1" 200'
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/graph", 200)
    assert line["duration_s"] == pytest.approx(0.051234)


def test_configure_logging_routes_every_logger_to_json():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("DEBUG", stream=stream)
        configure_logging("INFO", stream=stream)  # twice: still one handler
        logging.getLogger("meshdash.test").info("hello %s", "world", extra={"n": 1})
        logging.getLogger("meshdash.test").debug("dropped at INFO")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [(x["message"], x["n"]) for x in lines] == [("hello world", 1)]
