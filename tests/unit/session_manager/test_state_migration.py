"""A state directory written before the container manager dropped its processor table
(`processors.sqlite3`, beside `sessions.sqlite3`) keeps every session and processor when the
manager starts on it: a running session is adopted, a hibernated one wakes with its STM and
genes, a `katoctl spawn` processor stays, and orphan sightings keep counting from before."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from starlette.testclient import TestClient

from container_manager import ContainerSettings, FakeBackend, KatoContainerManager, ProcessorSpec
from container_manager.config import parse_config
from container_manager.deployment import resolve_deployment
from container_manager.spec import LABEL_TOKEN_SALT, build_spec, processor_labels
from container_manager.tokens import TokenKey
from session_manager.app import create_app
from session_manager.registry import SessionRecord, SessionRegistry
from session_manager.settings import ManagerSettings

_OLD_PROCESSORS = (
    "CREATE TABLE processors (processor_id TEXT PRIMARY KEY, session_id TEXT, user_id TEXT,"
    " created_at TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}')"
)
_OLD_ORPHANS = "CREATE TABLE orphan_volumes (volume TEXT PRIMARY KEY, since REAL)"
_CREATED = "2026-01-01T00:00:00Z"
ALIVE, ASLEEP = "a" * 32, "b" * 32  # session ids of the manager's format


def _old_launch(
    fake: FakeBackend,
    settings: ContainerSettings,
    processor_id: str,
    session_id: str | None,
    genes: dict[str, object],
) -> ProcessorSpec:
    """A processor exactly as the manager made it before (same labels, derived token)."""
    salt = TokenKey.new_salt()
    labels = {
        **processor_labels(
            settings, processor_id, session_id=session_id, user_id="u1", created_at=_CREATED
        ),
        LABEL_TOKEN_SALT: salt,
    }
    token = TokenKey(settings.state_dir).token_for(processor_id, salt)
    spec = build_spec(
        settings, parse_config(genes), processor_id=processor_id, token=token, labels=labels
    )
    fake.launch(spec)
    return spec


def _session(session_id: str, processor_id: str, status: str) -> SessionRecord:
    now = time.time()
    return SessionRecord(
        session_id=session_id,
        processor_id=processor_id,
        user_id="u1",
        status=status,
        created_at=now,
        last_activity=now,
        genes={"max_pattern_length": 3},
    )


def test_a_state_dir_from_before_keeps_every_session_and_processor(
    tmp_path: Path, fake: FakeBackend, make_settings: Callable[..., ManagerSettings]
) -> None:
    state = tmp_path / "state"
    settings = ContainerSettings(
        state_dir=state,
        ready_timeout=0.3,
        extra_labels={"kato.test": "unit"},
        deployment=resolve_deployment(None, state),
    )
    alive = _old_launch(fake, settings, "a11ve0000001", ALIVE, {"max_pattern_length": 3})
    asleep = _old_launch(fake, settings, "a5leep000001", ASLEEP, {"max_pattern_length": 3})
    fake.remove(asleep.name, asleep.volume, keep_data=True, owner={})  # hibernated
    spawned = _old_launch(fake, settings, "5pawned00001", None, {})
    lost = _old_launch(fake, settings, "1ost00000001", "s-deleted", {})
    fake.remove(lost.name, lost.volume, keep_data=True, owner={})  # its session went, data not
    lost_since = time.time() - 60
    with closing(sqlite3.connect(state / "processors.sqlite3")) as db, db:
        db.execute(_OLD_PROCESSORS)
        db.execute(_OLD_ORPHANS)
        for spec, session_id in ((alive, ALIVE), (asleep, ASLEEP), (spawned, None)):
            config = json.dumps({"max_pattern_length": 3} if session_id else {})
            row = (spec.env["PROCESSOR_ID"], session_id, "u1", _CREATED, config)
            db.execute("INSERT INTO processors VALUES (?, ?, ?, ?, ?)", row)
        db.execute("INSERT INTO orphan_volumes VALUES (?, ?)", (lost.volume, lost_since))
    registry = SessionRegistry(make_settings().registry_path)
    address = fake.inspect(alive.name).address  # type: ignore[union-attr]
    assert address is not None
    registry.put(
        _session(ALIVE, "a11ve0000001", "running").with_changes(
            url=address.url, internal_url=address.url, token=alive.env["KATO_PROCESSOR_TOKEN"]
        )
    )
    registry.put(
        _session(ASLEEP, "a5leep000001", "hibernated").with_changes(
            snapshot=json.dumps({"stm": [["a"], ["b"]]}).encode()
        )
    )
    registry.close()
    alive_container = fake.container_for("a11ve0000001")

    containers = KatoContainerManager(
        settings.model_copy(update={"deployment": None}), fake, http_transport=fake.transport()
    )
    with TestClient(create_app(make_settings(), containers)) as client:
        sessions = {s["session_id"]: s for s in client.get("/sessions").json()["sessions"]}
        assert set(sessions) == {ALIVE, ASLEEP}
        assert sessions[ALIVE]["status"] == "running"
        assert fake.container_for("a11ve0000001") is alive_container  # adopted, not replaced
        assert client.get(f"/session/{ALIVE}/stm").status_code == 200

        assert client.get(f"/session/{ASLEEP}/stm").json() == {"stm": [["a"], ["b"]]}
        woken = fake.container_for("a5leep000001")
        assert woken is not None and woken.spec.env["MAX_PATTERN_LENGTH"] == "3"
        assert woken.spec.labels["kato.created_at"] == _CREATED  # identity from its volume

        assert containers.get_processor("5pawned00001") is not None  # the CLI's, untouched
        assert containers.orphans.pending() == {lost.volume: lost_since}  # still counting
        assert lost.volume in fake.volumes
    assert not (state / "processors.sqlite3").exists()
    assert (state / "processors.sqlite3.migrated").is_file()
