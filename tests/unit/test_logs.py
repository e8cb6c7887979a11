"""JSON log lines: the fields every line has, and the request's id and path within a request."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from flask import Flask, g

from moderation.web.logs import JsonFormatter

pytestmark = pytest.mark.unit


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord(
        "moderation.test", logging.WARNING, __file__, 1, message, args, exc_info
    )


def test_a_line_is_one_json_object_with_the_fields_in_order() -> None:
    line = JsonFormatter().format(_record("comment %s stored: %s", 7, "é"))
    assert "\n" not in line
    assert "é" in line  # not escaped
    entry = json.loads(line)
    assert list(entry) == ["time", "level", "logger", "message"]
    assert entry["level"] == "warning"
    assert entry["logger"] == "moderation.test"
    assert entry["message"] == "comment 7 stored: é"
    assert len(entry["time"]) == len("2026-01-01T00:00:00+0000")


def test_within_a_request_a_line_carries_its_id_and_path_and_a_traceback() -> None:
    app = Flask(__name__)
    with app.test_request_context("/comments/5"):
        g.request_id = "abc-123"
        entry = json.loads(JsonFormatter().format(_record("failed", exc=True)))
    assert (entry["request_id"], entry["path"]) == ("abc-123", "/comments/5")
    assert "ValueError: boom" in entry["exception"]
    assert "exc_info" not in entry
