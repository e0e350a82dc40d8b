"""Value objects passed between the manager and a backend (frozen: built once, never patched)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Address",
    "ContainerState",
    "Launched",
    "Limits",
    "LogRotation",
    "ProcessorInfo",
    "ProcessorSpec",
    "VolumeState",
    "carries",
    "memory_bytes",
]

#: Port the processor's uvicorn listens on inside its container.
SERVICE_PORT = 8000
#: Non-root user every processor runs as; the image owns /data for it.
SERVICE_USER = "10001"
#: Mount point of the processor's data volume.
DATA_DIR = "/data"
#: Container states that are neither running nor gone: the container (and the processor's
#: in-memory state) is still there, so nothing may treat it as vanished and replace it.
SUSPENDED_STATUSES = frozenset({"paused", "restarting"})


_MEMORY_UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def memory_bytes(memory: str) -> int:
    """Bytes of a Docker memory string such as `512m` (units are powers of 1024); the string is
    one a config or settings pattern has already accepted."""
    unit = memory[-1].lower() if memory[-1:].isalpha() else ""
    return int(memory[: len(memory) - len(unit)]) * _MEMORY_UNITS[unit]


def carries(labels: Mapping[str, str] | None, wanted: Mapping[str, str]) -> bool:
    """Whether `labels` hold every one of `wanted` (how engines match a label filter)."""
    return all((labels or {}).get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container. `memory` keeps the operator's spelling ("512m");
    backends read the neutral units (`memory_bytes`, `nano_cpus`, `pids`)."""

    memory: str
    cpu: float
    pids: int

    @property
    def memory_bytes(self) -> int:
        return memory_bytes(self.memory)

    @property
    def nano_cpus(self) -> int:
        return int(self.cpu * 1e9)


@dataclass(frozen=True)
class LogRotation:
    """How much container log the engine keeps: `max_files` files of `max_size` each."""

    max_size: str = "10m"
    max_files: int = 3


@dataclass(frozen=True)
class ProcessorSpec:
    """Everything a backend needs to create one processor container.

    The security settings (non-root user, dropped capabilities, no-new-privileges, read-only
    root with a small /tmp tmpfs, sizes in bytes) are part of the spec so that every backend
    applies the same ones; none is a literal inside a backend.
    """

    name: str
    image: str
    env: Mapping[str, str]
    labels: Mapping[str, str]
    limits: Limits
    volume: str
    network: str | None = None
    user: str = SERVICE_USER
    data_dir: str = DATA_DIR
    port: int = SERVICE_PORT
    tmpfs: Mapping[str, int] = field(default_factory=lambda: {"/tmp": 64 * 2**20})
    read_only: bool = True
    cap_drop: tuple[str, ...] = ("ALL",)
    no_new_privileges: bool = True
    logs: LogRotation = field(default_factory=LogRotation)


@dataclass(frozen=True)
class Address:
    """Where a running container's service answers; `published` means bound on the host."""

    host: str
    port: int
    published: bool

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class ContainerState:
    """What a backend knows about one processor's workload (from `inspect` or `find`).

    `name` is the handle every backend operation takes (`ProcessorSpec.name`: unique on the
    engine, known without a lookup and stable across manager restarts); `container_id` is the
    engine's own id (a container id on Docker, a service id on Swarm), shown to operators."""

    container_id: str
    name: str
    status: str
    labels: Mapping[str, str]
    env: Mapping[str, str]
    address: Address | None

    @property
    def running(self) -> bool:
        return self.status == "running"


@dataclass(frozen=True)
class Launched:
    """What `Backend.launch` made: the running workload, and whether its data volume is new
    (a failed start-up must then remove it; an existing one holds a hibernated processor)."""

    state: ContainerState
    new_volume: bool


@dataclass(frozen=True)
class VolumeState:
    """A data volume as a backend lists it."""

    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ProcessorInfo:
    """A processor as callers see it. `timings` is filled only right after creation; `pooled`
    marks a warm-pool processor (started without a session; claimed through the registry)."""

    processor_id: str
    container_name: str
    container_id: str
    port: int | None
    internal_url: str
    external_url: str | None
    token: str
    session_id: str | None
    user_id: str | None
    status: str
    created_at: str
    timings: dict[str, float] = field(default_factory=dict)
    pooled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
