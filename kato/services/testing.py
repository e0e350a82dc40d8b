"""Run the real service in a subprocess (uvicorn, loopback, free port) for tests and benchmarks.

The launcher itself (start, readiness wait, stop, kill) is ``kato.web.launcher.ServerProcess``;
this names the command.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from kato.web.launcher import ServerProcess, free_port

__all__ = ["ServiceProcess"]


class ServiceProcess(ServerProcess):
    """``uvicorn kato.services.kato_fastapi:app`` on ``127.0.0.1:<free port>``, with exactly
    the given environment on top of ours."""

    name = "service"

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        port = port or free_port()
        command = [
            sys.executable, "-m", "uvicorn", "kato.services.kato_fastapi:app",
            "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        super().__init__(command, env, log_path, port)
