"""Run the session manager under uvicorn (uvloop + httptools): `run(host, port)`."""

from __future__ import annotations

import uvicorn

from .app import create_app
from .logs import configure_logging
from .settings import ManagerSettings

__all__ = ["run"]


def run(host: str | None = None, port: int | None = None) -> None:
    """Serve until interrupted; `host`/`port` override KATO_HOST/KATO_PORT."""
    settings = ManagerSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
