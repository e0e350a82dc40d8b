"""Run the real session manager (`python -m session_manager`) in a subprocess on loopback,
so integration tests and benchmarks can `kill -9` it and start it again on the same state
directory. Every container it makes carries `labels` (KATO_EXTRA_LABELS) for clean-up."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

__all__ = ["ManagerProcess", "WebhookReceiver", "free_port"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ManagerProcess:
    def __init__(self, state_dir: Path, labels: dict[str, str], **env: str) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "KATO_HOST": "127.0.0.1",
            "KATO_PORT": str(self.port),
            "KATO_STATE_DIR": str(state_dir),
            "KATO_EXTRA_LABELS": json.dumps(labels),
            "KATO_CONTAINER_PREFIX": "kato-smit",
            "KATO_READY_TIMEOUT": "60",
            # No warm pool unless a test asks: pooled containers are not sessions, and tests
            # that count what a manager made would see them.
            "KATO_POOL_SIZE": "0",
            **env,
        }
        self.log_path = state_dir / "manager.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagerProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self._process = subprocess.Popen(
                [sys.executable, "-m", "session_manager"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"manager exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"manager not healthy:\n{self.log_path.read_text()}")

    @property
    def pid(self) -> int | None:
        """The manager's process id while it runs (benchmarks read its RSS)."""
        return self._process.pid if self._process is not None else None

    def kill9(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(10)
        self._process = None

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(10)
        self._process = None

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
