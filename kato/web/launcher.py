"""Run a real server on loopback for tests and benchmarks: in a child process
(:class:`ServerProcess`) or in a thread of this one (:class:`ThreadServer`).

Both take a free port on 127.0.0.1 and return only once the server serves. A child gets our
environment plus the given one; its stdout and stderr go to a log file, so a chatty server can
never block on a full pipe, and the file's end is quoted when it fails to start. ``stop()`` and
``kill()`` act on that child only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import uvicorn

from kato.contract import STARTUP_PATH
from kato.web.readiness import NotReady, wait_until_ready

__all__ = ["ServerProcess", "ThreadServer", "free_port"]

_LOG_TAIL = 2000


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the OS's pick on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``command`` as a child process serving ``http://127.0.0.1:<port>``.

    Ready when ``GET <ready_path>`` answers 200 (the start-up probe unless a subclass says).
    ``start()`` again after ``stop()`` or ``kill()`` runs a new child on the same port,
    environment and log file (a restart on the same state).
    """

    #: What the failures call the server.
    name = "server"
    #: The path that answers 200 once the server serves.
    ready_path = STARTUP_PATH
    #: Seconds ``stop()`` gives the child after SIGTERM before it sends SIGKILL.
    stop_seconds = 10.0

    def __init__(
        self,
        command: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id while one was started and not yet stopped."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30.0) -> Self:
        """Start the child and wait for its ``ready_path``; a child that does not get there is
        stopped and the error gives its exit status and quotes the end of its log."""
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self._process = subprocess.Popen(
                self.command, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT
            )
        process = self._process
        try:
            wait_until_ready(
                self.url,
                timeout=timeout,
                is_running=lambda: process.poll() is None,
                path=self.ready_path,
            )
        except NotReady as exc:
            status = process.poll()
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-_LOG_TAIL:]
            if exc.exited and status is not None:  # 2: a bad setting, its one line in the tail
                problem = f"exited with status {status} before becoming ready ({exc.last_problem})"
            else:
                problem = str(exc)
            raise RuntimeError(f"{self.name} {problem}:\n{tail}") from None
        return self

    def stop(self) -> None:
        """SIGTERM (graceful: the server closes what it holds), SIGKILL after ``stop_seconds``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=self.stop_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is closed or flushed by the server."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def rss_bytes(self) -> int:
        """Resident memory of the running child (Linux ``/proc``); 0 when none runs."""
        if self.pid is None:
            return 0
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def __enter__(self) -> Self:
        return self.start() if self._process is None else self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ThreadServer:
    """An ASGI app under uvicorn on ``http://127.0.0.1:<free port>``, in a daemon thread of
    this process, lifespan included: for tests that need real sockets but want the app's
    objects at hand (a fake engine behind it, say)."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, **config)
        )
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(20)
