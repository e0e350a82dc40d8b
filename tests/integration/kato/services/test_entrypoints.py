"""The two ways to start the service: ``python -m kato.services`` and uvicorn on the module app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from kato.web.launcher import ServerProcess, free_port


def test_python_m_serves_on_port(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "PROCESSOR_ID": "main-entry",
        "KATO_DATA_DIR": str(tmp_path),
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "kato.services"]
    with ServerProcess(command, env, tmp_path / "service.log", port) as service:
        health = httpx.get(f"{service.url}/health").json()
        assert health is not None and health["processor_id"] == "main-entry"
        assert (tmp_path / "main-entry.sqlite3").exists()


def test_missing_processor_id_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PROCESSOR_ID"}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "kato.services.kato_fastapi:app",
            "--port",
            str(free_port()),
        ],  # fmt: skip
        env={**env, "KATO_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode != 0
    assert "PROCESSOR_ID is required" in finished.stderr
