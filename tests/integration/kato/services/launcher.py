"""Start real services (uvicorn subprocesses) for a test and stop all of them afterwards."""

from __future__ import annotations

from pathlib import Path

from kato.services.testing import ServiceProcess


class Launcher:
    """Starts services with a tmp ``KATO_DATA_DIR`` (unless given) and remembers them to stop."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[ServiceProcess] = []

    def start(
        self, data_dir: Path | None = None, processor_id: str = "svc-test", **env: str
    ) -> ServiceProcess:
        index = len(self.started)
        service = ServiceProcess(
            {
                "PROCESSOR_ID": processor_id,
                "KATO_DATA_DIR": str(data_dir or self.root / f"data-{index}"),
                "LOG_LEVEL": "WARNING",
                **env,
            },
            self.root / f"service-{index}.log",
        )
        self.started.append(service)
        return service.start()

    def stop_all(self) -> None:
        for service in self.started:
            service.stop()
