"""What a running service holds: settings, limits, metrics and (once started) the processor gate."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from starlette.requests import HTTPConnection

from kato.services.gate import ProcessorGate
from kato.services.metrics import ServiceMetrics
from kato.services.models import RequestLimits
from kato.services.settings import ServiceSettings


def limits_from(settings: ServiceSettings) -> RequestLimits:
    """Each :class:`RequestLimits` field from the setting of the same name (``KATO_MAX_*``)."""
    return RequestLimits(
        **{limit.name: getattr(settings, limit.name) for limit in fields(RequestLimits)}
    )


@dataclass
class Runtime:
    """Created with the app; ``gate`` is attached by the lifespan once the store is open."""

    settings: ServiceSettings
    metrics: ServiceMetrics
    limits: RequestLimits = field(init=False)
    _gate: ProcessorGate | None = None

    def __post_init__(self) -> None:
        self.limits = limits_from(self.settings)

    @property
    def max_body_bytes(self) -> int:
        return self.settings.max_body_bytes

    @property
    def max_state_bytes(self) -> int:
        return self.settings.max_state_bytes

    @property
    def gate(self) -> ProcessorGate:
        if self._gate is None:
            raise RuntimeError("the processor is not open (service not started)")
        return self._gate

    def attach(self, gate: ProcessorGate | None) -> None:
        self._gate = gate

    @property
    def started(self) -> bool:
        return self._gate is not None


def runtime_of(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime
