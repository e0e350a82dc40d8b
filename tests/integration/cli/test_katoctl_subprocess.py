"""katoctl as a real subprocess against the real engine: spawn --json, ls --json, kill, on
each backend (`KATO_BACKEND=docker`, and `swarm` on a one-node swarm made for the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import httpx
import pytest

from container_manager.testing import swarm_node

pytestmark = pytest.mark.docker

KATOCTL = str(Path(sys.executable).with_name("katoctl"))


@pytest.fixture(params=["docker", "swarm"])
def env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    processor_image: str,
    test_labels: dict[str, str],
) -> Iterator[dict[str, str]]:
    with swarm_node() if request.param == "swarm" else nullcontext():
        yield {
            **os.environ,
            "KATO_BACKEND": request.param,
            "KATO_IMAGE": processor_image,
            "KATO_EXTRA_LABELS": json.dumps(test_labels),
            "KATO_STATE_DIR": str(tmp_path / "state"),
            "KATO_CONTAINER_PREFIX": "kato-it-cli",
        }


def _katoctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KATOCTL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_spawn_ls_kill(env: dict[str, str]) -> None:
    spawned = _katoctl(
        env, "spawn", "--session-id", "cli-s1", "--gene", "max_pattern_length=4", "--json"
    )
    assert spawned.returncode == 0, spawned.stderr
    info = json.loads(spawned.stdout.strip().splitlines()[-1])
    assert httpx.get(f"{info['internal_url']}/health", timeout=10).status_code == 200
    auth = {"Authorization": f"Bearer {info['token']}"}
    assert httpx.get(f"{info['internal_url']}/stm", headers=auth, timeout=10).status_code == 200

    listed = _katoctl(env, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["processor_id"], row["session_id"]) == (info["processor_id"], "cli-s1")
    assert row["stats"]["memory_bytes"] > 0

    killed = _katoctl(env, "kill", info["processor_id"])
    assert killed.returncode == 0, killed.stderr
    assert json.loads(_katoctl(env, "ls", "--json").stdout) == []

    again = _katoctl(env, "kill", info["processor_id"])
    assert again.returncode != 0
    assert "KATO_PROCESSOR_NOT_FOUND" in again.stderr
