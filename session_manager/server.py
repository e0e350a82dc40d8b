"""Run the session manager under uvicorn (uvloop + httptools): `run(host, port)`."""

from __future__ import annotations

import gc
from typing import Any

import uvicorn

from container_manager import ContainerSettings, KatoContainerManager
from kato.web.settings_errors import exit_on_bad_settings

from . import state_lock
from .app import create_app
from .logs import configure_logging
from .settings import ManagerSettings

__all__ = ["PROGRAM", "run", "serve"]

#: How the manager names itself in a start-up error.
PROGRAM = "kato-manager"


def run(
    host: str | None = None,
    port: int | None = None,
    *,
    router: str | None = None,
    api_port: int | None = None,
) -> None:
    """Serve until interrupted; `host`/`port`/`router`/`api_port` override KATO_HOST,
    KATO_PORT, KATO_ROUTER and KATO_API_PORT (and are checked as they are). A bad setting of
    the manager or of its containers stops here, before anything starts: one line on stderr,
    exit status 2 (kato/web/settings_errors.py).

    The state directory's lock is held shared until the process has stopped everything, its
    engine calls in threads included, so `katoctl down` never drains a pool this process can
    still add to (state_lock.py)."""
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "router": router,
        "api_port": api_port,
    }
    with exit_on_bad_settings(PROGRAM, ManagerSettings, ContainerSettings):
        settings = ManagerSettings(**{k: v for k, v in overrides.items() if v is not None})
        containers = settings.container_settings()
    configure_logging(settings.log_level)
    with state_lock.shared(settings.state_dir):
        serve(settings, KatoContainerManager(containers))


def serve(settings: ManagerSettings, containers: KatoContainerManager) -> None:
    """The manager's app on `containers` under uvicorn until interrupted (logging configured
    by the caller: `configure_logging`).

    The objects made at start-up (modules, the app, its routes and models) are frozen out of
    the garbage collector's generations (`gc.freeze`), so the collections the proxy's
    per-request garbage triggers no longer walk them (docs/benchmarks.md, "Router")."""
    app = create_app(settings, containers)
    gc.collect()  # what is garbage already is not frozen with the rest
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.api_address[0],
        port=settings.api_address[1],
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
