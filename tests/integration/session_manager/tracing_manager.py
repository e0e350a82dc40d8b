"""``python -m tests.integration.session_manager.tracing_manager``: the real manager app under
uvicorn on ``KATO_HOST:KATO_PORT``, its engine a `FakeBackend` whose every container answers at
``127.0.0.1:KATO_TEST_PROCESSOR_PORT``, where the test runs a real processor process.

Why not a container: the test's OTLP receiver listens on loopback, which a container on the
engine's bridge network cannot reach (and the bridge's own address is no target this workplace
allows traffic to); a processor process on loopback exports to it as a container would.
"""

from __future__ import annotations

import os

import uvicorn

from container_manager import FakeBackend, KatoContainerManager
from session_manager.app import create_app
from session_manager.logs import configure_logging
from session_manager.settings import ManagerSettings


def main() -> None:
    settings = ManagerSettings()
    backend = FakeBackend(port=int(os.environ["KATO_TEST_PROCESSOR_PORT"]))
    # Readiness is the fake's; every other call goes over the network to the processor.
    containers = KatoContainerManager(
        settings.container_settings(), backend, http_transport=backend.transport()
    )
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings, containers),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
