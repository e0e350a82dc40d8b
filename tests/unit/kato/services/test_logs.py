"""JSON log lines: one object per line with the request fields; access lines by status."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from kato.services.logs import LOGGER_NAME, json_formatter
from kato.services.middleware import access_log_level


def test_formatter_writes_one_json_object() -> None:
    record = logging.LogRecord(LOGGER_NAME, logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update(request_id="kato-1", method="GET", path="/x", status=404)
    record.__dict__.update(duration_ms=0.5, unrelated="ignored")
    line = json_formatter("p-1").format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["ts"].endswith("Z")
    assert {k: entry[k] for k in entry if k != "ts"} == {
        "level": "INFO",
        "msg": "request",
        "logger": LOGGER_NAME,
        "processor_id": "p-1",
        "request_id": "kato-1",
        "method": "GET",
        "path": "/x",
        "status": 404,
        "duration_ms": 0.5,
    }


def test_access_levels() -> None:
    assert access_log_level(200) == logging.DEBUG
    assert access_log_level(422) == logging.INFO
    assert access_log_level(503) == logging.WARNING


def test_failed_request_is_logged_with_its_trace_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        client.get("/missing", headers={"X-Trace-ID": "trace-42"})
        client.get("/health", headers={"X-Trace-ID": "trace-43"})
    traced = {r.__dict__.get("request_id"): r for r in caplog.records}
    assert "trace-43" not in traced  # successes are DEBUG
    entry = json.loads(json_formatter("unit").format(traced["trace-42"]))
    assert (entry["path"], entry["status"], entry["level"]) == ("/missing", 404, "INFO")
    assert entry["method"] == "GET" and entry["duration_ms"] >= 0
