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
import time
from pathlib import Path

import httpx

__all__ = ["ManagerProcess", "free_port"]


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
