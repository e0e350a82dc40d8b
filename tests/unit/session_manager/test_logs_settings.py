"""JSON log lines carry request and session ids; settings come from the documented env names."""

from __future__ import annotations

import json
import logging

import pytest

from session_manager.logs import json_formatter, request_id_var, session_id_var
from session_manager.settings import ManagerSettings


def test_log_line_is_one_json_object_with_ids() -> None:
    request_id_var.set("req-7")
    session_id_var.set("sess-3")
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "msg": "hello %s", "args": ("you",), "status": 200}
    )
    line = json_formatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "hello you"
    assert (data["request_id"], data["session_id"], data["status"]) == ("req-7", "sess-3", 200)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KATO_IDLE_TIMEOUT", "5")
    monkeypatch.setenv("KATO_MAX_SESSIONS", "3")
    monkeypatch.setenv("KATO_API_KEY", "k")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    settings = ManagerSettings()
    assert (settings.idle_timeout, settings.max_sessions, settings.api_key) == (5, 3, "k")
    assert settings.log_level == "DEBUG"
    assert settings.max_body_bytes == 4 * 2**20
    assert settings.registry_path.name == "sessions.sqlite3"
