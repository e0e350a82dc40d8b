"""One error hierarchy for everything that talks to the container engine.

    ContainerManagerError        KATO_CONTAINER_ERROR         base; also any unclassified failure
    ├── ConfigValidationError    KATO_VALIDATION_ERROR        bad genes, limits or id (a ValueError)
    ├── EngineError              KATO_ENGINE_ERROR            the engine answered with a refusal
    ├── EngineUnavailableError   KATO_ENGINE_UNAVAILABLE      the engine does not answer at all
    ├── ImageBuildError          KATO_IMAGE_BUILD_FAILED      a step of the image build failed
    ├── ProcessorNotFoundError   KATO_PROCESSOR_NOT_FOUND     no container (nor volume) has the id
    ├── ProcessorStartError      KATO_PROCESSOR_START_FAILED  not launched, or never became ready
    └── StackError               KATO_STACK_FAILED            `docker stack deploy`/`rm` failed

Callers catch `ContainerManagerError` and map it, at their own boundary, to what their users
see: the session manager to one HTTP status per class (`session_manager/engine_errors.py`, the
only place), katoctl to an exit status (`cli/main.py`). The classes carry no HTTP status: this
package knows the engine, not the protocols of its callers. The subclasses say what went wrong
without string matching.

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
    "StackError",
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
