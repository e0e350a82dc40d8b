"""katoctl down as a real subprocess against a real manager's warm pool on the real engine: a
stopped manager's pool stays (for its next start) until `down` removes it, and nothing else:
neither a session's container nor another deployment's pool. `--hibernate` hibernates the
running sessions through the manager, waits for it to be stopped, then drains."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from container_manager import KatoContainerManager
from session_manager.testing import ManagerProcess
from tests.integration.session_manager.docker_support import (
    create_session,
    pool_ready,
    pooled,
    volumes_of,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.docker

KATOCTL = str(Path(sys.executable).with_name("katoctl"))


def _env(manager: ManagerProcess) -> dict[str, str]:
    """katoctl configured as the manager is: its state directory, labels and names."""
    return {**os.environ, **manager.env}


def _katoctl(manager: ManagerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KATOCTL, *args], env=_env(manager), capture_output=True, text=True, timeout=300
    )


def test_down_removes_a_stopped_managers_pool_and_nothing_else(
    start_manager: Callable[..., ManagerProcess],
    manager: KatoContainerManager,
    test_labels: dict[str, str],
) -> None:
    running = start_manager("down", KATO_POOL_SIZE="2")
    wait_until("the pool is full", lambda: pool_ready(running, 2))
    with running.client() as http:
        session = create_session(http)  # claims a pooled processor; the pool refills
    wait_until("the pool is full", lambda: pool_ready(running, 2))
    theirs = manager.create_processor(pooled=True)  # another deployment's pool, same engine
    assert theirs.processor_id in pooled(test_labels)

    refused = _katoctl(running, "down")
    assert refused.returncode == 1
    assert "a session manager runs on" in " ".join(refused.stderr.split())

    running.stop()  # SIGTERM: the pool stays, for a restart to adopt
    left = pooled(test_labels)  # nothing adds to it any more
    drained = set(left) - {session["processor_id"], theirs.processor_id}
    assert len(drained) == 2

    done = _katoctl(running, "down")
    assert done.returncode == 0, done.stderr
    assert "2 pooled processor(s) removed" in done.stdout
    assert pooled(test_labels) == {
        session["processor_id"]: left[session["processor_id"]],
        theirs.processor_id: left[theirs.processor_id],
    }
    assert all(volumes_of(test_labels, processor_id) == [] for processor_id in drained)
    assert volumes_of(test_labels, session["processor_id"]) != []


def test_down_hibernate_hibernates_waits_for_the_stop_then_drains(
    start_manager: Callable[..., ManagerProcess], test_labels: dict[str, str], tmp_path: Path
) -> None:
    running = start_manager("down-hibernate", KATO_POOL_SIZE="1")
    wait_until("the pool is full", lambda: pool_ready(running, 1))
    with running.client() as http:
        session = create_session(http)
    wait_until("the pool is full", lambda: pool_ready(running, 1))

    log = tmp_path / "down.log"
    with log.open("w") as stderr:
        down = subprocess.Popen(
            [KATOCTL, "down", "--hibernate", "--manager-url", running.url],
            env=_env(running),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        wait_until(
            "katoctl waits for the manager to stop",
            lambda: "stop the session manager now" in log.read_text(),
        )
        with running.client() as http:
            wait_for_status(http, session["session_id"], "hibernated")
        running.stop()
        output, _ = down.communicate(timeout=300)
    finally:
        if down.poll() is None:
            down.kill()
    assert down.returncode == 0, log.read_text()
    assert "1 pooled processor(s) removed" in output
    assert pooled(test_labels) == {}  # the session's container went with its hibernation
    assert volumes_of(test_labels, session["processor_id"]) != []  # its memory is kept
