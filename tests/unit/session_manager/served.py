"""Serve a manager app with uvicorn on loopback, in a thread of the test process, so clients
speak real HTTP to it (the container engine behind it may still be the FakeBackend)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from session_manager.testing import free_port

__all__ = ["served"]


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app's base URL while it serves (lifespan included)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
