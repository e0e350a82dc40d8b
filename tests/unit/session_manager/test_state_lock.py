"""state_lock: a running manager holds its state directory shared; `katoctl down` takes it
exclusively, at once or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_manager import server, state_lock


def test_managers_share_and_down_is_refused_while_one_runs(tmp_path: Path) -> None:
    with (
        state_lock.shared(tmp_path),
        state_lock.shared(tmp_path),
        pytest.raises(state_lock.ManagerRunning),
        state_lock.exclusive(tmp_path),
    ):
        pass
    with (  # all released: down may hold it, and then nothing else
        state_lock.exclusive(tmp_path),
        pytest.raises(state_lock.ManagerRunning),
        state_lock.exclusive(tmp_path),
    ):
        pass


def test_an_error_inside_the_block_is_not_taken_for_a_running_manager(tmp_path: Path) -> None:
    with pytest.raises(BlockingIOError), state_lock.exclusive(tmp_path):
        raise BlockingIOError


def test_the_manager_process_holds_it_while_it_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    monkeypatch.setenv("KATO_STATE_DIR", str(state_dir))
    refused: list[bool] = []

    def serve(app: object, **options: object) -> None:
        try:
            with state_lock.exclusive(state_dir):
                refused.append(False)
        except state_lock.ManagerRunning:
            refused.append(True)

    monkeypatch.setattr(server, "create_app", lambda settings, containers: object())
    monkeypatch.setattr(server, "configure_logging", lambda level: None)
    monkeypatch.setattr(server.uvicorn, "run", serve)
    server.run()
    assert refused == [True]
    with state_lock.exclusive(state_dir):  # released once it has stopped
        pass
