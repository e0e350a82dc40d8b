"""The shared JSON log line: one shape for both services, only the message's key is theirs."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar

import pytest

from kato.web.logs import JsonFormatter, configure_json_logging

_REQUEST: ContextVar[str | None] = ContextVar("test_request", default=None)


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "unit", "levelname": "INFO", "levelno": logging.INFO, "msg": "hi %s"}
    )
    record.args = ("there",)
    record.__dict__.update(extra)
    return record


def test_the_line_has_one_timestamp_format_and_leaves_out_none() -> None:
    formatter = JsonFormatter(message_key="message", context={"request_id": _REQUEST})
    entry = json.loads(formatter.format(_record(status=200, detail=None)))
    # `...T12:34:56.789Z` whichever service writes it (the manager used to write `+00:00`).
    assert entry["ts"][-1] == "Z" and entry["ts"][-5] == "." and entry["ts"][10] == "T"
    assert {k: v for k, v in entry.items() if k != "ts"} == {
        "level": "INFO",
        "logger": "unit",
        "message": "hi there",
        "status": 200,
    }  # no request id outside a request, no `detail: null`


def test_context_fields_are_read_when_the_line_is_written() -> None:
    formatter = JsonFormatter(message_key="msg", context={"request_id": _REQUEST})
    token = _REQUEST.set("req-1")
    try:
        entry = json.loads(formatter.format(_record()))
    finally:
        _REQUEST.reset(token)
    assert (entry["msg"], entry["request_id"]) == ("hi there", "req-1")


def test_fixed_fields_and_a_field_list_that_ignores_the_rest() -> None:
    formatter = JsonFormatter(message_key="msg", fixed={"processor_id": "p"}, fields=("path",))
    entry = json.loads(formatter.format(_record(path="/x", unrelated=1)))
    assert entry["processor_id"] == "p" and entry["path"] == "/x" and "unrelated" not in entry


def test_without_a_field_list_every_extra_is_logged_and_nothing_standard() -> None:
    entry = json.loads(JsonFormatter(message_key="message").format(_record(anything=[1, 2])))
    assert entry["anything"] == [1, 2]
    assert not {"args", "msg", "levelno", "pathname", "created", "color_message"} & set(entry)


def test_a_traceback_goes_into_exc() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(exc_info=sys.exc_info())
    entry = json.loads(JsonFormatter(message_key="message").format(record))
    assert "ValueError: boom" in entry["exc"]


def test_each_configured_logger_writes_each_line_once(capsys: pytest.CaptureFixture[str]) -> None:
    names = ("kato.web.test.a", "kato.web.test.a.child")
    configure_json_logging("info", JsonFormatter(message_key="message"), names)
    logging.getLogger(names[1]).info("once")
    logging.getLogger(names[0]).debug("below the level")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["once"]
    assert all(not logging.getLogger(name).propagate for name in names)


def test_timestamps_stay_exact_across_seconds() -> None:
    formatter = JsonFormatter(message_key="message")

    def stamp(created: float) -> str:
        record = _record()
        record.created, record.msecs = created, (created % 1) * 1000
        return str(json.loads(formatter.format(record))["ts"])

    assert stamp(0.5) == "1970-01-01T00:00:00.500Z"
    assert stamp(0.75) == "1970-01-01T00:00:00.750Z"
    assert stamp(86400.25) == "1970-01-02T00:00:00.250Z"
    assert stamp(0.125) == "1970-01-01T00:00:00.125Z"  # an older line written late
