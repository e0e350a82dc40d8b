"""Every entry point answers a bad setting with one line on stderr naming the variable, and
exit status 2 (kato/web/settings_errors.py), before it starts anything: no engine needed.

Each runs in a fresh interpreter, as an operator would start it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KATOCTL = str(Path(sys.executable).parent / "katoctl")
MANAGER = [sys.executable, "-m", "session_manager"]
PROCESSOR = [sys.executable, "-m", "kato.services"]
IMAGE_CMD = [sys.executable, "-m", "uvicorn", "kato.services.kato_fastapi:app"]

#: id → (command, environment, how stderr starts).
CASES: dict[str, tuple[list[str], dict[str, str], str]] = {
    "manager": (
        MANAGER,
        {"KATO_WEBHOOK_MAX_ATTEMPTS": "1000"},
        "kato-manager: KATO_WEBHOOK_MAX_ATTEMPTS=1000 is invalid: must be at most 100 "
        "(allowed 1..100)",
    ),
    "manager-container-setting": (
        MANAGER,
        {"KATO_CPU_LIMIT": "lots"},
        "kato-manager: KATO_CPU_LIMIT=lots is invalid: not a number (allowed > 0)",
    ),
    "katoctl-up": (
        [KATOCTL, "up"],
        {"KATO_WEBHOOK_MAX_ATTEMPTS": "1000"},
        "kato-manager: KATO_WEBHOOK_MAX_ATTEMPTS=1000 is invalid",
    ),
    "katoctl-up-port": (
        [KATOCTL, "up"],
        {"KATO_PORT": "http"},
        "kato-manager: KATO_PORT=http is invalid: not an integer (allowed 0..65535)",
    ),
    "katoctl-ls": (
        [KATOCTL, "ls"],
        {"KATO_PIDS_LIMIT": "0"},
        "katoctl: KATO_PIDS_LIMIT=0 is invalid: must be greater than 0 (allowed > 0)",
    ),
    "katoctl-prune": (
        [KATOCTL, "prune"],
        {"KATO_EXTRA_LABELS": "{oops"},
        "katoctl: KATO_EXTRA_LABELS={oops is invalid: not valid JSON",
    ),
    "katoctl-down": (
        [KATOCTL, "down"],
        {"KATO_ORPHAN_GRACE": "-1"},
        "katoctl: KATO_ORPHAN_GRACE=-1 is invalid: must be at least 0",
    ),
    "processor": (
        PROCESSOR,
        {"PROCESSOR_ID": "p-1", "PERSISTENCE": "0"},
        "kato-processor: PERSISTENCE=0 is invalid: must be at least 1",
    ),
    "processor-missing-id": (PROCESSOR, {}, "kato-processor: PROCESSOR_ID is required but unset"),
    "processor-image-command": (
        IMAGE_CMD,
        {"PROCESSOR_ID": "p-1", "RECALL_THRESHOLD": "2"},
        "kato-processor: RECALL_THRESHOLD=2 is invalid: must be at most 1 (allowed 0..1)",
    ),
}


@pytest.mark.parametrize(("command", "env", "line"), CASES.values(), ids=CASES.keys())
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str], env: dict[str, str], line: str
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KATO_")}
    clean.pop("PROCESSOR_ID", None)
    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**clean, "KATO_STATE_DIR": str(tmp_path / "state"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(line), done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "state").exists()  # stopped before it wrote anything
