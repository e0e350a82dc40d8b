"""katoctl export / import / fork as real subprocesses, against a real manager (sessions) and a
processor from `katoctl spawn`, all on the real engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from container_manager.testing import remove_labelled
from session_manager.testing import ManagerProcess

pytestmark = pytest.mark.docker

KATOCTL = str(Path(sys.executable).with_name("katoctl"))


@pytest.fixture
def manager(
    processor_image: str, test_labels: dict[str, str], tmp_path: Path
) -> Iterator[ManagerProcess]:
    process = ManagerProcess(tmp_path / "manager", test_labels, KATO_IMAGE=processor_image)
    yield process.start()
    process.stop()
    remove_labelled(test_labels)


@pytest.fixture
def env(
    manager: ManagerProcess, processor_image: str, test_labels: dict[str, str], tmp_path: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "KATO_MANAGER_URL": manager.url,
        "KATO_IMAGE": processor_image,
        "KATO_EXTRA_LABELS": json.dumps(test_labels),
        "KATO_STATE_DIR": str(tmp_path / "cli-state"),
        "KATO_CONTAINER_PREFIX": "kato-it-port",
    }


def _katoctl(env: dict[str, str], *args: str, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    run = subprocess.run(
        [KATOCTL, *args], env=env, capture_output=True, timeout=180, check=False, **kwargs
    )
    assert run.returncode == 0, run.stderr
    return run


def _last_json(run: subprocess.CompletedProcess[Any]) -> dict[str, Any]:
    out = run.stdout.decode() if isinstance(run.stdout, bytes) else run.stdout
    loaded: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return loaded


def _teach(http: httpx.Client, base: str) -> list[Any]:
    for symbol in ("a", "b", "c", "a", "b"):
        http.post(f"{base}/observe", json={"strings": [symbol]}).raise_for_status()
        if symbol == "c":
            http.post(f"{base}/learn").raise_for_status()
    predictions: list[Any] = http.get(f"{base}/predictions").json()["predictions"]
    assert predictions
    return predictions


def test_sessions_export_import_fork(
    manager: ManagerProcess, env: dict[str, str], tmp_path: Path
) -> None:
    with manager.client() as http:
        sid = http.post("/session/create", json={"user_id": "dave"}).json()["session_id"]
        predictions = _teach(http, f"/session/{sid}")
        exported = _katoctl(env, "export", sid)  # to stdout, as `katoctl export S > file`
        file = tmp_path / "dave.ndjson"
        file.write_bytes(exported.stdout)
        assert json.loads(exported.stdout.splitlines()[0])["counts"]["patterns"] == 1

        imported = _last_json(_katoctl(env, "import", str(file), "--user-id", "erin", "--json"))
        assert imported["user_id"] == "erin" and imported["status"] == "running"
        assert http.get(f"/session/{imported['session_id']}/predictions").json()[
            "predictions"
        ] == predictions

        forked = _last_json(_katoctl(env, "fork", sid, "--json"))
        assert forked["user_id"] == "dave" and forked["session_id"] != sid
        assert http.get(f"/session/{forked['session_id']}/predictions").json()[
            "predictions"
        ] == predictions
        table = _katoctl(env, "fork", sid, text=True)
        assert "new session" in table.stdout and "running" in table.stdout


def test_spawned_processor_export_and_import(env: dict[str, str], tmp_path: Path) -> None:
    spawned = _last_json(_katoctl(env, "spawn", "--json", text=True))
    with httpx.Client(
        headers={"Authorization": f"Bearer {spawned['token']}"}, timeout=30
    ) as http:
        predictions = _teach(http, spawned["external_url"])
    file = tmp_path / "spawned.ndjson"
    _katoctl(env, "export", spawned["processor_id"], "-o", str(file))
    created = _last_json(_katoctl(env, "import", str(file), "--processor", "--json", text=True))
    assert created["processor_id"] != spawned["processor_id"]
    with httpx.Client(headers={"Authorization": f"Bearer {created['token']}"}, timeout=30) as http:
        assert http.get(f"{created['external_url']}/predictions").json()[
            "predictions"
        ] == predictions
    _katoctl(env, "kill", "--all")
