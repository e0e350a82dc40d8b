"""Run the real session manager (`python -m session_manager`) in a subprocess on loopback,
so integration tests and benchmarks can `kill -9` it and start it again on the same state
directory. Every container it makes carries `labels` (KATO_EXTRA_LABELS) for clean-up."""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self

import httpx

from kato.web.launcher import ServerProcess, free_port

__all__ = ["ManagerProcess", "WebhookReceiver"]


class ManagerProcess(ServerProcess):
    """`python -m session_manager` on `127.0.0.1:<free port>` with its state in `state_dir`
    (the launcher itself is `kato.web.launcher.ServerProcess`)."""

    name = "manager"
    stop_seconds = 20.0

    def __init__(self, state_dir: Path, labels: dict[str, str], **env: str) -> None:
        port = free_port()
        settings = {
            "KATO_HOST": "127.0.0.1",
            "KATO_PORT": str(port),
            "KATO_STATE_DIR": str(state_dir),
            "KATO_EXTRA_LABELS": json.dumps(labels),
            "KATO_CONTAINER_PREFIX": "kato-smit",
            "KATO_READY_TIMEOUT": "60",
            # No warm pool unless a test asks: pooled containers are not sessions, and tests
            # that count what a manager made would see them.
            "KATO_POOL_SIZE": "0",
            **env,
        }
        command = [sys.executable, "-m", "session_manager"]
        super().__init__(command, settings, state_dir / "manager.log", port)
        self.state_dir = state_dir

    def start(self, timeout: float = 30.0) -> Self:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return super().start(timeout)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    received: float  # time.time() when it arrived


class WebhookReceiver:
    """A real HTTP server on loopback that records every POST and answers `status` (set it
    to 503 to play a failing receiver). `stop()` then `start()` again on the same port plays
    a receiver that is down for a while."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.status = 200
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.status
                if status < 300:
                    with receiver._changed:
                        delivery = Delivery(dict(self.headers.items()), body, time.time())
                        receiver.deliveries.append(delivery)
                        receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Delivery]:
        """The first `count` accepted deliveries (waits for them; AssertionError on timeout)."""
        with self._changed:
            reached = self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert reached, f"{len(self.deliveries)} of {count} webhook deliveries arrived"
            return list(self.deliveries[:count])
