"""Importing a package loads no web stack and no engine SDK: each package's `__init__` imports
only what its public names need, so `katoctl` can read its defaults from
`session_manager.settings` without loading the app, and `kato.services.models` stays cheap.

Each import runs in a fresh interpreter: in this one, other tests have loaded everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules that only the running services (or the engine seam) need.
HEAVY = ("fastapi", "starlette", "uvicorn", "aiohttp", "docker")

PACKAGES = (
    "kato",
    "kato.processor",
    "kato.services",
    "kato.client",
    "container_manager",
    "session_manager",
    "session_manager.dashboard",
    "cli",
    # Not packages, but what katoctl reads its defaults from (cli/defaults.py).
    "session_manager.settings",
    "cli.defaults",
)


def _loaded_after_import(package: str) -> list[str]:
    """The HEAVY modules present in `sys.modules` of a new interpreter after `import package`."""
    probe = (
        "import importlib, json, sys\n"
        f"importlib.import_module({package!r})\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("package", PACKAGES)
def test_importing_a_package_loads_nothing_heavy(package: str) -> None:
    assert _loaded_after_import(package) == []


def test_the_probe_sees_heavy_modules() -> None:
    """The check above can fail: importing the app does load the web stack."""
    assert set(_loaded_after_import("session_manager.app")) >= {"fastapi", "starlette"}


def test_the_manager_signs_webhooks_without_the_client() -> None:
    """One signing scheme (`kato.webhook_signing`) for the manager and the client, and the
    manager does not load the client to use it."""
    probe = "import sys, session_manager.app; print('kato.client' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
