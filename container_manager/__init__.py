"""One secure container per KATO processor, behind a small `Backend` interface.

    manager = KatoContainerManager()                 # DockerBackend, settings from KATO_* env
    info = manager.create_processor(session_id="s1", config={"max_pattern_length": 5})
    httpx.get(f"{info.internal_url}/health")
    manager.remove_processor(info.processor_id, keep_data=True)   # hibernate
    manager.create_processor(processor_id=info.processor_id)      # resume on the same volume

Unit tests use `FakeBackend` (in-memory, readiness controllable) instead of Docker.
"""

from .backend import Backend
from .docker_backend import DockerBackend
from .errors import (
    ConfigValidationError,
    ContainerManagerError,
    EngineError,
    EngineUnavailableError,
    ImageBuildError,
    ProcessorNotFoundError,
    ProcessorStartError,
)
from .fake_backend import FakeBackend, FakeContainer
from .manager import KatoContainerManager, PruneReport
from .models import (
    Address,
    ContainerState,
    Limits,
    LogRotation,
    ProcessorInfo,
    ProcessorSpec,
    VolumeState,
)
from .settings import ContainerSettings

__all__ = [
    "Address",
    "Backend",
    "ConfigValidationError",
    "ContainerManagerError",
    "ContainerSettings",
    "ContainerState",
    "DockerBackend",
    "EngineError",
    "EngineUnavailableError",
    "FakeBackend",
    "FakeContainer",
    "ImageBuildError",
    "KatoContainerManager",
    "Limits",
    "LogRotation",
    "ProcessorInfo",
    "ProcessorNotFoundError",
    "ProcessorSpec",
    "ProcessorStartError",
    "PruneReport",
    "VolumeState",
]
