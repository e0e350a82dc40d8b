"""Typed results of the manager and processor APIs; every field is named as in the JSON.

Plain dataclasses (the client depends on httpx and websockets only). `from_dict` ignores
keys it does not know, so a newer server with extra fields still parses; a missing required
field raises `ProtocolError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from ._errors import ProtocolError

__all__ = [
    "CognitionData",
    "Event",
    "GeneResult",
    "ImportResult",
    "Health",
    "LearnResult",
    "Metrics",
    "Observation",
    "ObserveResult",
    "ObserveSequenceResult",
    "Pattern",
    "PatternResult",
    "PerceptData",
    "Pong",
    "Prediction",
    "PredictionsResult",
    "ProcessorStatus",
    "Ready",
    "SessionInfo",
    "SessionPage",
    "StatusMessage",
    "StmResult",
]

M = TypeVar("M", bound="Model")


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


class Model:
    """`from_dict` for the dataclasses below; `_convert` maps a field to its parser."""

    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}

    @classmethod
    def from_dict(cls: type[M], data: Any) -> M:
        if not isinstance(data, Mapping):
            raise ProtocolError(
                f"expected a JSON object for {cls.__name__}", code="KATO_BAD_RESPONSE"
            )
        values: dict[str, Any] = {}
        try:
            for item in fields(cls):  # type: ignore[arg-type]
                if item.name in data:
                    convert = cls._convert.get(item.name)
                    raw = data[item.name]
                    values[item.name] = convert(raw) if convert and raw is not None else raw
            return cls(**values)
        except (TypeError, ValueError, KeyError) as exc:
            raise ProtocolError(
                f"cannot read {cls.__name__}: {exc}", code="KATO_BAD_RESPONSE"
            ) from exc


def _list_of(model: type[Model]) -> Callable[[Any], list[Any]]:
    return lambda items: [model.from_dict(item) for item in items]


# -- sessions API -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionInfo(Model):
    """A session as `POST /session/create`, `GET /session/{id}` and `GET /sessions` show it.
    `url`/`token` give direct access to its container and are None unless it is running."""

    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "created_at": _time,
        "last_activity": _time,
        "expires_at": _time,
    }
    session_id: str
    processor_id: str
    user_id: str | None
    status: str
    url: str | None = None
    token: str | None = None
    created_at: datetime | None = None
    last_activity: datetime | None = None
    expires_at: datetime | None = None


class SessionPage(list[SessionInfo]):
    """One page of `GET /sessions`: a list of `SessionInfo` (so code written for the unpaged
    listing keeps working), oldest first, and `next_cursor`, the `cursor` of the next page
    (None on the last one)."""

    def __init__(self, sessions: Iterable[SessionInfo] = (), next_cursor: str | None = None):
        super().__init__(sessions)
        self.next_cursor = next_cursor

    def __repr__(self) -> str:
        return f"SessionPage({list(self)!r}, next_cursor={self.next_cursor!r})"


@dataclass(frozen=True)
class Event(Model):
    """A session lifecycle event (`GET /events`, webhooks). `type` is `session.<kind>`, or
    `gap` when the stream resumed from an id the backlog no longer holds."""

    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"time": _time}
    id: int
    type: str
    time: datetime | None = None
    session_id: str | None = None
    user_id: str | None = None
    status: str | None = None
    error_code: str | None = None


@dataclass(frozen=True)
class Ready(Model):
    status: str
    running: int = 0


# -- processor API ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Observation:
    """One event to observe (used by `observe_sequence`)."""

    strings: list[str] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    emotives: dict[str, float] = field(default_factory=dict)
    unique_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "strings": list(self.strings),
            "vectors": [list(v) for v in self.vectors],
            "emotives": dict(self.emotives),
        }
        if self.unique_id is not None:
            body["unique_id"] = self.unique_id
        return body


@dataclass(frozen=True)
class ObserveResult(Model):
    processor_id: str
    time: int
    unique_id: str
    auto_learned_pattern: str | None = None
    status: str = "okay"


@dataclass(frozen=True)
class Prediction(Model):
    """One prediction object (spec §3: the 22 keys of upstream KATO)."""

    name: str
    type: str = "prototypical"
    frequency: int = 0
    emotives: dict[str, float] = field(default_factory=dict)
    matches: list[str] = field(default_factory=list)
    past: list[list[str]] = field(default_factory=list)
    present: list[list[str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    potential: float = 0.0
    evidence: float = 0.0
    similarity: float = 0.0
    fragmentation: float = 0.0
    snr: float = 0.0
    entropy: float = 0.0
    hamiltonian: float = 0.0
    grand_hamiltonian: float = 0.0
    confluence: float = 0.0
    sequence: list[list[str]] = field(default_factory=list)
    future: list[list[str]] = field(default_factory=list)
    confidence: float = 0.0
    itfdf_similarity: float = 0.0


@dataclass(frozen=True)
class PredictionsResult(Model):
    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"predictions": _list_of(Prediction)}
    predictions: list[Prediction]
    processor_id: str = ""


@dataclass(frozen=True)
class ObserveSequenceResult(Model):
    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {
        "individual_results": _list_of(ObserveResult),
        "final_predictions": _list_of(Prediction),
    }
    processor_id: str
    observations_processed: int
    patterns_learned: list[str] = field(default_factory=list)
    individual_results: list[ObserveResult] = field(default_factory=list)
    final_predictions: list[Prediction] | None = None
    status: str = "okay"


@dataclass(frozen=True)
class StmResult(Model):
    stm: list[list[str]]
    processor_id: str = ""


@dataclass(frozen=True)
class LearnResult(Model):
    """`pattern_name` is `""` when STM held fewer than 2 symbols (nothing learned)."""

    pattern_name: str
    processor_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class StatusMessage(Model):
    """The answer of clear-stm, clear-all, genes/update and PUT /state."""

    message: str
    processor_id: str = ""
    status: str = "okay"


@dataclass(frozen=True)
class ImportResult(Model):
    """The answer of a processor's `PUT /import`: what its memory now holds."""

    message: str
    processor_id: str
    patterns: int
    symbols: int
    status: str = "okay"


@dataclass(frozen=True)
class Pattern(Model):
    name: str
    pattern_data: list[list[str]]
    length: int
    frequency: int
    emotives: Any = None


@dataclass(frozen=True)
class PatternResult(Model):
    _convert: ClassVar[Mapping[str, Callable[[Any], Any]]] = {"pattern": Pattern.from_dict}
    pattern: Pattern
    processor_id: str = ""


@dataclass(frozen=True)
class GeneResult(Model):
    gene_name: str
    gene_value: Any
    processor_id: str = ""


@dataclass(frozen=True)
class PerceptData(Model):
    percept_data: dict[str, Any]
    processor_id: str = ""


@dataclass(frozen=True)
class CognitionData(Model):
    cognition_data: dict[str, Any]
    processor_id: str = ""


@dataclass(frozen=True)
class ProcessorStatus(Model):
    processor_id: str
    status: str = "okay"
    processor_name: str = ""
    uptime: float = 0.0
    stm_length: int = 0
    time: int = 0


@dataclass(frozen=True)
class Health(Model):
    status: str
    processor_id: str = ""
    uptime: float = 0.0


@dataclass(frozen=True)
class Metrics(Model):
    """The spec's JSON `/metrics` counters."""

    processor_id: str
    observations_processed: int
    patterns_learned: int
    stm_size: int
    uptime_seconds: float


@dataclass(frozen=True)
class Pong(Model):
    processor_id: str
    timestamp: float
