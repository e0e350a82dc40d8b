"""One error hierarchy for everything that talks to the container engine.

Callers (the session manager, katoctl) catch `ContainerManagerError` and map `code` to their
own JSON error shape or exit status; the subclasses say what went wrong without string matching.

`message` and `details` are safe to show to API clients by construction: they hold only our own
words and our own identifiers (processor id, image name). What the engine said (runc and cgroup
messages, container ids, container log lines) goes to `diagnostics` instead, which the backend
logs where the error is raised and which only operator tools (katoctl) print.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigValidationError",
    "ContainerManagerError",
    "EngineError",
    "EngineUnavailableError",
    "ImageBuildError",
    "ProcessorNotFoundError",
    "ProcessorStartError",
]


class ContainerManagerError(Exception):
    """Base class: `code` is a stable `KATO_…` identifier, `details` is JSON-serialisable."""

    code = "KATO_CONTAINER_ERROR"

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        diagnostics: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.diagnostics = list(diagnostics or [])


class EngineError(ContainerManagerError):
    """The engine answered but refused an operation (its explanation is in `diagnostics`)."""

    code = "KATO_ENGINE_ERROR"


class EngineUnavailableError(ContainerManagerError):
    """The Docker engine cannot be reached (not running, socket not mounted, permission)."""

    code = "KATO_ENGINE_UNAVAILABLE"


class ImageBuildError(ContainerManagerError):
    """A step of the processor image build failed; `details["step"]` names it."""

    code = "KATO_IMAGE_BUILD_FAILED"


class ProcessorNotFoundError(ContainerManagerError):
    """No managed container (and no data volume) has this processor id."""

    code = "KATO_PROCESSOR_NOT_FOUND"


class ProcessorStartError(ContainerManagerError):
    """A processor container did not become ready; `diagnostics` holds its last log lines."""

    code = "KATO_PROCESSOR_START_FAILED"


class ConfigValidationError(ContainerManagerError, ValueError):
    """A processor config (genes, limits) or id is invalid; `details["errors"]` lists why."""

    code = "KATO_VALIDATION_ERROR"


class StackError(ContainerManagerError):
    """`docker stack deploy`/`rm` of the manager stack failed (details carry the CLI's stderr)."""

    code = "KATO_STACK_FAILED"
