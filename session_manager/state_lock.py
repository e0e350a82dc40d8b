"""Whether a session manager runs on a state directory: a shared `flock` it holds while it runs.

A running manager owns its warm pool: it refills it and may be claiming a pooled processor at
this moment (the claim is written to the registry only after it took one). So `katoctl down`
drains the pool only when no manager runs on the state directory, and it must know that for
certain, not by asking a URL that may be the wrong one.

Every manager process (`session_manager.server.run`) holds `<state_dir>/manager.lock` shared
(several may share a directory; they never block each other) from before its app is built
until it has stopped everything, its engine calls in threads included; `katoctl down` holds
it exclusively while it drains, taken without waiting: it fails at once while any manager runs,
and a manager starting meanwhile waits the few seconds the drain takes. The kernel releases a
lock with its process, so a manager killed with SIGKILL leaves no stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ManagerRunning", "exclusive", "shared"]

_FILE = "manager.lock"


class ManagerRunning(RuntimeError):
    """A session manager holds the state directory (so `exclusive` could not take it)."""


@contextmanager
def shared(state_dir: Path) -> Iterator[None]:
    """Held by a running manager (waits while `katoctl down` drains)."""
    with _locked(state_dir, fcntl.LOCK_SH):
        yield


@contextmanager
def exclusive(state_dir: Path) -> Iterator[None]:
    """Held while nothing else may use the state directory; `ManagerRunning` at once when a
    manager runs on it."""
    with _locked(state_dir, fcntl.LOCK_EX | fcntl.LOCK_NB):
        yield


@contextmanager
def _locked(state_dir: Path, operation: int) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / _FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            raise ManagerRunning(f"a session manager runs on {state_dir}") from None
        yield
    finally:
        os.close(fd)  # releases the lock
