"""state_lock: a running manager holds its state directory shared; `katoctl down` takes it
exclusively, at once or not at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from session_manager import state_lock


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


def test_the_app_holds_it_from_start_to_stop(
    tmp_path: Path, make_client: Callable[..., TestClient]
) -> None:
    state_dir = tmp_path / "state"
    client = make_client()
    with pytest.raises(state_lock.ManagerRunning), state_lock.exclusive(state_dir):
        pass
    client.__exit__(None, None, None)
    with state_lock.exclusive(state_dir):
        pass
