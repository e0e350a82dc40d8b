"""Helpers of the client unit tests (a unique module name: `conftest` is ambiguous)."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from session_manager.testing import free_port

TOKEN = "processor-token"


class ServedApp:
    """An ASGI app under uvicorn on 127.0.0.1:<free port>, in a thread, lifespan included."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "app did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)
