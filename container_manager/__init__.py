"""One secure container per KATO processor, behind a small `Backend` interface.

    manager = KatoContainerManager()                 # KATO_BACKEND (docker), settings from KATO_*
    info = manager.create_processor(session_id="s1", config={"max_pattern_length": 5})
    httpx.get(f"{info.internal_url}/health")
    manager.remove_processor(info.processor_id, keep_data=True)   # hibernate
    manager.create_processor(processor_id=info.processor_id)      # resume on the same volume
    manager.prune(claims=lambda: {info.processor_id})              # the one orphan rule

Unit tests use `FakeBackend` (in-memory, readiness controllable) instead of an engine, with
`KatoContainerManager(settings, fake, http_transport=fake.transport())`.

The engines' backends are imported from their modules (`container_manager.docker_backend`,
`container_manager.swarm_backend`) or chosen by name through KATO_BACKEND, so importing the
package loads no engine SDK.
"""

from .backend import Backend
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
from .manager import Claims, KatoContainerManager
from .models import (
    Address,
    ContainerState,
    Launched,
    Limits,
    LogRotation,
    ProcessorInfo,
    ProcessorSpec,
    VolumeState,
)
from .orphans import PruneReport
from .settings import ContainerSettings

__all__ = [
    "Address",
    "Backend",
    "Claims",
    "ConfigValidationError",
    "ContainerManagerError",
    "ContainerSettings",
    "ContainerState",
    "EngineError",
    "EngineUnavailableError",
    "FakeBackend",
    "FakeContainer",
    "ImageBuildError",
    "KatoContainerManager",
    "Launched",
    "Limits",
    "LogRotation",
    "ProcessorInfo",
    "ProcessorNotFoundError",
    "ProcessorSpec",
    "ProcessorStartError",
    "PruneReport",
    "VolumeState",
]
